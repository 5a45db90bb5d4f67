using System.CommandLine;

namespace ImageRetrieval.Cli.Commands;

/// <summary>Every <c>imgret</c> sub-command, one file each in this folder.</summary>
internal static class CommandRegistry
{
    public static IEnumerable<Command> All()
    {
        yield return DemoCommand.Create();
        yield return IndexCommand.Create();
        yield return SearchCommand.Create();
        yield return InfoCommand.Create();
        yield return ModelInfoCommand.Create();
        yield return ExportVectorsCommand.Create();
        yield return ExportImagesCommand.Create();
        yield return AnnBenchCommand.Create();
        yield return MatInfoCommand.Create();
        yield return TrainCommand.Create();
        yield return EvalCommand.Create();
        yield return ExportCommand.Create();
        yield return BenchEmbedCommand.Create();
        yield return SoakCommand.Create();
    }
}
