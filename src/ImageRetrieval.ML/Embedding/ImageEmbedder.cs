using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using ImageRetrieval.ML.Threading;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// Turns images into embedding vectors with an ONNX image encoder, in batches: images are
/// decoded and resized in parallel (<see cref="ImageEmbedderOptions.DecodeParallelism"/> workers)
/// while ONNX Runtime scores the previous batch of <see cref="ImageEmbedderOptions.BatchSize"/>
/// images from a pre-allocated input tensor; outputs are written straight into the result array.
/// </summary>
/// <remarks>
/// <para>The model is an ImageRetrieval model (its <c>imageretrieval.*</c> metadata says how to feed it), a
/// <see cref="PretrainedModel"/>, or any ONNX image encoder with an <see cref="ImageEncoderDescription"/>
/// (<see cref="ImageEmbedderOptions.Encoder"/>, or <c>model.onnx.json</c> beside it): layout, channel order, scale,
/// per-channel mean and std, pooling of a feature-map output and L2 normalisation are then applied here.</para>
/// <para>For small images without EXIF orientation or transparency the pixels are exactly those of ML.NET's
/// <c>LoadImages → ResizeImages → [ConvertToGrayscale] → ExtractPixels</c> chain (see <see cref="ImageDecoder"/>), so the
/// vectors equal those of <c>mlContext.Transforms.EmbedImages</c> up to floating-point batching effects (≤ 1e-5);
/// the decoder's photo handling (orientation, reduced-scale decoding of large images, transparency background) is
/// where they deliberately differ.</para>
/// <para>Thread-safe: batch calls take turns (one batch pipeline runs at a time); single-image calls (<c>Embed</c>) run
/// concurrently with each other and with a running batch, so a query is never queued behind a bulk job. Dispose waits
/// for calls in flight, then frees the ONNX Runtime session.</para>
/// </remarks>
public sealed class ImageEmbedder : IDisposable
{
    private readonly EmbeddingModel _model;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly ImageDecodeOptions _decode;
    private readonly ModelInput _input;
    private readonly float[][] _inputs;
    private readonly float[]? _outputScratch;
    private readonly OrtValue[] _inputValues;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly Lock _gate = new();
    private readonly OperationGate _singles = new();
    private bool _disposed;

    /// <summary>Opens the model and prepares the ONNX Runtime session.</summary>
    /// <param name="modelPath">
    /// An ONNX model carrying <c>imageretrieval.*</c> metadata, or any ONNX image encoder described by
    /// <see cref="ImageEmbedderOptions.Encoder"/> or by <c>model.onnx.json</c> beside it.
    /// </param>
    /// <param name="options">Batching, threading, device, error and description settings; defaults when null.</param>
    /// <param name="logger">Receives warnings (a requested GPU that is unavailable); none when null.</param>
    /// <exception cref="FileNotFoundException">The model file does not exist.</exception>
    /// <exception cref="InvalidDataException">
    /// The model is not a loadable ONNX file, has neither metadata nor a description, or its graph disagrees with them or
    /// with the options; the message says what the graph has and what was described.
    /// </exception>
    /// <exception cref="InvalidOperationException">A GPU was requested, is unavailable, and <see cref="ImageEmbedderOptions.FallbackToCpu"/> is false.</exception>
    public ImageEmbedder(string modelPath, ImageEmbedderOptions? options = null, ILogger? logger = null)
    {
        Options = options ?? new ImageEmbedderOptions();
        Options.Validate();
        using (SessionOptions sessionOptions = ExecutionProviders.CreateSessionOptions(
                   Options.GpuDeviceId, Options.FallbackToCpu, Options.IntraOpNumThreads, Options.InterOpNumThreads, logger, out ExecutionProviderInfo provider))
        {
            try
            {
                _model = EmbeddingModel.Open(modelPath, sessionOptions, Options.Encoder, Options.ImageWidth, Options.ImageHeight, Options.ImageChannels, out _session);
            }
            catch (InvalidDataException e) when (provider.IsGpu && Options.FallbackToCpu && e.InnerException is OnnxRuntimeException cuda)
            {
                // The CUDA provider loaded but no session could be made on the device (a CUDA installation without a usable
                // GPU, a driver too old): the CPU, as for a provider that does not load at all. A corrupt model fails again below.
                provider = ExecutionProviders.SessionFallback(Options.GpuDeviceId!.Value, cuda, logger);
                using SessionOptions cpu = ExecutionProviders.CreateSessionOptions(null, true, Options.IntraOpNumThreads, Options.InterOpNumThreads, logger, out _);
                _model = EmbeddingModel.Open(modelPath, cpu, Options.Encoder, Options.ImageWidth, Options.ImageHeight, Options.ImageChannels, out _session);
            }
            ExecutionProvider = provider;
        }
        try
        {
            BatchSize = _model.FixedBatch == 1 ? 1 : Options.BatchSize;
            _decode = Options.DecodeOptions(_model.Width, _model.Height, _model.Channels, _model.Description.Resize);
            _input = new ModelInput(_model, _decode);
            _inputNames = [_model.InputName];
            _outputNames = [_model.OutputName];
            long[] shape = _model.InputShape(BatchSize);
            _inputs = [new float[BatchSize * _model.ImageLength], new float[BatchSize * _model.ImageLength]];
            _outputScratch = _model.Pooling == OutputPooling.None ? null : new float[BatchSize * _model.OutputLength];
            _inputValues = [OrtValue.CreateTensorValueFromMemory(_inputs[0], shape), OrtValue.CreateTensorValueFromMemory(_inputs[1], shape)];
        }
        catch
        {
            _session.Dispose();
            _runOptions.Dispose();
            throw;
        }
    }

    /// <summary>Opens a pretrained model (built on first use, see <see cref="PretrainedModels"/>) and prepares the ONNX Runtime session.</summary>
    /// <param name="model">E.g. <see cref="PretrainedModels.ImageNetResNet18"/>.</param>
    /// <param name="options">Batching, threading, device and error settings; defaults when null.</param>
    /// <param name="logger">Receives warnings (a requested GPU that is unavailable); none when null.</param>
    /// <exception cref="FileNotFoundException">The files the model is built from cannot be found.</exception>
    public ImageEmbedder(PretrainedModel model, ImageEmbedderOptions? options = null, ILogger? logger = null)
        : this((model ?? throw new ArgumentNullException(nameof(model))).GetModelPath(), options, logger)
    {
    }

    /// <summary>The settings in use.</summary>
    public ImageEmbedderOptions Options { get; }

    /// <summary>
    /// The model's metadata (input geometry, pixel scale, dimension, metric); for a described foreign model, derived from
    /// its description (<see cref="Encoder"/> holds all of it).
    /// </summary>
    public EmbeddingModelMetadata Metadata => _model.Metadata;

    /// <summary>How the model is fed and its output used, every value resolved against the graph (names, sizes, one mean and std per channel).</summary>
    public ImageEncoderDescription Encoder => _model.Description;

    /// <summary>Where <see cref="Encoder"/> came from: the options, the model's description file, or its metadata.</summary>
    public EncoderDescriptionSource EncoderSource => _model.Source;

    /// <summary>Length of each embedding vector.</summary>
    public int Dimension => _model.Dimension;

    /// <summary>Images per ONNX Runtime call (1 if the model's batch dimension is fixed to 1).</summary>
    public int BatchSize { get; }

    /// <summary>Input values per image (<c>C × H × W</c>): what <see cref="PrepareInput(string, Span{float})"/> writes and <see cref="EmbedPixels(ReadOnlySpan{float}, int, Span{float})"/> takes.</summary>
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
        return EmbedOne((span) => _input.FromFile(path, span));
    }

    /// <summary>Embeds one encoded image held in memory.</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public float[] Embed(byte[] encoded, string source = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(encoded);
        return EmbedOne((span) => _input.FromBytes(encoded, span, source));
    }

    /// <summary>Embeds one encoded image read from a stream (read to its end, not disposed).</summary>
    /// <exception cref="ImageDecodeException">The stream does not hold a usable image.</exception>
    public float[] Embed(Stream encoded, string source = "<stream>")
    {
        ArgumentNullException.ThrowIfNull(encoded);
        return EmbedOne((span) => DecodeStream(encoded, span, source));
    }

    /// <summary>
    /// Embeds one encoded image read asynchronously from <paramref name="encoded"/> (read to its end, not disposed): for
    /// request bodies, which ASP.NET Core's Kestrel does not allow to be read synchronously. Reading stops with an
    /// <see cref="ImageDecodeException"/> as soon as the stream passes <see cref="ImageEmbedderOptions.MaxEncodedBytes"/>.
    /// </summary>
    /// <exception cref="ImageDecodeException">The stream does not hold a usable image, cannot be read, or is too large.</exception>
    public async ValueTask<float[]> EmbedAsync(Stream encoded, string source = "<stream>", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(encoded);
        byte[] bytes = await ReadBoundedAsync(encoded, Options.MaxEncodedBytes, source, cancellationToken).ConfigureAwait(false);
        return Embed(bytes, source);
    }

    /// <summary>Reads a stream to its end, asynchronously, refusing more than <paramref name="maxBytes"/>.</summary>
    /// <exception cref="ImageDecodeException">The stream is longer than the limit or cannot be read.</exception>
    internal static async ValueTask<byte[]> ReadBoundedAsync(Stream stream, long maxBytes, string source, CancellationToken cancellationToken)
    {
        try
        {
            if (stream.CanSeek && stream.Length - stream.Position > maxBytes)
            {
                throw new ImageDecodeException(source, $"the image is {stream.Length - stream.Position} bytes, over the limit of {maxBytes}");
            }
            using var buffer = new MemoryStream();
            byte[] chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new ImageDecodeException(source, $"the image is over the limit of {maxBytes} bytes");
                }
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or NotSupportedException or ObjectDisposedException && e is not ImageDecodeException)
        {
            throw new ImageDecodeException(source, $"the stream cannot be read ({e.Message})", e);
        }
    }

    /// <summary>Embeds image files in parallel batches.</summary>
    /// <param name="paths">The files.</param>
    /// <param name="progress">Reported after each batch.</param>
    /// <param name="cancellationToken">Stops between images.</param>
    /// <exception cref="ImageDecodeException">Under <see cref="ImageErrorPolicy.Throw"/>: the first (lowest-index) bad image of the first failing batch.</exception>
    public ImageEmbeddingResult EmbedFiles(IReadOnlyList<string> paths, IProgress<ImageEmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return Run(paths.Count, i => paths[i], (i, span) => _input.FromFile(paths[i], span), progress, cancellationToken);
    }

    /// <summary>Files, with a per-batch hook (see <see cref="ScoredBatch"/>).</summary>
    internal ImageEmbeddingResult EmbedFiles(IReadOnlyList<string> paths, Action<ScoredBatch> onBatch, CancellationToken cancellationToken) =>
        Run(paths.Count, i => paths[i], (i, span) => _input.FromFile(paths[i], span), null, onBatch, cancellationToken);

    /// <summary>In-memory images, with a per-batch hook (see <see cref="ScoredBatch"/>).</summary>
    internal ImageEmbeddingResult EmbedImages(IReadOnlyList<ReadOnlyMemory<byte>> images, IReadOnlyList<string> names, Action<ScoredBatch> onBatch, CancellationToken cancellationToken) =>
        Run(images.Count, i => names[i], (i, span) => _input.FromBytes(images[i].Span, span, names[i]), null, onBatch, cancellationToken);

    /// <summary>Embeds encoded images held in memory, in parallel batches.</summary>
    /// <param name="images">Encoded images (PNG, JPEG, ...).</param>
    /// <param name="names">Names used in errors (e.g. upload ids); <c>"#index"</c> when null.</param>
    /// <param name="progress">Reported after each batch.</param>
    /// <param name="cancellationToken">Stops between images.</param>
    public ImageEmbeddingResult EmbedImages(IReadOnlyList<ReadOnlyMemory<byte>> images, IReadOnlyList<string>? names = null, IProgress<ImageEmbeddingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckNames(names, images.Count);
        return Run(images.Count, i => NameOf(names, i), (i, span) => _input.FromBytes(images[i].Span, span, NameOf(names, i)), progress, cancellationToken);
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
    /// Embeds images that are already the model's input: <see cref="ImageLength"/> values per image as
    /// <see cref="PrepareInput(string, Span{float})"/> writes them (for a model with <c>imageretrieval.*</c> metadata: planar
    /// floats multiplied by the pixel scale, what <c>ExtractPixels</c> produces).
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
    /// Embeds images that are already decoded to the model's geometry: planar 0–255 bytes (R, G, B or grey planes),
    /// <see cref="ImageLength"/> per image (e.g. a labelled image set in memory). Each byte becomes an input value as the
    /// model's description says (for <c>imageretrieval.*</c> metadata: × pixel scale, as <c>ExtractPixels</c> does); no
    /// decoding or resizing happens.
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
                for (int i = 0; i < n; i++)
                {
                    _input.Encode(planar.Slice((start + i) * length, length), _inputs[0].AsSpan(i * length, length));
                }
                Score(0, n, result, start);
                progress?.Report(new ImageEmbeddingProgress(start + n, count, 0));
            }
        }
        return result;
    }

    /// <summary>Decodes an image file and writes the model's input values for it (<see cref="ImageLength"/> of them): the work done ahead of the model.</summary>
    /// <exception cref="ImageDecodeException">The file is missing or not a usable image.</exception>
    public void PrepareInput(string path, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(path);
        _input.FromFile(path, destination);
    }

    /// <summary>Decodes an encoded image and writes the model's input values for it (<see cref="ImageLength"/> of them).</summary>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    public void PrepareInput(ReadOnlySpan<byte> encoded, Span<float> destination, string source = "<memory>") => _input.FromBytes(encoded, destination, source);

    /// <inheritdoc />
    public void Dispose()
    {
        // Single-image calls in flight finish first; batch calls hold the gate.
        _singles.CloseAndWait();
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

    /// <summary>
    /// One image, outside the batch pipeline's turn: its own input buffer and a concurrent <c>Run</c> on the shared session
    /// (ONNX Runtime sessions are safe for concurrent runs), so a single query never waits behind a running batch job.
    /// </summary>
    private float[] EmbedOne(DecodeOne decode)
    {
        using var _ = _singles.Enter(this);
        var vector = new float[Dimension];
        var input = new float[ImageLength];
        decode(input);
        // Its own buffers, not the batch pipeline's: a single image never waits behind a running batch.
        float[]? maps = _model.Pooling == OutputPooling.None ? null : new float[_model.OutputLength];
        using OrtValue inputValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input.AsMemory(), _model.InputShape(1));
        using (OrtValue output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, (maps ?? vector).AsMemory(), [1, .. _model.OutputShape]))
        {
            _session.Run(_runOptions, _inputNames, [inputValue], _outputNames, [output]);
        }
        if (maps is not null)
        {
            ModelOutput.Pool(maps, 1, _model, vector);
        }
        if (_model.Normalize)
        {
            ModelOutput.NormalizeRows(vector, Dimension);
        }
        return vector;
    }

    /// <summary>
    /// The batch pipeline: batch b+1 is decoded (in parallel) while batch b is scored. Decode failures
    /// are collected per item; under <see cref="ImageErrorPolicy.Throw"/> the lowest-index one is thrown.
    /// </summary>
    internal ImageEmbeddingResult Run(int count, Func<int, string> nameOf, DecodeItem decode, IProgress<ImageEmbeddingProgress>? progress, CancellationToken cancellationToken) =>
        Run(count, nameOf, decode, progress, null, cancellationToken);

    /// <summary>
    /// Items <c>[Start, Start + Count)</c> of a run have just been scored: <c>Vectors</c> holds their rows (zeros for a
    /// failed item) and <c>Failed(i)</c> says which failed. Called on the scoring thread, in order, while the next batch is
    /// being decoded; a batch that finished scoring is handed over even if the run was cancelled meanwhile (the run then
    /// stops before scoring the next), and what the callback does with it stays done.
    /// </summary>
    internal readonly record struct ScoredBatch(int Start, int Count, float[] Vectors, ImageDecodeException?[] Failures)
    {
        public bool Failed(int index) => Failures[index] is not null;
    }

    internal ImageEmbeddingResult Run(int count, Func<int, string> nameOf, DecodeItem decode, IProgress<ImageEmbeddingProgress>? progress,
        Action<ScoredBatch>? onBatch, CancellationToken cancellationToken)
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
                // Checked before scoring, not after: a cancellation may have cut this batch's decoding short, and a batch
                // that has been scored is always handed to the caller (cancelling keeps what was embedded).
                cancellationToken.ThrowIfCancellationRequested();
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
                // Failed images were zero-filled before scoring; clear their vectors.
                for (int i = start; i < start + n; i++)
                {
                    if (failures[i] is not null)
                    {
                        vectors.AsSpan(i * Dimension, Dimension).Clear();
                    }
                }
                onBatch?.Invoke(new ScoredBatch(start, n, vectors, failures));
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

    internal ModelInput Input => _input;

    private void DecodeStream(Stream stream, Span<float> destination, string source)
    {
        try
        {
            _input.FromBytes(ImageDecoder.ReadBounded(stream, _decode, source), destination, source);
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
                    _inputs[buffer].AsMemory(0, n * ImageLength), _model.InputShape(n));
                input = partialInput;
            }
            long[] outputShape = [n, .. _model.OutputShape];
            Memory<float> target = _outputScratch is null
                ? destination.AsMemory(checked((int)(row * d)), n * d)
                : _outputScratch.AsMemory(0, n * _model.OutputLength);
            using (OrtValue output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, target, outputShape))
            {
                _session.Run(_runOptions, _inputNames, [input], _outputNames, [output]);
            }
            Span<float> vectors = destination.AsSpan(checked((int)(row * d)), n * d);
            if (_outputScratch is not null)
            {
                ModelOutput.Pool(_outputScratch.AsSpan(0, n * _model.OutputLength), n, _model, vectors);
            }
            if (_model.Normalize)
            {
                ModelOutput.NormalizeRows(vectors, d);
            }
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
