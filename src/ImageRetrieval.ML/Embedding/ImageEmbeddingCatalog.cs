using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Models;

// Catalog extensions live in ML.NET's namespace so they appear on mlContext.Transforms.
namespace Microsoft.ML;

/// <summary>Image-embedding transforms of ImageRetrieval on <c>mlContext.Transforms</c>.</summary>
public static class ImageEmbeddingCatalog
{
    /// <summary>
    /// Embeds images with an ImageRetrieval ONNX model through ML.NET's transforms
    /// (<c>LoadImages → ResizeImages → [ConvertToGrayscale] → ExtractPixels → ApplyOnnxModel</c>), configured from the
    /// model's metadata. The output column is a known-size float vector (the model's embedding dimension).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The embedding column.</param>
    /// <param name="modelPath">An ONNX model carrying <c>imageretrieval.*</c> metadata, or an encoder with a <c>model.onnx.json</c> description beside it.</param>
    /// <param name="imageFolder">Folder that relative paths are resolved against.</param>
    /// <param name="inputColumnName">Image paths (String), encoded images (Vector&lt;Byte&gt;) or MLImage values; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="gpuDeviceId">CUDA device, or null for the CPU.</param>
    /// <param name="fallbackToCpu">Run on the CPU when the GPU cannot be used (a warning to <see cref="ImageEmbeddingOptions.Logger"/> when set) instead of failing at Fit.</param>
    /// <exception cref="FileNotFoundException">The model file does not exist.</exception>
    /// <exception cref="InvalidDataException">The model is not a valid ImageRetrieval ONNX model.</exception>
    public static ImageEmbeddingEstimator EmbedImages(this TransformsCatalog catalog, string outputColumnName, string modelPath,
        string? imageFolder = null, string? inputColumnName = null, int? gpuDeviceId = null, bool fallbackToCpu = ImageEmbedderOptions.Defaults.FallbackToCpu)
        => new(catalog, new ImageEmbeddingOptions
        {
            OutputColumnName = outputColumnName,
            ModelPath = modelPath,
            ImageFolder = imageFolder,
            InputColumnName = inputColumnName,
            GpuDeviceId = gpuDeviceId,
            FallbackToCpu = fallbackToCpu,
        });

    /// <summary>
    /// Embeds images with a pretrained model (e.g. <see cref="PretrainedModels.ImageNetResNet18"/>, built on first use)
    /// through ML.NET's transforms, as <see cref="EmbedImages(TransformsCatalog, string, string, string?, string?, int?, bool)"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The embedding column.</param>
    /// <param name="model">The pretrained model.</param>
    /// <param name="imageFolder">Folder that relative paths are resolved against.</param>
    /// <param name="inputColumnName">Image paths (String), encoded images (Vector&lt;Byte&gt;) or MLImage values; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="gpuDeviceId">CUDA device, or null for the CPU.</param>
    /// <param name="fallbackToCpu">Run on the CPU when the GPU cannot be used instead of failing at Fit.</param>
    /// <exception cref="FileNotFoundException">The files the model is built from cannot be found.</exception>
    public static ImageEmbeddingEstimator EmbedImages(this TransformsCatalog catalog, string outputColumnName, PretrainedModel model,
        string? imageFolder = null, string? inputColumnName = null, int? gpuDeviceId = null, bool fallbackToCpu = ImageEmbedderOptions.Defaults.FallbackToCpu)
    {
        ArgumentNullException.ThrowIfNull(model);
        return catalog.EmbedImages(outputColumnName, model.GetModelPath(), imageFolder, inputColumnName, gpuDeviceId, fallbackToCpu);
    }

    /// <summary>Embeds images through ML.NET's transforms, with every setting in <paramref name="options"/>.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Columns, model, device and resize settings (the batch settings are ignored).</param>
    public static ImageEmbeddingEstimator EmbedImages(this TransformsCatalog catalog, ImageEmbeddingOptions options)
        => new(catalog, options);

    /// <summary>
    /// Embeds images in batches (parallel decode, one ONNX Runtime call per <paramref name="batchSize"/> rows):
    /// the same vectors as <see cref="EmbedImages(TransformsCatalog, string, string, string?, string?, int?, bool)"/>,
    /// several times faster, with capped decoding and an error policy. Inputs: image paths (String) or encoded images (Vector&lt;Byte&gt;).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The embedding column.</param>
    /// <param name="modelPath">An ONNX model carrying <c>imageretrieval.*</c> metadata, or an encoder with a <c>model.onnx.json</c> description beside it.</param>
    /// <param name="imageFolder">Folder that relative paths are resolved against.</param>
    /// <param name="inputColumnName">Image paths or encoded images; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="batchSize">Rows per ONNX Runtime call.</param>
    /// <param name="onError">Throw on a bad image, or drop its row and report it.</param>
    /// <param name="gpuDeviceId">CUDA device, or null for the CPU.</param>
    /// <param name="fallbackToCpu">Run on the CPU when the GPU cannot be used (a warning to <see cref="ImageEmbeddingOptions.Logger"/> when set) instead of failing at Fit.</param>
    public static BatchedImageEmbeddingEstimator EmbedImagesBatched(this TransformsCatalog catalog, string outputColumnName, string modelPath,
        string? imageFolder = null, string? inputColumnName = null, int batchSize = ImageEmbedderOptions.Defaults.BatchSize,
        ImageErrorPolicy onError = ImageErrorPolicy.Throw, int? gpuDeviceId = null, bool fallbackToCpu = ImageEmbedderOptions.Defaults.FallbackToCpu)
        => new(catalog, new ImageEmbeddingOptions
        {
            OutputColumnName = outputColumnName,
            ModelPath = modelPath,
            ImageFolder = imageFolder,
            InputColumnName = inputColumnName,
            BatchSize = batchSize,
            OnError = onError,
            GpuDeviceId = gpuDeviceId,
            FallbackToCpu = fallbackToCpu,
        });

    /// <summary>Embeds images in batches, with every setting in <paramref name="options"/>.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="options">Columns, model, device, batch, threading and error settings.</param>
    public static BatchedImageEmbeddingEstimator EmbedImagesBatched(this TransformsCatalog catalog, ImageEmbeddingOptions options)
        => new(catalog, options);
}
