using System.CommandLine;
using ImageRetrieval.Cli.Commands;
using ImageRetrieval.Cli.Output;

namespace ImageRetrieval.Cli;

/// <summary>The <c>imgret</c> application: every command, and one entry point that tests call in-process.</summary>
internal static class CliApp
{
    /// <summary>The root command with every sub-command (one file each in Commands/).</summary>
    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand(
            "imgret: content-based image retrieval with ImageRetrieval.\n" +
            "Train triplet-loss embedding networks, export them to ONNX, embed images through ML.NET and search them with HNSW.");
        foreach (Command command in CommandRegistry.All())
        {
            root.Subcommands.Add(command);
        }
        return root;
    }

    /// <summary>Runs <c>imgret</c> with <paramref name="args"/>, writing to <paramref name="output"/> and <paramref name="error"/> (the console when null).</summary>
    /// <returns>The exit code: 0 success, 1 a failure explained on one line, 2 bad arguments, 130 interrupted.</returns>
    public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
    {
        using var console = CliOutput.Use(output, error);
        return CreateRootCommand().Parse(args).Invoke(new InvocationConfiguration { Output = CliOutput.Out, Error = CliOutput.Error });
    }
}
