using System.CommandLine;

namespace ImageRetrieval.Cli.Commands;

/// <summary>Every <c>imgret</c> sub-command, one file each in this folder.</summary>
internal static class CommandRegistry
{
    public static IEnumerable<Command> All()
    {
        yield return ExportVectorsCommand.Create();
        yield return BenchEmbedCommand.Create();
    }
}
