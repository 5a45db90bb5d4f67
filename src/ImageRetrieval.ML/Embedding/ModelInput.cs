using System.Buffers;
using System.Numerics.Tensors;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// Turns images into one image's worth of the model's input tensor: <see cref="ImageDecoder"/> decodes and fits them to
/// planar 0–255 bytes (R, G, B or grey), then each value becomes <c>pixel × scale / std − mean / std</c>, written in the
/// model's channel order and layout. For a model with <c>imageretrieval.*</c> metadata (no mean, std 1, R, G, B, NCHW)
/// that is exactly <c>pixel × pixel_scale</c>, the values ML.NET's <c>ExtractPixels</c> produces.
/// </summary>
internal sealed class ModelInput
{
    private readonly EmbeddingModel _model;
    private readonly int[] _planeOf;

    public ModelInput(EmbeddingModel model, ImageDecodeOptions decode)
    {
        _model = model;
        Decode = decode;
        // Model channel k reads decoded plane _planeOf[k] (decoded planes are R, G, B, or one grey plane).
        _planeOf = model.Channels == 1 ? [0] : model.Description.ChannelOrder == ChannelOrder.Bgr ? [2, 1, 0] : [0, 1, 2];
    }

    public ImageDecodeOptions Decode { get; }

    public int Length => _model.ImageLength;

    public void FromFile(string path, Span<float> destination)
    {
        byte[] planes = Rent();
        try
        {
            ImageDecoder.DecodeFile(path, Decode, planes.AsSpan(0, Length));
            Encode(planes.AsSpan(0, Length), destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(planes);
        }
    }

    public void FromBytes(ReadOnlySpan<byte> encoded, Span<float> destination, string source)
    {
        byte[] planes = Rent();
        try
        {
            ImageDecoder.Decode(encoded, Decode, planes.AsSpan(0, Length), source);
            Encode(planes.AsSpan(0, Length), destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(planes);
        }
    }

    /// <summary>Writes one image's input values from its decoded planes (<c>C × H × W</c> bytes).</summary>
    public void Encode(ReadOnlySpan<byte> planes, Span<float> destination)
    {
        int plane = _model.Height * _model.Width;
        int channels = _model.Channels;
        if (destination.Length < Length || planes.Length < Length)
        {
            throw new ArgumentException($"One image needs {Length} values; got {planes.Length} pixels and room for {destination.Length}.");
        }
        float[] a = _model.Multiplier, b = _model.Offset;
        if (_model.Layout == TensorLayout.Nchw)
        {
            for (int k = 0; k < channels; k++)
            {
                Span<float> target = destination.Slice(k * plane, plane);
                TensorPrimitives.ConvertChecked<byte, float>(planes.Slice(_planeOf[k] * plane, plane), target);
                if (a[k] != 1f)
                {
                    TensorPrimitives.Multiply(target, a[k], target);
                }
                if (b[k] != 0f)
                {
                    TensorPrimitives.Add(target, b[k], target);
                }
            }
            return;
        }
        for (int k = 0; k < channels; k++)
        {
            ReadOnlySpan<byte> source = planes.Slice(_planeOf[k] * plane, plane);
            float ak = a[k], bk = b[k];
            for (int i = 0; i < plane; i++)
            {
                destination[(i * channels) + k] = (source[i] * ak) + bk;
            }
        }
    }

    private byte[] Rent() => ArrayPool<byte>.Shared.Rent(Length);
}
