using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// Turns images into embedding vectors with an ImageRetrieval ONNX model, in batches: images are
/// decoded and resized in parallel (<see cref="ImageEmbedderOptions.DecodeParallelism"/> workers)
/// while ONNX Runtime scores the previous batch of <see cref="ImageEmbedderOptions.BatchSize"/>
/// images from a pre-allocated input tensor; outputs are written straight into the result array.
/// </summary>
/// <remarks>
/// <para>The pixels are exactly those of ML.NET's <c>LoadImages → ResizeImages → [ConvertToGrayscale] → ExtractPixels</c>
/// chain (see <see cref="ImageDecoder"/>), so the vectors equal those of <c>mlContext.Transforms.EmbedImages</c>
/// up to floating-point batching effects (≤ 1e-5).</para>
/// <para>Thread-safe: concurrent calls are serialised (one batch pipeline runs at a time). Dispose to free the ONNX Runtime session.</para>
/// </remarks>
public sealed class ImageEmbedder : IDisposable
{
    private readonly EmbeddingModel _model;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly ImageDecodeOptions _decode;
    private readonly float _scale;
    private readonly float[][] _inputs;
    private readonly OrtValue[] _inputValues;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>Opens the model and prepares the ONNX Runtime session.</summary>
    /// <param name="modelPath">An ONNX model carrying <c>imageretrieval.*</c> metadata.</param>
    /// <param name="options">Batching, threading, device and error settings; defaults when null.</param>
    /// <param name="logger">Receives warnings (a requested GPU that is unavailable); none when null.</param>
    /// <exception cref="FileNotFoundException">The model file does not exist.</exception>
    /// <exception cref="InvalidDataException">The model is not a loadable ONNX file, lacks metadata, or its shapes disagree with the metadata or the options.</exception>
    /// <exception cref="InvalidOperationException">A GPU was requested, is unavailable, and <see cref="ImageEmbedderOptions.FallbackToCpu"/> is false.</exception>
    public ImageEmbedder(string modelPath, ImageEmbedderOptions? options = null, ILogger? logger = null)
    {
        Options = options ?? new ImageEmbedderOptions();
        Options.Validate();
        using (SessionOptions sessionOptions = ExecutionProviders.CreateSessionOptions(
                   Options.GpuDeviceId, Options.FallbackToCpu, Options.IntraOpNumThreads, Options.InterOpNumThreads, logger, out ExecutionProviderInfo provider))
        {
            ExecutionProvider = provider;
            _model = EmbeddingModel.Open(modelPath, sessionOptions, Options.ImageWidth, Options.ImageHeight, Options.ImageChannels, out _session);
        }
        try
        {
            int leading = _session.InputMetadata[_model.Metadata.InputName].Dimensions[0];
            if (leading > 1)
            {
                throw new InvalidDataException($"Model '{modelPath}' has a fixed batch dimension of {leading}; expected a dynamic batch dimension (or 1).");
            }
            BatchSize = leading == 1 ? 1 : Options.BatchSize;
            _decode = _model.DecodeOptions(Options.ResizeMode, Options.MaxPixels, Options.MaxEncodedBytes);
            _scale = _model.Metadata.PixelScale;
            _inputNames = [_model.Metadata.InputName];
            _outputNames = [_model.Metadata.OutputName];
            long[] shape = [BatchSize, _model.Channels, _model.Height, _model.Width];
            _inputs = [new float[BatchSize * _model.ImageLength], new float[BatchSize * _model.ImageLength]];
            _inputValues = [OrtValue.CreateTensorValueFromMemory(_inputs[0], shape), OrtValue.CreateTensorValueFromMemory(_inputs[1], shape)];
        }
        catch
        {
            _session.Dispose();
            _runOptions.Dispose();
            throw;
        }
    }

    /// <summary>The settings in use.</summary>
    public ImageEmbedderOptions Options { get; }

    /// <summary>The model's metadata (input geometry, pixel scale, dimension, metric).</summary>
    public EmbeddingModelMetadata Metadata => _model.Metadata;

    /// <summary>Length of each embedding vector.</summary>
    public int Dimension => _model.Dimension;

    /// <summary>Images per ONNX Runtime call (1 if the model's batch dimension is fixed to 1).</summary>
    public int BatchSize { get; }

    /// <summary>Planar floats per image: <c>C × H × W</c>, the layout <see cref="EmbedPixels(ReadOnlySpan{float}, int, Span{float})"/> takes.</summary>
    public int ImageLength => _model.ImageLength;

    /// <summary>The decoder settings derived from the model (size, channels, resize mode, limits).</summary>
    public ImageDecodeOptions DecodeOptions => _decode;

    /// <summary>The execution provider that runs the model, and why the GPU was not used if it was requested.</summary>
    public ExecutionProviderInfo ExecutionProvider { get; }

    /// <summary>Embeds one image file.</summary>
    /// <exception cref="ImageDecodeException">The file is missing or not a usable image (whatever <see cref="ImageEmbedderOptions.OnError"/> says).</exception>
    public float[] Embed(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return EmbedOne((span) => ImageDecoder.DecodeFile(path, _decode, span, _scale));
    }

    /// <summary>Embeds one encoded image held in memory.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public float[] Embed(byte[] encoded, string source = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(encoded);
        return EmbedOne((span) => ImageDecoder.Decode(encoded, _decode, span, _scale, source));
    }

    /// <summary>Embeds one encoded image read from a stream (read to its end, not disposed).</summary>
    /// <exception cref="ImageDecodeException">The stream does not hold a usable image.</exception>
    public float[] Embed(Stream encoded, string source = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(encoded);
        return EmbedOne((span) => DecodeStream(encoded, span, source));
    }

    /// <summary>Embeds image files in parallel batches.</summary>
    /// <param name="paths">The files.</param>
    /// <param name="progress">Reported after each batch.</param>
    /// <param name="cancellationToken">Stops between images.</param>
    /// <exception cref="ImageDecodeException">Under <see cref="ImageErrorPolicy.Throw"/>: the first (lowest-index) bad image of the first failing batch.</exception>
    public ImageEmbeddingResult EmbedFiles(IReadOnlyList<string> paths, IProgress<ImageEmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return Run(paths.Count, i => paths[i], (i, span) => ImageDecoder.DecodeFile(paths[i], _decode, span, _scale), progress, cancellationToken);
    }

    /// <summary>Embeds encoded images held in memory, in parallel batches.</summary>
    /// <param name="images">Encoded images (PNG, JPEG, ...).</param>
    /// <param name="names">Names used in errors (e.g. upload ids); <c>"#index"</c> when null.</param>
    /// <param name="progress">Reported after each batch.</param>
    /// <param name="cancellationToken">Stops between images.</param>
    public ImageEmbeddingResult EmbedImages(IReadOnlyList<ReadOnlyMemory<byte>> images, IReadOnlyList<string>? names = null, IProgress<ImageEmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckNames(names, images.Count);
        return Run(images.Count, i => NameOf(names, i), (i, span) => ImageDecoder.Decode(images[i].Span, _decode, span, _scale, NameOf(names, i)), progress, cancellationToken);
    }

    /// <summary>Embeds images read from streams (each read to its end by one decode worker; not disposed), in parallel batches.</summary>
    /// <param name="streams">One readable stream per image; distinct streams, since they are read concurrently.</param>
    /// <param name="names">Names used in errors; <c>"#index"</c> when null.</param>
    /// <param name="progress">Reported after each batch.</param>
    /// <param name="cancellationToken">Stops between images.</param>
    public ImageEmbeddingResult EmbedStreams(IReadOnlyList<Stream> streams, IReadOnlyList<string>? names = null, IProgress<ImageEmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(streams);
        CheckNames(names, streams.Count);
        return Run(streams.Count, i => NameOf(names, i), (i, span) => DecodeStream(streams[i], span, NameOf(names, i)), progress, cancellationToken);
    }

    /// <summary>
    /// Embeds images that are already decoded: planar floats, <see cref="ImageLength"/> per image, already
    /// multiplied by the model's pixel scale (what <c>ExtractPixels</c> produces).
    /// </summary>
    /// <param name="planar"><paramref name="count"/> × <see cref="ImageLength"/> values.</param>
    /// <param name="count">Number of images.</param>
    /// <param name="destination"><paramref name="count"/> × <see cref="Dimension"/> values, row after row.</param>
    public void EmbedPixels(ReadOnlySpan<float> planar, int count, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int length = ImageLength;
        if (planar.Length < (long)count * length)
        {
            throw new ArgumentException($"{count} images need {(long)count * length} values; got {planar.Length}.", nameof(planar));
        }
        if (destination.Length < (long)count * Dimension)
        {
            throw new ArgumentException($"{count} embeddings need {(long)count * Dimension} values; got {destination.Length}.", nameof(destination));
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (int start = 0; start < count; start += BatchSize)
            {
                int n = Math.Min(BatchSize, count - start);
                planar.Slice(start * length, n * length).CopyTo(_inputs[0]);
                var output = new float[n * Dimension];
                Score(0, n, output, 0);
                output.CopyTo(destination.Slice(start * Dimension, n * Dimension));
            }
        }
    }

    /// <summary>
    /// Embeds images that are already decoded to the model's geometry: planar 0–255 bytes, <see cref="ImageLength"/>
    /// per image (e.g. a labelled image set in memory). Each byte is multiplied by the model's pixel scale, as
    /// <c>ExtractPixels</c> does; no decoding or resizing happens.
    /// </summary>
    /// <param name="planar"><paramref name="count"/> × <see cref="ImageLength"/> bytes.</param>
    /// <param name="count">Number of images.</param>
    /// <param name="progress">Reported after each batch.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <returns><paramref name="count"/> × <see cref="Dimension"/> values, row after row.</returns>
    /// <exception cref="ArgumentException"><paramref name="planar"/> holds fewer than <paramref name="count"/> images.</exception>
    public float[] EmbedPixels(ReadOnlySpan<byte> planar, int count, IProgress<ImageEmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        int length = ImageLength;
        if (planar.Length < (long)count * length)
        {
            throw new ArgumentException($"{count} images of {_model.Channels}x{_model.Height}x{_model.Width} need {(long)count * length} bytes; got {planar.Length}.", nameof(planar));
        }
        var result = new float[(long)count * Dimension];
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (int start = 0; start < count; start += BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int n = Math.Min(BatchSize, count - start);
                ReadOnlySpan<byte> pixels = planar.Slice(start * length, n * length);
                float[] input = _inputs[0];
                for (int i = 0; i < pixels.Length; i++)
                {
                    input[i] = pixels[i] * _scale;
                }
                Score(0, n, result, start);
                progress?.Report(new ImageEmbeddingProgress(start + n, count, 0));
            }
        }
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (OrtValue value in _inputValues)
            {
                value.Dispose();
            }
            _session.Dispose();
            _runOptions.Dispose();
        }
    }

    /// <summary>Decodes one item into planar floats; any failure must be an <see cref="ImageDecodeException"/>.</summary>
    internal delegate void DecodeItem(int index, Span<float> destination);

    private delegate void DecodeOne(Span<float> destination);

    private float[] EmbedOne(DecodeOne decode)
    {
        var vector = new float[Dimension];
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            decode(_inputs[0].AsSpan(0, ImageLength));
            Score(0, 1, vector, 0);
        }
        return vector;
    }

    /// <summary>
    /// The batch pipeline: batch b+1 is decoded (in parallel) while batch b is scored. Decode failures
    /// are collected per item; under <see cref="ImageErrorPolicy.Throw"/> the lowest-index one is thrown.
    /// </summary>
    internal ImageEmbeddingResult Run(int count, Func<int, string> nameOf, DecodeItem decode, IProgress<ImageEmbeddingProgress>? progress, CancellationToken cancellationToken)
    {
        var vectors = new float[(long)count * Dimension];
        var failures = new ImageDecodeException?[count];
        var errors = new List<ImageEmbeddingError>();
        if (count == 0)
        {
            return new ImageEmbeddingResult(vectors, 0, Dimension, [], errors);
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int batches = (count + BatchSize - 1) / BatchSize;
            DecodeBatch(0, 0, count, decode, nameOf, failures, cancellationToken);
            for (int b = 0; b < batches; b++)
            {
                int start = b * BatchSize;
                int n = Math.Min(BatchSize, count - start);
                ThrowOrCollect(start, n, nameOf, failures, errors);
                Task? next = null;
                if (b + 1 < batches)
                {
                    int nextBatch = b + 1;
                    next = Task.Run(() => DecodeBatch(nextBatch, nextBatch % 2, count, decode, nameOf, failures, cancellationToken), cancellationToken);
                }
                try
                {
                    Score(b % 2, n, vectors, start);
                }
                finally
                {
                    // Never leave a decode task writing into a buffer after an exception.
                    try
                    {
                        next?.Wait(CancellationToken.None);
                    }
                    catch (AggregateException) when (next is not null)
                    {
                    }
                }
                if (next is { IsFaulted: true })
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(next.Exception!.InnerException ?? next.Exception).Throw();
                }
                cancellationToken.ThrowIfCancellationRequested();
                // Failed images were zero-filled before scoring; clear their vectors.
                for (int i = start; i < start + n; i++)
                {
                    if (failures[i] is not null)
                    {
                        vectors.AsSpan(i * Dimension, Dimension).Clear();
                    }
                }
                progress?.Report(new ImageEmbeddingProgress(start + n, count, errors.Count));
            }
        }
        var failed = new bool[count];
        foreach (var error in errors)
        {
            failed[error.Index] = true;
        }
        return new ImageEmbeddingResult(vectors, count, Dimension, failed, errors);
    }

    private void ThrowOrCollect(int start, int n, Func<int, string> nameOf, ImageDecodeException?[] failures, List<ImageEmbeddingError> errors)
    {
        for (int i = start; i < start + n; i++)
        {
            if (failures[i] is ImageDecodeException e)
            {
                if (Options.OnError == ImageErrorPolicy.Throw)
                {
                    throw e;
                }
                errors.Add(new ImageEmbeddingError(i, nameOf(i), e.Reason, e));
            }
        }
    }

    private void DecodeBatch(int batch, int buffer, int count, DecodeItem decode, Func<int, string> nameOf, ImageDecodeException?[] failures, CancellationToken cancellationToken)
    {
        int start = batch * BatchSize;
        int n = Math.Min(BatchSize, count - start);
        int length = ImageLength;
        float[] input = _inputs[buffer];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Options.DecodeParallelism, CancellationToken = cancellationToken };
        if (Options.DecodeParallelism == 1 || n == 1)
        {
            for (int i = 0; i < n; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                DecodeSafely(start + i, input.AsSpan(i * length, length));
            }
        }
        else
        {
            Parallel.For(0, n, parallel, i => DecodeSafely(start + i, input.AsSpan(i * length, length)));
        }

        void DecodeSafely(int index, Span<float> destination)
        {
            try
            {
                decode(index, destination);
            }
            catch (ImageDecodeException e)
            {
                failures[index] = e;
                destination.Clear();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ObjectDisposedException or InvalidDataException or ArgumentException)
            {
                failures[index] = new ImageDecodeException(nameOf(index), e.Message, e);
                destination.Clear();
            }
        }
    }

    private void DecodeStream(Stream stream, Span<float> destination, string source)
    {
        try
        {
            ImageDecoder.Decode(stream, _decode, destination, _scale, source);
        }
        catch (Exception e) when (e is IOException or NotSupportedException or ObjectDisposedException && e is not ImageDecodeException)
        {
            throw new ImageDecodeException(source, $"the stream cannot be read ({e.Message})", e);
        }
    }

    /// <summary>Scores <paramref name="n"/> images from input buffer <paramref name="buffer"/> into <paramref name="destination"/> at row <paramref name="row"/>.</summary>
    private void Score(int buffer, int n, float[] destination, long row)
    {
        int d = Dimension;
        OrtValue? partialInput = null;
        try
        {
            OrtValue input = _inputValues[buffer];
            if (n != BatchSize)
            {
                partialInput = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                    _inputs[buffer].AsMemory(0, n * ImageLength), [n, _model.Channels, _model.Height, _model.Width]);
                input = partialInput;
            }
            using OrtValue output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance,
                destination.AsMemory(checked((int)(row * d)), n * d), [n, d]);
            _session.Run(_runOptions, _inputNames, [input], _outputNames, [output]);
        }
        finally
        {
            partialInput?.Dispose();
        }
    }

    private static string NameOf(IReadOnlyList<string>? names, int index) =>
        names is null ? "#" + index.ToString(System.Globalization.CultureInfo.InvariantCulture) : names[index];

    private static void CheckNames(IReadOnlyList<string>? names, int count)
    {
        if (names is not null && names.Count != count)
        {
            throw new ArgumentException($"{names.Count} names for {count} images.", nameof(names));
        }
    }
}
