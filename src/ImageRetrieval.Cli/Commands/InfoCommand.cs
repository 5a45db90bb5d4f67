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
                CliOutput.WriteJson(new
                {
                    count = info.Count,
                    dimension = info.Dimension,
                    metric = info.Metric,
                    m = info.M,
                    ef_construction = info.EfConstruction,
                    model = info.ModelFileName,
                    model_path = info.ModelPath,
                    model_sha256 = info.ModelSha256,
                    model_metadata = info.ModelMetadata,
                    gallery_root = info.GalleryRoot,
                    version = info.Version,
                    format_version = info.FormatVersion,
                    saved_utc = info.SavedUtc,
                    size_on_disk_bytes = info.SizeOnDiskBytes,
                });
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
}
