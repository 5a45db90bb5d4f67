using ImageRetrieval.ML.Embedding;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;

namespace ImageRetrieval.ML.Tests.Embedding;

/// <summary>The ML.NET "workout" of <c>mlContext.Transforms.EmbedImages</c>: fit, schema, bad input, save/load, equal outputs.</summary>
public class ImageEmbeddingCatalogTests(EmbeddingFixture fixture) : IClassFixture<EmbeddingFixture>
{
    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";

        public int Label { get; set; }
    }

    private sealed class BytesRow
    {
        public byte[] Image { get; set; } = [];
    }

    private sealed class ImageRow
    {
        [ImageType(28, 28)]
        public MLImage? Image { get; set; }
    }

    private sealed class NumberRow
    {
        public float ImagePath { get; set; }
    }

    private sealed class EmbeddingRow
    {
        public float[] Embedding { get; set; } = [];
    }

    // SchemaShape.Create is internal to ML.NET; pipelines call GetOutputSchema through it.
    private static SchemaShape ShapeOf(DataViewSchema schema) =>
        (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic, [typeof(DataViewSchema)])!
            .Invoke(null, [schema])!;

    private IDataView Rows(MLContext ml, int count = 8) =>
        ml.Data.LoadFromEnumerable(Enumerable.Range(0, count).Select(i => new PathRow { ImagePath = fixture.ImageNames[i], Label = fixture.Set.GetLabel(i) }));

    [Fact]
    public void Fits_transforms_and_produces_a_known_size_vector_column()
    {
        var ml = new MLContext(1);
        IDataView data = Rows(ml);
        var estimator = ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, fixture.ImageFolder, nameof(PathRow.ImagePath));
        Assert.Equal(16, estimator.Metadata.EmbeddingDimension);

        SchemaShape shape = estimator.GetOutputSchema(ShapeOf(data.Schema));
        SchemaShape.Column column = shape.Single(c => c.Name == "Embedding");
        Assert.Equal(SchemaShape.Column.VectorKind.Vector, column.Kind);
        Assert.Equal(NumberDataViewType.Single, column.ItemType);

        using var model = (TransformerChain<ITransformer>)estimator.Fit(data);
        IDataView output = model.Transform(data);
        var type = Assert.IsType<VectorDataViewType>(output.Schema["Embedding"].Type);
        Assert.Equal(NumberDataViewType.Single, type.ItemType);
        Assert.Equal(16, type.Size);
        // Working columns are dropped; user columns pass through.
        Assert.Equal(["ImagePath", "Label", "Embedding"], output.Schema.Where(c => !c.IsHidden).Select(c => c.Name));
        Assert.Equal(ExecutionProviderInfo.Cpu, estimator.ExecutionProvider!.Name);

        var vectors = output.GetColumn<float[]>("Embedding").ToArray();
        Assert.Equal(8, vectors.Length);
        foreach (float[] v in vectors)
        {
            Assert.Equal(1.0, Math.Sqrt(v.Sum(x => (double)x * x)), 4);
        }
        Assert.NotEqual(vectors[0], vectors[1]);
    }

    [Fact]
    public void A_missing_input_column_fails_at_Fit_naming_it_and_the_expected_type()
    {
        var ml = new MLContext(1);
        IDataView data = Rows(ml);
        var estimator = ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, fixture.ImageFolder, "Photo");
        var error = Assert.ThrowsAny<ArgumentException>(() => estimator.Fit(data));
        Assert.Contains("'Photo'", error.Message, StringComparison.Ordinal);
        Assert.Contains("String (image path)", error.Message, StringComparison.Ordinal);
        Assert.ThrowsAny<ArgumentException>(() => estimator.GetOutputSchema(ShapeOf(data.Schema)));
    }

    [Fact]
    public void A_wrongly_typed_input_column_fails_naming_column_expected_and_actual_types()
    {
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable([new NumberRow { ImagePath = 1 }]);
        var estimator = ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, inputColumnName: "ImagePath");
        var error = Assert.ThrowsAny<ArgumentException>(() => estimator.Fit(data));
        Assert.Contains("'ImagePath'", error.Message, StringComparison.Ordinal);
        Assert.Contains("Single", error.Message, StringComparison.Ordinal);
        Assert.Contains("expected String", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_plain_chain_fails_the_pass_on_a_missing_file_and_refuses_huge_declared_byte_images()
    {
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable([new PathRow { ImagePath = fixture.ImagePaths[0] }, new PathRow { ImagePath = fixture.Scratch("no-such-image.png") }]);
        using var model = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, inputColumnName: "ImagePath").Fit(data);
        Exception error = Assert.ThrowsAny<Exception>(() => model.Transform(data).GetColumn<float[]>("Embedding").ToArray());
        Assert.Contains("no-such-image.png", error.ToString(), StringComparison.Ordinal);

        IDataView bomb = ml.Data.LoadFromEnumerable([new BytesRow { Image = TestImages.PngDeclaring(50_000, 50_000) }]);
        using var byBytes = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, inputColumnName: "Image").Fit(bomb);
        Exception refused = Assert.ThrowsAny<Exception>(() => byBytes.Transform(bomb).GetColumn<float[]>("Embedding").ToArray());
        Assert.Contains("50000x50000", refused.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Survives_Save_and_Load_with_equal_outputs_and_works_in_a_PredictionEngine()
    {
        var ml = new MLContext(1);
        IDataView data = Rows(ml);
        using var model = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, fixture.ImageFolder, nameof(PathRow.ImagePath)).Fit(data);
        float[][] before = model.Transform(data).GetColumn<float[]>("Embedding").ToArray();

        string path = fixture.Scratch($"saved-{Guid.NewGuid():N}.zip");
        ml.Model.Save(model, data.Schema, path);
        var ml2 = new MLContext(2);
        ITransformer loaded = ml2.Model.Load(path, out DataViewSchema inputSchema);
        Assert.Equal(data.Schema.Select(c => c.Name), inputSchema.Select(c => c.Name));
        float[][] after = loaded.Transform(data).GetColumn<float[]>("Embedding").ToArray();
        for (int i = 0; i < before.Length; i++)
        {
            Assert.Equal(before[i], after[i]);
        }

        using var engine = ml2.Model.CreatePredictionEngine<PathRow, EmbeddingRow>(loaded);
        float[] single = engine.Predict(new PathRow { ImagePath = fixture.ImageNames[3] }).Embedding;
        Assert.Equal(before[3], single);
        (loaded as IDisposable)?.Dispose();
    }

    [Fact]
    public void Appends_to_a_user_pipeline()
    {
        var ml = new MLContext(1);
        IDataView data = Rows(ml);
        var pipeline = ml.Transforms.CopyColumns("File", nameof(PathRow.ImagePath))
            .Append(ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, fixture.ImageFolder, "File"))
            .Append(ml.Transforms.NormalizeLpNorm("Unit", "Embedding"))
            .Append(ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(PathRow.Label)));
        using var model = pipeline.Fit(data);
        IDataView output = model.Transform(data);
        float[][] embedded = output.GetColumn<float[]>("Embedding").ToArray();
        float[][] unit = output.GetColumn<float[]>("Unit").ToArray();
        VectorAssert.Close(embedded[0], unit[0]);
    }

    [Fact]
    public void Takes_encoded_bytes_and_MLImage_columns_with_the_same_vectors_as_paths()
    {
        var ml = new MLContext(1);
        IDataView paths = Rows(ml, 4);
        using var byPath = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, fixture.ImageFolder, nameof(PathRow.ImagePath)).Fit(paths);
        float[][] expected = byPath.Transform(paths).GetColumn<float[]>("Embedding").ToArray();

        IDataView bytes = ml.Data.LoadFromEnumerable(fixture.ImagePaths.Take(4).Select(p => new BytesRow { Image = File.ReadAllBytes(p) }));
        using var byBytes = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, inputColumnName: "Image").Fit(bytes);
        float[][] fromBytes = byBytes.Transform(bytes).GetColumn<float[]>("Embedding").ToArray();

        string saved = fixture.Scratch($"bytes-{Guid.NewGuid():N}.zip");
        ml.Model.Save(byBytes, bytes.Schema, saved);
        var ml2 = new MLContext(2);
        ml2.ComponentCatalog.RegisterAssembly(typeof(ImageEmbedder).Assembly);
        ITransformer reloaded = ml2.Model.Load(saved, out _);
        float[][] fromReloaded = reloaded.Transform(bytes).GetColumn<float[]>("Embedding").ToArray();
        (reloaded as IDisposable)?.Dispose();

        IDataView images = ml.Data.LoadFromEnumerable(fixture.ImagePaths.Take(4).Select(p => new ImageRow { Image = MLImage.CreateFromFile(p) }));
        using var byImage = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, inputColumnName: "Image").Fit(images);
        float[][] fromImages = byImage.Transform(images).GetColumn<float[]>("Embedding").ToArray();

        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(expected[i], fromBytes[i]);
            Assert.Equal(expected[i], fromReloaded[i]);
            Assert.Equal(expected[i], fromImages[i]);
        }
    }

    [Fact]
    public void A_colour_model_gets_RGB_planes_and_matches_the_batched_embedder()
    {
        using var temp = new TempDirectory();
        var files = Enumerable.Range(0, 5).Select(i =>
        {
            string p = temp.File($"c{i}.jpg");
            File.WriteAllBytes(p, TestImages.Pattern(50 + i * 7, 40, SKEncodedImageFormat.Jpeg, seed: i));
            return p;
        }).ToArray();
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable(files.Select(f => new PathRow { ImagePath = f }));
        using var model = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.ColourModel, inputColumnName: "ImagePath").Fit(data);
        float[][] chain = model.Transform(data).GetColumn<float[]>("Embedding").ToArray();

        using var embedder = new ImageEmbedder(fixture.ColourModel, new ImageEmbedderOptions { BatchSize = 2, DecodeParallelism = 2 });
        ImageEmbeddingResult batched = embedder.EmbedFiles(files);
        for (int i = 0; i < files.Length; i++)
        {
            VectorAssert.Close(chain[i], batched[i]);
        }
    }

    public static TheoryData<string> BadModels => ["missing", "corrupt", "no-metadata", "graph-disagrees", "options-disagree"];

    [Theory]
    [MemberData(nameof(BadModels))]
    public void A_missing_corrupt_or_mismatched_model_fails_at_construction_saying_what_was_expected(string kind)
    {
        var ml = new MLContext(1);
        string path = fixture.Scratch($"{kind}-{Guid.NewGuid():N}.onnx");
        switch (kind)
        {
            case "corrupt": File.WriteAllBytes(path, [0x08, 0x07, 0xFF, 0xFF, 0x12, 0x99, 0x01]); break;
            case "no-metadata": File.WriteAllBytes(path, TinyOnnxModel.FlattenGemmL2(1, 28, 28, 8)); break;
            case "graph-disagrees": File.WriteAllBytes(path, TinyOnnxModel.FlattenGemmL2(1, 32, 32, 8, metadata: EmbeddingFixture.Metadata(1, 28, 28, 8, 1f))); break;
            case "options-disagree": path = fixture.GreyModel; break;
        }
        var options = new ImageEmbeddingOptions { ModelPath = path, OutputColumnName = "Embedding", ImageWidth = kind == "options-disagree" ? 32 : null };
        Exception error = Assert.ThrowsAny<Exception>(() => ml.Transforms.EmbedImages(options));
        Exception embedderError = Assert.ThrowsAny<Exception>(() => new ImageEmbedder(path, new ImageEmbedderOptions { ImageWidth = options.ImageWidth }));
        Assert.Equal(error.GetType(), embedderError.GetType());
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        switch (kind)
        {
            case "missing":
                Assert.IsType<FileNotFoundException>(error);
                break;
            case "corrupt":
                Assert.IsType<InvalidDataException>(error);
                Assert.Contains("not a loadable ONNX model", error.Message, StringComparison.Ordinal);
                break;
            case "no-metadata":
                Assert.Contains("imageretrieval.format_version", error.Message, StringComparison.Ordinal);
                break;
            case "graph-disagrees":
                Assert.Contains("float[?, 1, 32, 32]", error.Message, StringComparison.Ordinal);
                Assert.Contains("expected float[N, 1, 28, 28]", error.Message, StringComparison.Ordinal);
                break;
            case "options-disagree":
                Assert.Contains("takes 1x28x28", error.Message, StringComparison.Ordinal);
                Assert.Contains("the options expect width 32", error.Message, StringComparison.Ordinal);
                break;
        }
    }
}
