using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Onnx;

namespace ImageRetrieval.ML.Embedding;

/// <summary>
/// Embeds images with an ONNX image encoder through ML.NET's own transforms:
/// <c>LoadImages → ResizeImages → [ConvertToGrayscale] → ExtractPixels → ApplyOnnxModel [→ NormalizeLpNorm]</c>, configured from the
/// model's metadata or its <see cref="ImageEncoderDescription"/>. <see cref="Fit"/> returns an ordinary ML.NET <see cref="TransformerChain{TLastTransformer}"/>,
/// so it works with <c>Transform</c>, <c>PredictionEngine</c> and <c>mlContext.Model.Save/Load</c> like any other.
/// Created by <c>mlContext.Transforms.EmbedImages</c>.
/// </summary>
/// <remarks>
/// ML.NET's ONNX scorer runs one row at a time; for speed use <c>EmbedImagesBatched</c> (same vectors).
/// ML.NET's <c>LoadImages</c> does not cap decoded pixels: an image declaring 50,000 × 50,000 pixels is decoded
/// in full (10 GB), and a bad image fails the whole <c>Transform</c>. The batched path refuses such images before
/// decoding and can skip bad ones.
/// </remarks>
public sealed class ImageEmbeddingEstimator : IEstimator<ITransformer>
{
    private readonly TransformsCatalog _catalog;
    private readonly ImageEmbeddingOptions _options;
    private readonly EmbeddingModel _model;

    internal ImageEmbeddingEstimator(TransformsCatalog catalog, ImageEmbeddingOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _catalog = catalog;
        _options = options.Clone();
        _model = EmbeddingModel.Inspect(options.ModelPath, options.Encoder, options.ImageWidth, options.ImageHeight, options.ImageChannels);
        if (Inexpressible(_model) is { } reason)
        {
            throw new NotSupportedException(
                $"Model '{options.ModelPath}': ML.NET's image transforms cannot express its description ({reason}). Embed it with ImageEmbedder or ImageSearchIndex, which apply any description.");
        }
    }

    /// <summary>The model's metadata (input geometry, pixel scale, dimension, metric); derived from the description for a described model.</summary>
    public EmbeddingModelMetadata Metadata => _model.Metadata;

    /// <summary>How the model is fed, every value resolved against the graph.</summary>
    public ImageEncoderDescription Encoder => _model.Description;

    /// <summary>The execution provider chosen at the last <see cref="Fit"/> (null before).</summary>
    public ExecutionProviderInfo? ExecutionProvider { get; private set; }

    internal string InputColumnName => _options.InputColumnName ?? _options.OutputColumnName;

    /// <summary>Checks the input column and returns the schema after embedding (input columns plus the output vector column).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or has the wrong type.</exception>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        int index = inputSchema.ToList().FindLastIndex(c => c.Name == InputColumnName);
        if (index < 0)
        {
            throw MissingColumn(InputColumnName, inputSchema.Select(c => c.Name));
        }
        SchemaShape.Column column = inputSchema[index];
        string actual = column.Kind == SchemaShape.Column.VectorKind.Scalar ? $"{column.ItemType}" : $"{column.Kind}<{column.ItemType}>";
        InputKind kind = Classify(InputColumnName, column.ItemType, column.Kind != SchemaShape.Column.VectorKind.Scalar, actual);
        CheckNameClashes(inputSchema.Select(c => c.Name));
        return BuildChain(kind, null).GetOutputSchema(inputSchema);
    }

    /// <summary>Checks the input schema, chooses the execution provider and fits ML.NET's chain.</summary>
    /// <returns>A <see cref="TransformerChain{TLastTransformer}"/> of ML.NET transforms (dispose it to free the ONNX session).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The input column is missing or has the wrong type.</exception>
    /// <exception cref="InvalidOperationException">A GPU was requested, is unavailable, and <see cref="ImageEmbeddingOptions.FallbackToCpu"/> is false.</exception>
    public ITransformer Fit(IDataView input) => FitChain(input);

    internal TransformerChain<ITransformer> FitChain(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        InputKind kind = CheckInput(input.Schema);
        ExecutionProvider = ExecutionProviders.Resolve(_options.GpuDeviceId, _options.FallbackToCpu, _options.Logger);
        // A GPU that is known to be unusable is not asked for again: ML.NET would retry (and fail) per transformer.
        int? gpu = ExecutionProvider.IsGpu ? _options.GpuDeviceId : null;
        return BuildChain(kind, gpu).Fit(input);
    }

    internal InputKind CheckInput(DataViewSchema schema)
    {
        DataViewSchema.Column? column = schema.GetColumnOrNull(InputColumnName);
        if (column is null)
        {
            throw MissingColumn(InputColumnName, schema.Where(c => !c.IsHidden).Select(c => c.Name));
        }
        DataViewType type = column.Value.Type;
        DataViewType item = type is VectorDataViewType vector ? vector.ItemType : type;
        InputKind kind = Classify(InputColumnName, item, type is VectorDataViewType, type.ToString() ?? type.GetType().Name);
        CheckNameClashes(schema.Where(c => !c.IsHidden).Select(c => c.Name));
        return kind;
    }

    internal enum InputKind
    {
        Path,
        Bytes,
        Image,
    }

    internal static InputKind Classify(string name, DataViewType itemType, bool isVector, string actual)
    {
        if (!isVector && itemType is TextDataViewType)
        {
            return InputKind.Path;
        }
        if (isVector && itemType == NumberDataViewType.Byte)
        {
            return InputKind.Bytes;
        }
        if (!isVector && itemType is ImageDataViewType)
        {
            return InputKind.Image;
        }
        throw new ArgumentOutOfRangeException("inputSchema",
            $"Input column '{name}' has type {actual}; expected String (an image path), Vector<Byte> (an encoded image, e.g. byte[]) or Image (MLImage).");
    }

    private static ArgumentOutOfRangeException MissingColumn(string name, IEnumerable<string> available) =>
        new("inputSchema", $"Input column '{name}' not found; expected a column of type String (image path), Vector<Byte> (encoded image) or Image (MLImage). Available columns: [{string.Join(", ", available)}].");

    // What ML.NET's transforms cannot do: pool a feature map, or apply per-channel mean/std to interleaved pixels.
    private static string? Inexpressible(EmbeddingModel model)
    {
        if (model.Pooling != OutputPooling.None)
        {
            return $"{model.Pooling.ToString().ToLowerInvariant()} pooling of a [{string.Join(", ", model.OutputShape)}] feature map";
        }
        bool uniform = model.Multiplier.All(a => a == model.Multiplier[0]) && model.Offset.All(b => b == model.Offset[0]);
        return model.Layout == TensorLayout.Nhwc && !uniform ? "per-channel mean or std with the nhwc layout" : null;
    }

    private void CheckNameClashes(IEnumerable<string> columns)
    {
        // The ONNX scorer reads and writes columns named after the graph's tensors; they are dropped afterwards.
        EmbeddingModelMetadata m = _model.Metadata;
        foreach (string name in columns)
        {
            if ((name == m.InputName || name == m.OutputName || name == ResizedColumn || name == LoadedColumn) && name != _options.OutputColumnName)
            {
                throw new ArgumentOutOfRangeException("inputSchema",
                    $"Input column '{name}' has the name of one of the embedding chain's working columns ('{m.InputName}', '{m.OutputName}' are the model's tensor names); rename it.");
            }
        }
        if (_options.OutputColumnName == m.InputName)
        {
            throw new ArgumentOutOfRangeException(nameof(ImageEmbeddingOptions.OutputColumnName),
                $"Output column '{_options.OutputColumnName}' is the name of the model's input tensor; choose another name.");
        }
    }

    private string LoadedColumn => _options.OutputColumnName + ".LoadedImage";

    private string ResizedColumn => _options.OutputColumnName + ".ResizedImage";

    private EstimatorChain<ITransformer> BuildChain(InputKind kind, int? gpuDeviceId)
    {
        EmbeddingModelMetadata m = _model.Metadata;
        var chain = new EstimatorChain<ITransformer>();
        var drop = new List<string>();
        string image = InputColumnName;
        if (kind == InputKind.Bytes)
        {
            // LoadImages only reads files: decode the bytes with a registered custom mapping (saved and loaded by contract name).
            chain = chain.Append<ITransformer>(_catalog.CopyColumns(EncodedImageInput.ColumnName, InputColumnName))
                .Append<ITransformer>(_catalog.CustomMapping(new EncodedImageDecodingFactory().GetMapping(), EncodedImageDecodingFactory.ContractName));
            image = DecodedImageOutput.ColumnName;
            drop.Add(EncodedImageInput.ColumnName);
            drop.Add(DecodedImageOutput.ColumnName);
        }
        else if (kind == InputKind.Path)
        {
            chain = chain.Append<ITransformer>(_catalog.LoadImages(LoadedColumn, _options.ImageFolder, InputColumnName));
            image = LoadedColumn;
            drop.Add(LoadedColumn);
        }
        var resizing = (_model.Description.Resize ?? _options.ResizeMode) switch
        {
            ImageResizeMode.Fill => ImageResizingEstimator.ResizingKind.Fill,
            ImageResizeMode.IsoPad => ImageResizingEstimator.ResizingKind.IsoPad,
            _ => ImageResizingEstimator.ResizingKind.IsoCrop,
        };
        chain = chain.Append<ITransformer>(_catalog.ResizeImages(ResizedColumn, m.InputWidth, m.InputHeight, image, resizing));
        drop.Add(ResizedColumn);
        chain = AppendPixels(chain, drop);
        drop.Add(m.InputName);
        chain = chain.Append<ITransformer>(_catalog.ApplyOnnxModel(new OnnxOptions
        {
            ModelFile = _options.ModelPath,
            InputColumns = [m.InputName],
            OutputColumns = [m.OutputName],
            GpuDeviceId = gpuDeviceId,
            FallbackToCpu = _options.FallbackToCpu,
            ShapeDictionary = new Dictionary<string, int[]>
            {
                [m.InputName] = [.. _model.InputShape(1).Select(d => (int)d)],
                [m.OutputName] = [1, .. _model.OutputShape],
            },
            IntraOpNumThreads = _options.IntraOpNumThreads,
            InterOpNumThreads = _options.InterOpNumThreads,
        }));
        if (_model.Normalize)
        {
            chain = chain.Append<ITransformer>(_catalog.NormalizeLpNorm(m.OutputName, m.OutputName, LpNormNormalizingEstimatorBase.NormFunction.L2, ensureZeroMean: false));
        }
        if (m.OutputName != _options.OutputColumnName)
        {
            chain = chain.Append<ITransformer>(_catalog.CopyColumns(_options.OutputColumnName, m.OutputName));
            drop.Add(m.OutputName);
        }
        return chain.Append<ITransformer>(_catalog.DropColumns([.. drop]));
    }

    // ExtractPixels writes (pixel − offset) × scale for every channel alike. The model's input value is
    // pixel × a[c] + b[c] = (pixel − (−b[c] / a[c])) × a[c]: one ExtractPixels when a and b are the same for every
    // channel (interleaved for nhwc, in the model's channel order), else one per channel, concatenated plane after plane.
    private EstimatorChain<ITransformer> AppendPixels(EstimatorChain<ITransformer> chain, List<string> drop)
    {
        EmbeddingModel model = _model;
        string target = model.InputName;
        if (model.Channels == 1)
        {
            return chain.Append<ITransformer>(_catalog.ConvertToGrayscale(ResizedColumn))
                .Append<ITransformer>(Extract(target, ImagePixelExtractingEstimator.ColorBits.Red, 0));
        }
        var order = model.Description.ChannelOrder == ChannelOrder.Bgr
            ? ImagePixelExtractingEstimator.ColorsOrder.ABGR
            : ImagePixelExtractingEstimator.ColorsOrder.ARGB;
        bool uniform = model.Multiplier.All(a => a == model.Multiplier[0]) && model.Offset.All(b => b == model.Offset[0]);
        if (uniform)
        {
            return chain.Append<ITransformer>(_catalog.ExtractPixels(target, ResizedColumn, ImagePixelExtractingEstimator.ColorBits.Rgb, order,
                interleavePixelColors: model.Layout == TensorLayout.Nhwc, offsetImage: OffsetOf(0), scaleImage: model.Multiplier[0]));
        }
        ImagePixelExtractingEstimator.ColorBits[] planes = model.Description.ChannelOrder == ChannelOrder.Bgr
            ? [ImagePixelExtractingEstimator.ColorBits.Blue, ImagePixelExtractingEstimator.ColorBits.Green, ImagePixelExtractingEstimator.ColorBits.Red]
            : [ImagePixelExtractingEstimator.ColorBits.Red, ImagePixelExtractingEstimator.ColorBits.Green, ImagePixelExtractingEstimator.ColorBits.Blue];
        var names = new string[3];
        for (int c = 0; c < 3; c++)
        {
            names[c] = $"{_options.OutputColumnName}.Channel{c}";
            chain = chain.Append<ITransformer>(Extract(names[c], planes[c], c));
            drop.Add(names[c]);
        }
        return chain.Append<ITransformer>(_catalog.Concatenate(target, names));

        ImagePixelExtractingEstimator Extract(string output, ImagePixelExtractingEstimator.ColorBits bits, int c) =>
            _catalog.ExtractPixels(output, ResizedColumn, bits, offsetImage: OffsetOf(c), scaleImage: model.Multiplier[c]);

        float OffsetOf(int c) => model.Offset[c] == 0f ? 0f : -model.Offset[c] / model.Multiplier[c];
    }
}
