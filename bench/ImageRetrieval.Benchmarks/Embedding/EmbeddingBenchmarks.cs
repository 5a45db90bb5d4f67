using BenchmarkDotNet.Attributes;
using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;
using SkiaSharp;

namespace ImageRetrieval.Benchmarks.Embedding;

/// <summary>
/// Embedding throughput on Fashion-MNIST test images written as PNG files (and the same bytes in memory), with the
/// conv stand-in model: plain ML.NET chain (row by row), batched embedder, ONNX Runtime compute alone
/// (pre-decoded tensors), decode + resize alone. One operation = <see cref="Images"/> images.
/// Threads: ORT intra-op 1, inter-op 1, decode workers = <see cref="ImageEmbedderOptions.Defaults.DecodeParallelism"/>.
/// </summary>
[MemoryDiagnoser]
public class EmbeddingBenchmarks
{
    private string _folder = "";
    private string _model = "";
    private string[] _files = [];
    private ReadOnlyMemory<byte>[] _encoded = [];
    private float[] _pixels = [];
    private float[] _vectors = [];
    private ImageEmbedder? _embedder;
    private MLContext _ml = new(1);
    private IDataView? _rows;
    private TransformerChain<ITransformer>? _chain;

    /// <summary>Images per operation.</summary>
    [Params(1000)]
    public int Images { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "imgret-bench-embed-" + Environment.ProcessId);
        Directory.CreateDirectory(_folder);
        _model = Path.Combine(_folder, "convnet-standin.onnx");
        StandInModel.Write(_model);
        LabeledImageSet set = FashionMnist.Load(FashionMnist.Split.Test, maxItems: Images);
        _files = new string[set.Count];
        for (int i = 0; i < set.Count; i++)
        {
            using var bitmap = new SKBitmap(new SKImageInfo(28, 28, SKColorType.Gray8, SKAlphaType.Opaque));
            byte[] image = set.GetImage(i).ToArray();
            for (int y = 0; y < set.Height; y++)
            {
                System.Runtime.InteropServices.Marshal.Copy(image, y * set.Width, bitmap.GetPixels() + (y * bitmap.RowBytes), set.Width);
            }
            using SKData png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            _files[i] = Path.Combine(_folder, $"{i:D5}.png");
            File.WriteAllBytes(_files[i], png.ToArray());
        }
        _encoded = _files.Select(f => (ReadOnlyMemory<byte>)File.ReadAllBytes(f)).ToArray();
        _embedder = new ImageEmbedder(_model);
        _pixels = new float[_files.Length * _embedder.ImageLength];
        for (int i = 0; i < _files.Length; i++)
        {
            ImageDecoder.DecodeFile(_files[i], _embedder.DecodeOptions, _pixels.AsSpan(i * _embedder.ImageLength, _embedder.ImageLength), _embedder.Metadata.PixelScale);
        }
        _vectors = new float[_files.Length * _embedder.Dimension];
        _rows = _ml.Data.LoadFromEnumerable(_files.Select(f => new PathRow { ImagePath = f }));
        _chain = (TransformerChain<ITransformer>)_ml.Transforms.EmbedImages("Embedding", _model, inputColumnName: nameof(PathRow.ImagePath)).Fit(_rows);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _embedder?.Dispose();
        _chain?.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "plain ML.NET chain")]
    public float MLNetChain()
    {
        IDataView output = _chain!.Transform(_rows!);
        using DataViewRowCursor cursor = output.GetRowCursor([output.Schema["Embedding"]]);
        var get = cursor.GetGetter<VBuffer<float>>(output.Schema["Embedding"]);
        VBuffer<float> value = default;
        float sum = 0;
        while (cursor.MoveNext())
        {
            get(ref value);
            sum += value.GetValues()[0];
        }
        return sum;
    }

    [Benchmark(Description = "batched, files")]
    public float BatchedFiles() => _embedder!.EmbedFiles(_files).Vectors[0];

    [Benchmark(Description = "batched, in-memory bytes")]
    public float BatchedMemory() => _embedder!.EmbedImages(_encoded).Vectors[0];

    [Benchmark(Description = "ORT compute only")]
    public float ComputeOnly()
    {
        _embedder!.EmbedPixels(_pixels, _files.Length, _vectors);
        return _vectors[0];
    }

    [Benchmark(Description = "decode + resize only")]
    public float DecodeOnly()
    {
        int length = _embedder!.ImageLength;
        int batch = _embedder.BatchSize;
        var buffer = new float[batch * length];
        for (int start = 0; start < _files.Length; start += batch)
        {
            int n = Math.Min(batch, _files.Length - start);
            int first = start;
            Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = _embedder.Options.DecodeParallelism },
                i => ImageDecoder.DecodeFile(_files[first + i], _embedder.DecodeOptions, buffer.AsSpan(i * length, length), _embedder.Metadata.PixelScale));
        }
        return buffer[0];
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
