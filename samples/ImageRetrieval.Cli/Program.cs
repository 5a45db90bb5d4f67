using System.CommandLine;
using ImageRetrieval.Cli.Commands;

var root = new RootCommand(
    "imgret: content-based image retrieval with ImageRetrieval.\n" +
    "Train triplet-loss embedding networks, export them to ONNX, embed images through ML.NET and search them with HNSW.");

foreach (Command command in CommandRegistry.All())
{
    root.Subcommands.Add(command);
}

return root.Parse(args).Invoke();
