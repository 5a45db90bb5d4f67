using System.CommandLine;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret export</c>: a training checkpoint → an ONNX model for the search side, checked against ONNX Runtime.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Training checkpoint (from 'imgret train').", Required = true };
        var output = new Option<string>("--out") { Description = "ONNX model to write.", Required = true };
        var opset = new Option<int>("--opset") { Description = $"ONNX opset ({OnnxExportOptions.MinimumOpset}..{OnnxExportOptions.MaximumOpset}).", DefaultValueFactory = _ => OnnxExportOptions.MinimumOpset };
        var noVerify = new Option<bool>("--no-verify") { Description = "Skip the TorchSharp vs ONNX Runtime parity check." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var command = new Command("export", "Export a training checkpoint to ONNX (with imageretrieval.* metadata) and verify it against ONNX Runtime.")
        {
            checkpoint, output, opset, noVerify, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            string path = parse.GetValue(output)!;
            using EmbeddingNetwork network = CheckpointFile.Load(parse.GetValue(checkpoint)!, out CheckpointInfo info);
            var metadata = ModelExport.Export(network, info, path, parse.GetValue(opset));
            float? maxDiff = parse.GetValue(noVerify) ? null : ModelExport.Verify(network, path);
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new ExportJson(Path.GetFullPath(path), new FileInfo(path).Length, maxDiff, metadata.ToDictionary()), CliJsonContext.Default.ExportJson);
                return 0;
            }
            AnsiConsole.MarkupLineInterpolated($"Wrote [green]{path}[/] ({new FileInfo(path).Length / 1024.0:F0} KiB): {metadata.Architecture}, {metadata.InputChannels}x{metadata.InputHeight}x{metadata.InputWidth} → {metadata.EmbeddingDimension}-d {metadata.Metric}, trained on {metadata.TrainingDataset}.");
            if (maxDiff is not null)
            {
                AnsiConsole.MarkupLineInterpolated($"Parity on {ModelExport.ParityImages} test images: max |TorchSharp − ONNX Runtime| = {maxDiff:E2}.");
            }
            return 0;
        }));
        return command;
    }

    /// <summary><c>--json</c> of <c>imgret export</c>.</summary>
    internal sealed record ExportJson(string Model, long Bytes, float? MaxAbsDiff, IReadOnlyDictionary<string, string> Metadata);
}
