using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Search;
using ImageRetrieval.ML.Tests.Search;
using ImageRetrieval.ML.VectorStores;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.VectorData;

namespace ImageRetrieval.ML.Tests.DependencyInjection;

/// <summary>services.AddImageRetrieval / AddImageEmbeddingGenerator / AddHnswVectorStore, as an application composes them.</summary>
public sealed class ServiceRegistrationTests(SearchFixture fixture) : IClassFixture<SearchFixture>
{
    [Fact]
    public void AddImageRetrieval_binds_options_from_configuration_and_creates_then_reopens_the_index()
    {
        string directory = fixture.Scratch("di-" + Guid.NewGuid().ToString("N"));
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ImageRetrieval:ModelPath"] = fixture.Model,
            ["ImageRetrieval:GalleryRoot"] = fixture.Gallery,
            ["ImageRetrieval:IndexDirectory"] = directory,
            ["ImageRetrieval:Index:EfSearch"] = "77",
            ["ImageRetrieval:Index:Embedder:BatchSize"] = "16",
        }).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddImageRetrieval(configuration.GetSection(ImageRetrievalOptions.SectionName));
        using (ServiceProvider provider = services.BuildServiceProvider())
        {
            ImageRetrievalOptions options = provider.GetRequiredService<IOptions<ImageRetrievalOptions>>().Value;
            Assert.Equal((77, 16), (options.Index.EfSearch, options.Index.Embedder.BatchSize));
            var index = provider.GetRequiredService<ImageSearchIndex>();
            Assert.Same(index, provider.GetRequiredService<ImageSearchIndex>());
            Assert.Equal(77, index.Options.EfSearch);
            index.AddFiles(fixture.Paths.Take(20).ToList());
            index.Save(directory);
        }
        using (ServiceProvider provider = services.BuildServiceProvider())
        {
            Assert.Equal(20, provider.GetRequiredService<ImageSearchIndex>().Count); // opened from IndexDirectory
        }
    }

    [Fact]
    public void Missing_settings_fail_with_a_message_naming_them()
    {
        using ServiceProvider provider = new ServiceCollection().AddImageRetrieval(o => o.GalleryRoot = fixture.Gallery).Services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<ImageSearchIndex>());
        Assert.Contains("ModelPath", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddImageEmbeddingGenerator_returns_a_builder_that_composes_middleware()
    {
        var services = new ServiceCollection().AddLogging(b => b.SetMinimumLevel(LogLevel.Trace));
        services.AddImageRetrieval(o => o.ModelPath = fixture.Model);
        services.AddImageEmbeddingGenerator().UseLogging();
        using ServiceProvider provider = services.BuildServiceProvider();
        var generator = provider.GetRequiredService<IEmbeddingGenerator<DataContent, Embedding<float>>>();
        Assert.IsNotType<ImageEmbeddingGenerator>(generator); // wrapped by the logging middleware
        Assert.NotNull(generator.GetService<ImageEmbeddingGenerator>());
        Assert.Equal(16, generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
        var embeddings = await generator.GenerateAsync(fixture.Paths.Take(3).Select(p => new DataContent(File.ReadAllBytes(p), "image/png")));
        Assert.Equal(3, embeddings.Count);
    }

    [Fact]
    public async Task The_registered_HNSW_store_embeds_image_records_with_the_registered_generator()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddImageEmbeddingGenerator(fixture.Model);
        services.AddHnswVectorStore(o => o.Directory = fixture.Scratch("di-store-" + Guid.NewGuid().ToString("N")));
        services.AddHnswCollection<Guid, Photo>("photos");
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Same(provider.GetRequiredService<HnswVectorStore>(), provider.GetRequiredService<VectorStore>());
        var photos = provider.GetRequiredService<VectorStoreCollection<Guid, Photo>>();
        await photos.EnsureCollectionExistsAsync();
        var records = fixture.Paths.Take(60).Select(p => new Photo
        {
            Id = Guid.NewGuid(),
            Path = p,
            Category = Path.GetFileName(Path.GetDirectoryName(p))!,
            Image = new DataContent(File.ReadAllBytes(p), "image/png"),
        }).ToList();
        await photos.UpsertAsync(records);
        Photo query = records[^1];
        var hits = await photos.SearchAsync(query.Image!, 3, new() { Filter = p => p.Category == query.Category }).ToListAsync();
        Assert.Equal(query.Id, hits[0].Record.Id);
        Assert.All(hits, h => Assert.Equal(query.Category, h.Record.Category));
        Assert.Null(hits[0].Record.Image); // the source image is not stored, only its embedding
        await Assert.ThrowsAsync<NotSupportedException>(() => photos.GetAsync(query.Id, new RecordRetrievalOptions { IncludeVectors = true }));
    }

    public sealed class Photo
    {
        [VectorStoreKey]
        public Guid Id { get; set; }

        [VectorStoreData]
        public string Path { get; set; } = "";

        [VectorStoreData(IsIndexed = true)]
        public string Category { get; set; } = "";

        [VectorStoreVector(16)]
        public DataContent? Image { get; set; }
    }
}
