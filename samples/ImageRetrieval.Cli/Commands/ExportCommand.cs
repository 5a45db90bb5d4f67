using System.CommandLine;
using ImageRetrieval.ML.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training.Checkpoints;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Onnx;
using Spectre.Console;
using TorchSharp;

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
            var metadata = Export(network, info, path, parse.GetValue(opset));
            float? maxDiff = parse.GetValue(noVerify) ? null : Verify(network, path);
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new { model = Path.GetFullPath(path), bytes = new FileInfo(path).Length, max_abs_diff = maxDiff, metadata = metadata.ToDictionary() });
                return 0;
            }
            AnsiConsole.MarkupLineInterpolated($"Wrote [green]{path}[/] ({new FileInfo(path).Length / 1024.0:F0} KiB): {metadata.Architecture}, {metadata.InputChannels}x{metadata.InputHeight}x{metadata.InputWidth} → {metadata.EmbeddingDimension}-d {metadata.Metric}, trained on {metadata.TrainingDataset}.");
            if (maxDiff is not null)
            {
                AnsiConsole.MarkupLineInterpolated($"Parity on 64 test images: max |TorchSharp − ONNX Runtime| = {maxDiff:E2}.");
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Exports with the checkpoint's metric and dataset in the metadata.</summary>
    internal static EmbeddingModelMetadata Export(EmbeddingNetwork network, CheckpointInfo info, string path, int opset = OnnxExportOptions.MinimumOpset) =>
        OnnxExporter.Export(network, path, new OnnxExportOptions { Metric = info.Metric, TrainingDataset = info.TrainingDataset, Opset = opset });

    /// <summary>Max |diff| between TorchSharp (eval) and ONNX Runtime on 64 inputs: real Fashion-MNIST test images when the shapes fit, random pixels otherwise.</summary>
    internal static float Verify(EmbeddingNetwork network, string modelPath)
    {
        NetworkSpec spec = network.Spec;
        int count = 64, length = spec.Channels * spec.Height * spec.Width;
        var pixels = new float[count * length];
        if (spec.Channels == 1 && spec.Height == FashionMnist.ImageSide && spec.Width == FashionMnist.ImageSide && TryLoadFashion(count) is { } set)
        {
            for (int i = 0; i < pixels.Length; i++)
            {
                pixels[i] = set.Pixels[i];
            }
        }
        else
        {
            var random = new Random(1);
            for (int i = 0; i < pixels.Length; i++)
            {
                pixels[i] = random.Next(256);
            }
        }
        using var embedder = new ImageEmbedder(modelPath, new ImageEmbedderOptions { BatchSize = count, IntraOpNumThreads = 1 });
        var onnx = new float[count * embedder.Dimension];
        embedder.EmbedPixels(pixels, count, onnx);

        network.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        float[] reference = network.forward(torch.tensor(pixels, [count, spec.Channels, spec.Height, spec.Width])).data<float>().ToArray();
        float max = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            max = Math.Max(max, Math.Abs(reference[i] - onnx[i]));
        }
        return max;
    }

    private static LabeledImageSet? TryLoadFashion(int count)
    {
        try
        {
            return FashionMnist.Load(FashionMnist.Split.Test, maxItems: count);
        }
        catch (Exception e) when (e is DirectoryNotFoundException or InvalidDataException)
        {
            return null;
        }
    }
}
