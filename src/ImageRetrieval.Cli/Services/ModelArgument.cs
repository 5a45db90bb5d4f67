using ImageRetrieval.ML.Models;

namespace ImageRetrieval.Cli.Services;

/// <summary>
/// The <c>--model</c> argument of the commands that embed with ONNX Runtime (index, search, eval, demo, bench-embed,
/// model-info): a path to an <c>.onnx</c> file, or the name of a pretrained model (<c>imagenet-resnet18</c>), built on
/// first use into the model cache.
/// </summary>
internal static class ModelArgument
{
    /// <summary>Help text for the option.</summary>
    public static string Description(string what) =>
        $"{what}: an ONNX file (with imageretrieval.* metadata, or any image encoder with a MODEL.onnx.json description), or a pretrained model name: {string.Join(", ", PretrainedModels.All.Select(m => m.Name))}.";

    /// <summary>The model file <paramref name="nameOrPath"/> stands for (see <see cref="PretrainedModels.ResolvePath"/>).</summary>
    /// <exception cref="FileNotFoundException">Neither a file nor a pretrained model name.</exception>
    public static string Resolve(string nameOrPath) => PretrainedModels.ResolvePath(nameOrPath);

    /// <summary>A short name for messages: the pretrained model's name, else the file name.</summary>
    public static string DisplayName(string nameOrPath) =>
        PretrainedModels.Find(nameOrPath) is { } model && !File.Exists(nameOrPath) ? model.Name : Path.GetFileName(nameOrPath);
}
