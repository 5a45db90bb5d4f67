using ImageRetrieval.ML.Imaging;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;

namespace ImageRetrieval.ML.Embedding;

/// <summary>Input row of the encoded-bytes decoding step of <c>EmbedImages</c> (a working column; public because ML.NET's custom mapping requires it).</summary>
public sealed class EncodedImageInput
{
    /// <summary>Name of the working column that holds the encoded image.</summary>
    public const string ColumnName = "ImageRetrieval.EncodedImage";

    /// <summary>The encoded image (PNG, JPEG, ...).</summary>
    [ColumnName(ColumnName)]
    public byte[]? Encoded { get; set; }
}

/// <summary>Output row of the encoded-bytes decoding step of <c>EmbedImages</c>.</summary>
public sealed class DecodedImageOutput
{
    /// <summary>Name of the working column that holds the decoded image.</summary>
    public const string ColumnName = "ImageRetrieval.DecodedImage";

    /// <summary>The decoded image, as ML.NET's <c>LoadImages</c> would produce it from a file.</summary>
    /// <remarks>
    /// ML.NET's custom mapping needs a fixed image type size; the declared 1 × 1 is nominal: every image keeps its own
    /// size, and <c>ResizeImages</c>, the next step, reads the size from the image itself.
    /// </remarks>
    [ColumnName(ColumnName)]
    [ImageType(1, 1)]
    public MLImage? Image { get; set; }
}

/// <summary>
/// Decodes encoded image bytes into an <see cref="MLImage"/> inside an ML.NET pipeline (ML.NET's <c>LoadImages</c>
/// only takes paths). The declared size is checked against <see cref="ImageDecodeOptions.Defaults.MaxPixels"/>
/// before decoding. Registered for <c>mlContext.Model.Load</c>: call
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(ImageEmbedder).Assembly)</c> before loading a model that embeds bytes.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class EncodedImageDecodingFactory : CustomMappingFactory<EncodedImageInput, DecodedImageOutput>
{
    /// <summary>The custom-mapping contract name saved in models.</summary>
    public const string ContractName = "ImageRetrieval.DecodeEncodedImage";

    /// <inheritdoc />
    public override Action<EncodedImageInput, DecodedImageOutput> GetMapping() => Map;

    internal static void Map(EncodedImageInput input, DecodedImageOutput output)
    {
        byte[] bytes = input.Encoded ?? [];
        const string source = "<encoded image bytes>";
        if (bytes.Length == 0)
        {
            throw new ImageDecodeException(source, "it is empty (0 bytes)");
        }
        (int width, int height) = ImageDecoder.ReadSize(bytes, source);
        if ((long)width * height > ImageDecodeOptions.Defaults.MaxPixels)
        {
            throw new ImageDecodeException(source, $"it declares {width}x{height} pixels, more than the {ImageDecodeOptions.Defaults.MaxPixels}-pixel limit");
        }
        try
        {
            output.Image = MLImage.CreateFromStream(new MemoryStream(bytes, writable: false));
        }
        catch (ArgumentException e)
        {
            throw new ImageDecodeException(source, e.Message, e);
        }
    }
}
