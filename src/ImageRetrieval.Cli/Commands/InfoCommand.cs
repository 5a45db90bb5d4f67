using System.Text.Json.Serialization;
using System.CommandLine;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.ML.Search;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret info</c>: what a saved index holds.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var index = new Argument<string>("index") { Description = "Index directory." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("info", "Show a saved index's item count, model, metric, dimension, parameters and size on disk.") { index, json };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            ImageSearchIndexInfo info = ImageSearchIndex.ReadInfo(parse.GetValue(index)!);
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new InfoJson(info.Count, info.Dimension, info.Metric, info.M, info.EfConstruction, info.ModelFileName, info.ModelPath,
                    info.ModelSha256, info.ModelMetadata, info.GalleryRoot, info.Version, info.FormatVersion, info.SavedUtc, info.SizeOnDiskBytes),
                    CliJsonContext.Default.InfoJson);
                return 0;
            }
            var table = new Table().AddColumn("property").AddColumn("value");
            table.AddRow("images", info.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            table.AddRow("model", Markup.Escape($"{info.ModelFileName} (SHA-256 {info.ModelSha256[..16]}…)"));
            table.AddRow("architecture", Markup.Escape(info.ModelMetadata.GetValueOrDefault("imageretrieval.architecture", "?")));
            table.AddRow("metric / dimension", Markup.Escape($"{info.Metric} / {info.Dimension}"));
            table.AddRow("HNSW", Markup.Escape($"M = {info.M}, efConstruction = {info.EfConstruction}"));
            table.AddRow("gallery root", Markup.Escape(info.GalleryRoot ?? "?"));
            table.AddRow("version", Markup.Escape($"{info.Version} (format {info.FormatVersion}, saved {info.SavedUtc:u})"));
            table.AddRow("size on disk", Markup.Escape($"{info.SizeOnDiskBytes / 1024.0 / 1024.0:F2} MiB"));
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    /// <summary><c>--json</c> of <c>imgret info</c>.</summary>
    internal sealed record InfoJson(int Count, int Dimension, string Metric, int M, int EfConstruction, string? Model, string? ModelPath,
        [property: JsonPropertyName("model_sha256")] string ModelSha256, IReadOnlyDictionary<string, string> ModelMetadata, string? GalleryRoot,
        string Version, int FormatVersion, DateTime SavedUtc, long SizeOnDiskBytes);
}
