using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace ImageRetrieval.ML.Tests.Embedding;

/// <summary>The ML.NET workout of <c>mlContext.Transforms.EmbedImagesBatched</c>.</summary>
public class BatchedImageEmbeddingTests(EmbeddingFixture fixture) : IClassFixture<EmbeddingFixture>
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

    private sealed class EmbeddingRow
    {
        public float[] Embedding { get; set; } = [];
    }

    private IDataView Rows(MLContext ml, IEnumerable<string> names) =>
        ml.Data.LoadFromEnumerable(names.Select((n, i) => new PathRow { ImagePath = n, Label = i }));

    [Fact]
    public void Batched_transformer_matches_the_plain_chain_row_for_row_and_keeps_other_columns()
    {
        var ml = new MLContext(1);
        IDataView data = Rows(ml, fixture.ImageNames);
        using var plain = (TransformerChain<ITransformer>)ml.Transforms.EmbedImages("Embedding", fixture.GreyModel, fixture.ImageFolder, "ImagePath").Fit(data);
        var options = new ImageEmbeddingOptions
        {
            OutputColumnName = "Embedding", ModelPath = fixture.GreyModel, ImageFolder = fixture.ImageFolder, InputColumnName = "ImagePath",
            BatchSize = 7, DecodeParallelism = 2,
        };
        var estimator = ml.Transforms.EmbedImagesBatched(options);
        using BatchedImageEmbeddingTransformer batched = estimator.Fit(data);
        IDataView output = batched.Transform(data);

        Assert.Equal(plain.Transform(data).Schema["Embedding"].Type, output.Schema["Embedding"].Type);
        Assert.Equal(data.GetRowCount(), output.GetRowCount());
        float[][] expected = plain.Transform(data).GetColumn<float[]>("Embedding").ToArray();
        float[][] actual = output.GetColumn<float[]>("Embedding").ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            VectorAssert.Close(expected[i], actual[i]);
        }
        Assert.Equal(Enumerable.Range(0, 64), output.GetColumn<int>("Label"));
        Assert.Equal(fixture.ImageNames, output.GetColumn<string>("ImagePath"));
        // Cursoring only a pass-through column does not need the model.
        Assert.Equal(64, output.GetColumn<int>("Label").Count());
        Assert.Equal(ExecutionProviderInfo.Cpu, batched.ExecutionProvider.Name);
    }

    [Fact]
    public void Encoded_byte_columns_are_batched_too()
    {
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable(fixture.ImagePaths.Take(10).Select(p => new BytesRow { Image = File.ReadAllBytes(p) }));
        using var batched = ml.Transforms.EmbedImagesBatched("Embedding", fixture.GreyModel, inputColumnName: "Image", batchSize: 4).Fit(data);
        float[][] vectors = batched.Transform(data).GetColumn<float[]>("Embedding").ToArray();
        using var embedder = new ImageEmbedder(fixture.GreyModel);
        for (int i = 0; i < 10; i++)
        {
            VectorAssert.Close(embedder.Embed(fixture.ImagePaths[i]), vectors[i]);
        }
    }

    [Fact]
    public void Skip_drops_bad_rows_and_reports_them_while_Throw_names_the_file()
    {
        using var temp = new TempDirectory();
        string empty = temp.File("empty.png");
        File.WriteAllBytes(empty, []);
        string bomb = temp.File("bomb.png");
        File.WriteAllBytes(bomb, TestImages.PngDeclaring(50_000, 50_000));
        var names = fixture.ImagePaths.Take(10).ToList();
        names.Insert(3, empty);
        names.Insert(8, temp.File("missing.png"));
        names.Add(bomb);

        var ml = new MLContext(1);
        IDataView data = Rows(ml, names);
        using var skipping = ml.Transforms.EmbedImagesBatched("Embedding", fixture.GreyModel, inputColumnName: "ImagePath", batchSize: 2, onError: ImageErrorPolicy.Skip).Fit(data);
        IDataView output = skipping.Transform(data);
        Assert.Null(output.GetRowCount());
        int[] labels = output.GetColumn<int>("Label").ToArray();
        Assert.Equal(Enumerable.Range(0, 13).Except([3, 8, 12]), labels);
        float[][] vectors = output.GetColumn<float[]>("Embedding").ToArray();
        using var embedder = new ImageEmbedder(fixture.GreyModel);
        for (int i = 0; i < labels.Length; i++)
        {
            VectorAssert.Close(embedder.Embed(names[labels[i]]), vectors[i]);
        }
        Assert.Equal([3L, 8L, 12L], skipping.SkippedImages.Select(e => e.Index));
        Assert.Equal([empty, names[8], bomb], skipping.SkippedImages.Select(e => e.Source));

        using var throwing = ml.Transforms.EmbedImagesBatched("Embedding", fixture.GreyModel, inputColumnName: "ImagePath", batchSize: 2).Fit(data);
        var error = Assert.Throws<ImageDecodeException>(() => throwing.Transform(data).GetColumn<float[]>("Embedding").ToArray());
        Assert.Equal(empty, error.ImageSource);
    }

    [Fact]
    public void Saves_as_the_plain_chain_reloads_with_equal_outputs_and_serves_a_PredictionEngine()
    {
        var ml = new MLContext(1);
        IDataView data = Rows(ml, fixture.ImageNames.Take(6));
        using var batched = ml.Transforms.EmbedImagesBatched("Embedding", fixture.GreyModel, fixture.ImageFolder, "ImagePath", batchSize: 4).Fit(data);
        float[][] before = batched.Transform(data).GetColumn<float[]>("Embedding").ToArray();

        using var engine = ml.Model.CreatePredictionEngine<PathRow, EmbeddingRow>(batched);
        VectorAssert.Close(before[2], engine.Predict(new PathRow { ImagePath = fixture.ImageNames[2] }).Embedding);

        string path = fixture.Scratch($"batched-{Guid.NewGuid():N}.zip");
        ml.Model.Save(batched, data.Schema, path);
        ITransformer loaded = new MLContext(2).Model.Load(path, out _);
        float[][] after = loaded.Transform(data).GetColumn<float[]>("Embedding").ToArray();
        for (int i = 0; i < before.Length; i++)
        {
            VectorAssert.Close(before[i], after[i]);
        }
        (loaded as IDisposable)?.Dispose();
    }

    [Fact]
    public void MLImage_columns_are_refused_with_a_pointer_to_EmbedImages()
    {
        var ml = new MLContext(1);
        IDataView data = ml.Data.LoadFromEnumerable(fixture.ImagePaths.Take(1).Select(p => new ImageRow { Image = MLImage.CreateFromFile(p) }));
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.Transforms.EmbedImagesBatched("Embedding", fixture.GreyModel, inputColumnName: "Image").Fit(data));
        Assert.Contains("EmbedImages", error.Message, StringComparison.Ordinal);
    }

    private sealed class ImageRow
    {
        [ImageType(28, 28)]
        public MLImage? Image { get; set; }
    }
}
