using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Models;
using Microsoft.Extensions.AI;

namespace ImageRetrieval.ML.Tests.Embedding;

/// <summary>The Microsoft.Extensions.AI image embedding generator over the batched embedder.</summary>
public sealed class ImageEmbeddingGeneratorTests(EmbeddingFixture fixture) : IClassFixture<EmbeddingFixture>
{
    private List<DataContent> Images(int count) =>
        fixture.ImagePaths.Take(count).Select(p => new DataContent(File.ReadAllBytes(p), "image/png") { Name = Path.GetFileName(p) }).ToList();

    [Fact]
    public async Task One_call_with_many_images_gives_the_batched_embedders_vectors_in_order()
    {
        using var embedder = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 8 });
        using var generator = new ImageEmbeddingGenerator(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 8 });
        var images = Images(20);
        GeneratedEmbeddings<Embedding<float>> embeddings = await generator.GenerateAsync(images);
        ImageEmbeddingResult expected = embedder.EmbedFiles(fixture.ImagePaths.Take(20).ToList());
        Assert.Equal(20, embeddings.Count);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(expected[i].ToArray(), embeddings[i].Vector.ToArray(), new Tolerance(1e-5f));
            Assert.Equal("grey-conv", embeddings[i].ModelId);
        }
        // One image (the query path) gives the same vector as in a batch.
        Embedding<float> single = await generator.GenerateAsync(images[3]);
        Assert.Equal(expected[3].ToArray(), single.Vector.ToArray(), new Tolerance(1e-5f));
    }

    [Fact]
    public async Task File_URIs_are_read_and_embedded_like_their_bytes()
    {
        using var generator = new ImageEmbeddingGenerator(fixture.GreyModel);
        var uris = fixture.ImagePaths.Take(5).Select(p => new UriContent(new Uri(p), "image/png")).ToList();
        var fromUris = await generator.GenerateAsync(uris);
        var fromBytes = await generator.GenerateAsync(Images(5));
        Assert.Equal(fromBytes.Select(e => e.Vector.ToArray()), fromUris.Select(e => e.Vector.ToArray()));
        await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync([new UriContent(new Uri("https://example.invalid/a.png"), "image/png")]));
    }

    [Fact]
    public void Metadata_reports_the_model_and_its_dimension()
    {
        using var generator = new ImageEmbeddingGenerator(fixture.GreyModel);
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal(ImageEmbeddingGenerator.ProviderName, metadata.ProviderName);
        Assert.Equal("grey-conv", metadata.DefaultModelId);
        Assert.Equal(16, metadata.DefaultModelDimensions);
        Assert.Equal(16, generator.GetService<EmbeddingModelMetadata>()!.EmbeddingDimension);
        Assert.Same(generator.Embedder, generator.GetService<ImageEmbedder>());
    }

    [Fact]
    public async Task A_bad_image_is_an_error_naming_it_or_under_the_skip_policy_an_empty_embedding_with_the_reason()
    {
        var images = Images(4);
        images[2] = new DataContent("not an image"u8.ToArray(), "image/png") { Name = "broken.png" };
        using (var strict = new ImageEmbeddingGenerator(fixture.GreyModel))
        {
            var e = await Assert.ThrowsAsync<ImageDecodeException>(() => strict.GenerateAsync(images));
            Assert.Equal("broken.png", e.ImageSource);
        }
        using var lenient = new ImageEmbeddingGenerator(fixture.GreyModel, new ImageEmbedderOptions { OnError = ImageErrorPolicy.Skip });
        var embeddings = await lenient.GenerateAsync(images);
        Assert.Equal(4, embeddings.Count);
        Assert.Equal(0, embeddings[2].Vector.Length);
        Assert.Contains("broken.png", (string)embeddings[2].AdditionalProperties!["error"]!, StringComparison.Ordinal);
        Assert.Equal([2], (int[])embeddings.AdditionalProperties!["skipped"]!);
        Assert.All(new[] { 0, 1, 3 }, i => Assert.Equal(16, embeddings[i].Vector.Length));
    }

    [Fact]
    public async Task Content_that_is_not_an_image_and_a_wrong_dimension_are_refused()
    {
        using var generator = new ImageEmbeddingGenerator(fixture.GreyModel);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync([new DataContent("x"u8.ToArray(), "text/plain")]));
        Assert.Contains("text/plain", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateAsync(Images(2), new EmbeddingGenerationOptions { Dimensions = 3 }));
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        using var generator = new ImageEmbeddingGenerator(fixture.GreyModel);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => generator.GenerateAsync(Images(10), cancellationToken: cancelled.Token));
    }

    [Fact]
    public void A_single_image_is_embedded_while_a_batch_job_holds_the_embedder()
    {
        using var embedder = new ImageEmbedder(fixture.GreyModel, new ImageEmbedderOptions { BatchSize = 8 });
        byte[] query = File.ReadAllBytes(fixture.ImagePaths[0]);
        float[]? during = null;
        // The progress callback runs inside the batch pipeline's turn; a single embed that queued behind it would never finish.
        var progress = new Inline<ImageEmbeddingProgress>(p =>
        {
            if (during is null)
            {
                Task<float[]> single = Task.Run(() => embedder.Embed(query, "query"));
                Assert.True(single.Wait(TimeSpan.FromMinutes(2)), "a single embed waited behind the batch job");
                during = single.Result;
            }
        });
        embedder.EmbedFiles(fixture.ImagePaths.Take(24).ToList(), progress);
        Assert.Equal(embedder.Embed(query, "query"), during);
    }

    private sealed class Inline<T>(Action<T> handler) : IProgress<T>
    {
        public void Report(T value) => handler(value);
    }

    private sealed class Tolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }
}
