using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using ImageRetrieval.ML.Search;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SkiaSharp;

namespace ImageRetrieval.ML.Tests.Embedding;

/// <summary>
/// Foreign ONNX encoders (no <c>imageretrieval.*</c> metadata) fed through an <see cref="ImageEncoderDescription"/>: ML.NET's
/// own ResNet18.onnx, and small generated models in NHWC / BGR layouts with and without in-graph normalisation and with
/// feature-map outputs. Each embedding is checked against one computed here independently, from the known pixels of a
/// lossless PNG (images are stored at the model's size and fitted with "stretch", which copies them unchanged).
/// </summary>
public class EncoderDescriptionTests : IDisposable
{
    // Per-channel averages of the featurizer's ImageNet mean image (ResNetPreprocess.onnx), in its B, G, R order.
    private static readonly float[] FeaturizerMeanBgr = [103.06262f, 115.90288f, 123.15163f];
    private static readonly float[] TorchMeanBgr = [0.406f, 0.456f, 0.485f];
    private static readonly float[] TorchStdBgr = [0.225f, 0.224f, 0.229f];

    private readonly TempDirectory _temp = new();

    public void Dispose()
    {
        _temp.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Known pixels, row-major R, G, B per pixel.</summary>
    private static byte[] Pixels(int width, int height, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[width * height * 3];
        random.NextBytes(pixels);
        return pixels;
    }

    private string Png(byte[] rgb, int width, int height, string name)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int p = ((y * width) + x) * 3;
                bitmap.SetPixel(x, y, new SKColor(rgb[p], rgb[p + 1], rgb[p + 2]));
            }
        }
        string path = _temp.File(name);
        using (var data = bitmap.Encode(SKEncodedImageFormat.Png, 100))
        {
            File.WriteAllBytes(path, data.ToArray());
        }
        return path;
    }

    private string Model(byte[] bytes, string name)
    {
        string path = _temp.File(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static float[] Normalized(float[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => (double)x * x));
        return v.Select(x => (float)(x / norm)).ToArray();
    }

    private static float[] Weights(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
    }

    // x = (pixel × scale − mean[k]) / std[k] for model channel k reading plane order[k] (R = 0, G = 1, B = 2), laid out NHWC or NCHW.
    private static float[] Input(byte[] rgb, int width, int height, bool nhwc, int[] order, float scale, float[] mean, float[] std)
    {
        var x = new float[width * height * 3];
        for (int p = 0; p < width * height; p++)
        {
            for (int k = 0; k < 3; k++)
            {
                float value = ((rgb[(p * 3) + order[k]] * scale) - mean[k]) / std[k];
                x[nhwc ? (p * 3) + k : (k * width * height) + p] = value;
            }
        }
        return x;
    }

    private static float[] Gemm(float[] x, float[] w, float[] b)
    {
        int d = b.Length;
        var y = new float[d];
        for (int j = 0; j < d; j++)
        {
            double sum = b[j];
            for (int i = 0; i < x.Length; i++)
            {
                sum += (double)w[(j * x.Length) + i] * x[i];
            }
            y[j] = (float)sum;
        }
        return y;
    }

    /// <summary>[N, 6, 5, 3] (NHWC) → [optional Sub mean, Div std] → Flatten → Gemm(4).</summary>
    private static byte[] NhwcGemm(float[] w, float[] b, bool normalizeInGraph)
    {
        var graph = new TinyOnnxModel.GraphBuilder().Input("image", "N", 6, 5, 3).Output("vec", "N", 4)
            .Initializer("W", [4, 90], w).Initializer("B", [4], b);
        string flatInput = "image";
        if (normalizeInGraph)
        {
            graph.Initializer("mean", [1, 1, 1, 3], TorchMeanBgr).Initializer("std", [1, 1, 1, 3], TorchStdBgr)
                .Node("Sub", ["image", "mean"], "centred").Node("Div", ["centred", "std"], "scaled");
            flatInput = "scaled";
        }
        return graph.Node("Flatten", [flatInput], "flat", ("axis", 1L)).Node("Gemm", ["flat", "W", "B"], "vec", ("transB", 1L)).Build();
    }

    [Fact]
    public void MLNets_ResNet18_onnx_embeds_through_a_description_as_computed_by_hand()
    {
        string resnet = ResNet18FeaturizerPackage.Require(ResNet18FeaturizerPackage.ModelPathInPackage);
        var description = new ImageEncoderDescription
        {
            ChannelOrder = ChannelOrder.Bgr, Mean = FeaturizerMeanBgr, Resize = ImageResizeMode.Fill, Pooling = OutputPooling.Average, Normalize = true,
        };
        byte[][] images = [Pixels(224, 224, 1), Pixels(224, 224, 2)];
        string[] files = [Png(images[0], 224, 224, "a.png"), Png(images[1], 224, 224, "b.png")];

        using var embedder = new ImageEmbedder(resnet, new ImageEmbedderOptions { Encoder = description, BatchSize = 8 });
        Assert.Equal(1, embedder.BatchSize); // the CNTK graph fixes the batch dimension to 1
        Assert.Equal(EncoderDescriptionSource.Options, embedder.EncoderSource);
        Assert.Equal(("Input247", "Pooling395_Output_0", 512), (embedder.Encoder.InputName, embedder.Encoder.OutputName, embedder.Dimension));
        ImageEmbeddingResult result = embedder.EmbedFiles(files);

        using var session = new InferenceSession(resnet);
        for (int i = 0; i < files.Length; i++)
        {
            float[] input = Input(images[i], 224, 224, nhwc: false, order: [2, 1, 0], 1f, FeaturizerMeanBgr, [1f, 1f, 1f]);
            using var outputs = session.Run([NamedOnnxValue.CreateFromTensor("Input247", new DenseTensor<float>(input, [1, 3, 224, 224]))]);
            float[] expected = Normalized(outputs.First().AsTensor<float>().ToArray());
            VectorAssert.Close(expected, result[i], 1e-5f);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_NHWC_BGR_model_with_or_without_in_graph_normalisation_matches_the_hand_computed_embedding(bool normalizeInGraph)
    {
        float[] w = Weights(4 * 90, 11), b = Weights(4, 12);
        string model = Model(NhwcGemm(w, b, normalizeInGraph), $"nhwc-{normalizeInGraph}.onnx");
        var description = new ImageEncoderDescription
        {
            Layout = TensorLayout.Nhwc, ChannelOrder = ChannelOrder.Bgr, PixelScale = 1f / 255, Resize = ImageResizeMode.Fill,
            Mean = normalizeInGraph ? null : TorchMeanBgr, Std = normalizeInGraph ? null : TorchStdBgr,
        };
        byte[] rgb = Pixels(5, 6, 3);
        string file = Png(rgb, 5, 6, "nhwc.png");
        using var embedder = new ImageEmbedder(model, new ImageEmbedderOptions { Encoder = description });
        float[] expected = Normalized(Gemm(Input(rgb, 5, 6, nhwc: true, order: [2, 1, 0], 1f / 255, TorchMeanBgr, TorchStdBgr), w, b));
        VectorAssert.Close(expected, embedder.Embed(file), 2e-5f);
        Assert.Equal(("image", "vec", 6, 5, 3), (embedder.Metadata.InputName, embedder.Metadata.OutputName, embedder.Metadata.InputHeight, embedder.Metadata.InputWidth, embedder.Metadata.InputChannels));

        // Without normalisation the raw Gemm output comes back.
        using var raw = new ImageEmbedder(model, new ImageEmbedderOptions { Encoder = description with { Normalize = false } });
        VectorAssert.Close(Gemm(Input(rgb, 5, 6, nhwc: true, order: [2, 1, 0], 1f / 255, TorchMeanBgr, TorchStdBgr), w, b), raw.Embed(file), 2e-5f);
    }

    [Theory]
    [InlineData(TensorLayout.Nchw, OutputPooling.Average)]
    [InlineData(TensorLayout.Nchw, OutputPooling.Max)]
    [InlineData(TensorLayout.Nhwc, OutputPooling.Average)]
    [InlineData(TensorLayout.Nhwc, OutputPooling.Max)]
    public void A_feature_map_output_is_pooled_in_the_inputs_layout(TensorLayout layout, OutputPooling pooling)
    {
        // 4 × 4 image → 2 × 2 average pool → a [3, 2, 2] (or [2, 2, 3]) feature map per image.
        var graph = new TinyOnnxModel.GraphBuilder();
        if (layout == TensorLayout.Nchw)
        {
            graph.Input("x", "N", 3, 4, 4).Output("map", "N", 3, 2, 2)
                .Node("AveragePool", ["x"], "map", ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }));
        }
        else
        {
            graph.Input("x", "N", 4, 4, 3).Output("map", "N", 2, 2, 3)
                .Node("Transpose", ["x"], "planar", ("perm", new long[] { 0, 3, 1, 2 }))
                .Node("AveragePool", ["planar"], "pooled", ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 }))
                .Node("Transpose", ["pooled"], "map", ("perm", new long[] { 0, 2, 3, 1 }));
        }
        string model = Model(graph.Build(), $"map-{layout}-{pooling}.onnx");
        byte[] rgb = Pixels(4, 4, 5);
        string file = Png(rgb, 4, 4, $"map-{layout}-{pooling}.png");
        var description = new ImageEncoderDescription { Layout = layout, Resize = ImageResizeMode.Fill, Pooling = pooling, Normalize = false };
        using var embedder = new ImageEmbedder(model, new ImageEmbedderOptions { Encoder = description });

        var expected = new float[3];
        for (int c = 0; c < 3; c++)
        {
            var cells = new List<float>();
            for (int cy = 0; cy < 2; cy++)
            {
                for (int cx = 0; cx < 2; cx++)
                {
                    float sum = 0;
                    for (int y = 2 * cy; y < (2 * cy) + 2; y++)
                    {
                        for (int x = 2 * cx; x < (2 * cx) + 2; x++)
                        {
                            sum += rgb[(((y * 4) + x) * 3) + c];
                        }
                    }
                    cells.Add(sum / 4);
                }
            }
            expected[c] = pooling == OutputPooling.Max ? cells.Max() : cells.Average();
        }
        VectorAssert.Close(expected, embedder.Embed(file), 1e-3f);
    }

    public static TheoryData<string, string[]> Mismatches => new()
    {
        { "input-name", ["'pixels'", "'image' float[?, 6, 5, 3]"] },
        { "layout", ["nchw [N, C, H, W]", "channel dimension is 6", "looks nhwc"] },
        { "size", ["width 5", "width 7"] },
        { "mean-count", ["3 channels", "1 mean value [1]"] },
        { "output-name", ["'embedding'", "'vec' float[?, 4]"] },
        { "no-description", ["imageretrieval.format_version", ".onnx.json", "ImageEncoderDescription", "'image' float[?, 6, 5, 3]"] },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void A_description_that_does_not_fit_the_graph_is_refused_saying_what_the_graph_has(string kind, string[] expected)
    {
        string model = Model(NhwcGemm(Weights(360, 1), Weights(4, 2), false), $"mismatch-{kind}.onnx");
        var nhwc = new ImageEncoderDescription { Layout = TensorLayout.Nhwc };
        ImageEncoderDescription? description = kind switch
        {
            "input-name" => nhwc with { InputName = "pixels" },
            "layout" => nhwc with { Layout = TensorLayout.Nchw },
            "size" => nhwc with { Width = 7 },
            "mean-count" => nhwc with { Mean = [1f] },
            "output-name" => nhwc with { OutputName = "embedding" },
            _ => null,
        };
        var error = Assert.Throws<InvalidDataException>(() => new ImageEmbedder(model, new ImageEmbedderOptions { Encoder = description }));
        Assert.Contains(model, error.Message, StringComparison.Ordinal);
        foreach (string part in expected)
        {
            Assert.Contains(part, error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Outputs_that_cannot_become_one_vector_are_refused()
    {
        string tokens = Model(new TinyOnnxModel.GraphBuilder().Input("x", "N", 3, 4, 4).Output("t", "N", 3, 4)
            .Node("ReduceMean", ["x"], "t", ("axes", new long[] { 3 }), ("keepdims", 0L)).Build(), "tokens.onnx");
        var error = Assert.Throws<InvalidDataException>(() => new ImageEmbedder(tokens, new ImageEmbedderOptions { Encoder = new ImageEncoderDescription() }));
        Assert.Contains("token sequences", error.Message, StringComparison.Ordinal);

        string map = Model(new TinyOnnxModel.GraphBuilder().Input("x", "N", 3, 4, 4).Output("map", "N", 3, 2, 2)
            .Node("AveragePool", ["x"], "map", ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })).Build(), "map.onnx");
        error = Assert.Throws<InvalidDataException>(() => new ImageEmbedder(map, new ImageEmbedderOptions { Encoder = new ImageEncoderDescription { Pooling = OutputPooling.None } }));
        Assert.Contains("2x2 feature map", error.Message, StringComparison.Ordinal);
        Assert.Contains("pooling \"none\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_description_file_beside_the_model_is_found_and_round_trips_through_JSON()
    {
        float[] w = Weights(360, 21), b = Weights(4, 22);
        string model = Model(NhwcGemm(w, b, false), "sidecar.onnx");
        var description = new ImageEncoderDescription
        {
            Layout = TensorLayout.Nhwc, ChannelOrder = ChannelOrder.Bgr, PixelScale = 1f / 255, Mean = TorchMeanBgr, Std = TorchStdBgr,
            Resize = ImageResizeMode.Fill, Metric = "l2", Architecture = "tiny-gemm", TrainingDataset = "none",
        };
        description.Write(ImageEncoderDescription.SidecarPath(model));
        Assert.Equal(model + ".json", ImageEncoderDescription.SidecarPath(model));
        Assert.Equal(description.ToJson(), ImageEncoderDescription.Read(model + ".json").ToJson());

        byte[] rgb = Pixels(5, 6, 9);
        string file = Png(rgb, 5, 6, "sidecar.png");
        using var embedder = new ImageEmbedder(model);
        Assert.Equal(EncoderDescriptionSource.DescriptionFile, embedder.EncoderSource);
        Assert.Equal(("tiny-gemm", "l2"), (embedder.Metadata.Architecture, embedder.Metadata.Metric));
        VectorAssert.Close(Normalized(Gemm(Input(rgb, 5, 6, true, [2, 1, 0], 1f / 255, TorchMeanBgr, TorchStdBgr), w, b)), embedder.Embed(file), 2e-5f);

        // A hand-written file with comments, aliases and every key.
        ImageEncoderDescription parsed = ImageEncoderDescription.FromJson("""
            { // a CLIP-like encoder
              "input": "pixel_values", "layout": "NCHW", "width": 224, "height": 224, "channel_order": "rgb",
              "pixel_scale": 0.00392156862745098, "mean": [0.481, 0.458, 0.408], "std": [0.269, 0.261, 0.276],
              "resize": "shorter-side-crop", "output": "image_embeds", "pooling": "max", "normalize": false, "metric": "ip",
              "architecture": "clip", "training_dataset": "laion",
            }
            """);
        Assert.Equal(("pixel_values", TensorLayout.Nchw, 224, ImageResizeMode.IsoCrop, OutputPooling.Max, false, "ip"),
            (parsed.InputName, parsed.Layout, parsed.Width!.Value, parsed.Resize!.Value, parsed.Pooling, parsed.Normalize, parsed.Metric));
        Assert.Equal(parsed.ToJson(), ImageEncoderDescription.FromJson(parsed.ToJson()).ToJson());
    }

    [Theory]
    [InlineData("{\"layuot\": \"nhwc\"}", "unknown key 'layuot'")]
    [InlineData("{\"layout\": \"hwc\"}", "'layout' is \"hwc\"; expected one of \"nchw\", \"nhwc\"")]
    [InlineData("{\"mean\": [1, \"x\", 3]}", "'mean'")]
    [InlineData("{\"std\": [0.2, 0, 0.2]}", "std values positive")]
    [InlineData("{\"metric\": \"euclid\"}", "metric 'euclid' is unknown")]
    [InlineData("[1, 2]", "must be a JSON object")]
    [InlineData("{\"width\": 224,,}", "not valid JSON")]
    public void Bad_description_files_name_the_file_and_the_key(string json, string expected)
    {
        string path = _temp.File("bad.onnx.json");
        File.WriteAllText(path, json);
        var error = Assert.Throws<InvalidDataException>(() => ImageEncoderDescription.Read(path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MLNets_chain_applies_descriptions_it_can_express_with_the_same_vectors(bool nhwcUniform)
    {
        // NCHW with per-channel mean/std: one ExtractPixels per channel, concatenated; NHWC with one mean/std: interleaved ExtractPixels.
        float[] w = Weights(360, 31), b = Weights(4, 32);
        byte[] bytes = nhwcUniform
            ? NhwcGemm(w, b, false)
            : new TinyOnnxModel.GraphBuilder().Input("image", "N", 3, 6, 5).Output("vec", "N", 4).Initializer("W", [4, 90], w).Initializer("B", [4], b)
                .Node("Flatten", ["image"], "flat", ("axis", 1L)).Node("Gemm", ["flat", "W", "B"], "vec", ("transB", 1L)).Build();
        string model = Model(bytes, $"chain-{nhwcUniform}.onnx");
        var description = new ImageEncoderDescription
        {
            Layout = nhwcUniform ? TensorLayout.Nhwc : TensorLayout.Nchw, ChannelOrder = ChannelOrder.Bgr, PixelScale = 1f / 255, Resize = ImageResizeMode.Fill,
            Mean = nhwcUniform ? [0.5f, 0.5f, 0.5f] : TorchMeanBgr, Std = nhwcUniform ? [0.25f, 0.25f, 0.25f] : TorchStdBgr,
        };
        string[] files = [Png(Pixels(5, 6, 41), 5, 6, $"c1-{nhwcUniform}.png"), Png(Pixels(5, 6, 42), 5, 6, $"c2-{nhwcUniform}.png")];
        var ml = new MLContext(1);
        IDataView rows = ml.Data.LoadFromEnumerable(files.Select(f => new PathRow { ImagePath = f }));
        var options = new ImageEmbeddingOptions { OutputColumnName = "Embedding", InputColumnName = nameof(PathRow.ImagePath), ModelPath = model, Encoder = description };
        using var chain = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages(options).Fit(rows);
        float[][] vectors = chain.Transform(rows).GetColumn<float[]>("Embedding").ToArray();
        using var batched = ml.Transforms.EmbedImagesBatched(options).Fit(rows);
        float[][] batchedVectors = batched.Transform(rows).GetColumn<float[]>("Embedding").ToArray();
        using var embedder = new ImageEmbedder(model, new ImageEmbedderOptions { Encoder = description });
        for (int i = 0; i < files.Length; i++)
        {
            VectorAssert.Close(embedder.Embed(files[i]), vectors[i], 2e-5f);
            VectorAssert.Close(embedder.Embed(files[i]), batchedVectors[i], 2e-5f);
        }
    }

    [Fact]
    public void MLNets_chain_refuses_what_it_cannot_express_and_points_to_the_embedder()
    {
        string map = Model(new TinyOnnxModel.GraphBuilder().Input("x", "N", 3, 4, 4).Output("map", "N", 3, 2, 2)
            .Node("AveragePool", ["x"], "map", ("kernel_shape", new long[] { 2, 2 }), ("strides", new long[] { 2, 2 })).Build(), "chain-map.onnx");
        var ml = new MLContext(1);
        var options = new ImageEmbeddingOptions { ModelPath = map, Encoder = new ImageEncoderDescription() };
        var error = Assert.Throws<NotSupportedException>(() => ml.Transforms.EmbedImages(options));
        Assert.Contains("average pooling", error.Message, StringComparison.Ordinal);
        Assert.Contains("ImageEmbedder", error.Message, StringComparison.Ordinal);
        Assert.Throws<NotSupportedException>(() => ml.Transforms.EmbedImagesBatched(options));

        string nhwc = Model(NhwcGemm(Weights(360, 1), Weights(4, 2), false), "chain-nhwc.onnx");
        error = Assert.Throws<NotSupportedException>(() => ml.Transforms.EmbedImages(new ImageEmbeddingOptions
        {
            ModelPath = nhwc, Encoder = new ImageEncoderDescription { Layout = TensorLayout.Nhwc, Mean = TorchMeanBgr },
        }));
        Assert.Contains("nhwc", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_index_built_with_a_description_in_code_reopens_with_the_same_description()
    {
        float[] w = Weights(360, 51), b = Weights(4, 52);
        string model = Model(NhwcGemm(w, b, false), "index.onnx");
        string gallery = Path.Combine(_temp.Path, "gallery");
        Directory.CreateDirectory(gallery);
        for (int i = 0; i < 4; i++)
        {
            File.Copy(Png(Pixels(5, 6, 60 + i), 5, 6, $"g{i}.png"), Path.Combine(gallery, $"g{i}.png"));
        }
        var description = new ImageEncoderDescription
        {
            Layout = TensorLayout.Nhwc, ChannelOrder = ChannelOrder.Bgr, PixelScale = 1f / 255, Mean = TorchMeanBgr, Std = TorchStdBgr, Resize = ImageResizeMode.Fill,
        };
        string saved = Path.Combine(_temp.Path, "index");
        IReadOnlyList<ImageSearchResult> before;
        using (var index = ImageSearchIndex.Create(model, gallery, new ImageSearchIndexOptions { Embedder = new ImageEmbedderOptions { Encoder = description } }))
        {
            index.AddFolder();
            before = index.Search(Path.Combine(gallery, "g2.png"), 4, exact: true);
            index.Save(saved);
        }
        Assert.Contains("imageretrieval.encoder_description", ImageSearchIndex.ReadInfo(saved).ModelMetadata.Keys);
        using var reopened = ImageSearchIndex.Open(saved, model);
        IReadOnlyList<ImageSearchResult> after = reopened.Search(Path.Combine(gallery, "g2.png"), 4, exact: true);
        Assert.Equal(before.Select(r => (r.Path, r.Distance)), after.Select(r => (r.Path, r.Distance)));
        Assert.Equal(0f, after[0].Distance, 5);
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }
}
