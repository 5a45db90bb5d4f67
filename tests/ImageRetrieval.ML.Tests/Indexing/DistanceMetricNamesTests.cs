using ImageRetrieval.ML.Indexing;
using ImageRetrieval.ML.Models;

namespace ImageRetrieval.ML.Tests.Indexing;

/// <summary>One distance vocabulary: the names model metadata, index manifests, checkpoints and imgret share.</summary>
public class DistanceMetricNamesTests
{
    [Fact]
    public void Every_metric_round_trips_through_its_name_and_unknown_names_are_errors()
    {
        foreach (DistanceMetric metric in Enum.GetValues<DistanceMetric>())
        {
            Assert.Equal(metric, DistanceMetricNames.Parse(metric.ToName(), "test"));
        }
        Assert.Equal(["l2", "ip", "cosine"], DistanceMetricNames.All);
        foreach (string? bad in new[] { "L2", "euclidean", "", " cosine", null })
        {
            Assert.False(DistanceMetricNames.TryParse(bad, out _));
            var error = Assert.Throws<FormatException>(() => DistanceMetricNames.Parse(bad, "model.onnx"));
            Assert.Contains("model.onnx", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("l2", DistanceMetric.SquaredL2)]
    [InlineData("ip", DistanceMetric.InnerProduct)]
    [InlineData("cosine", DistanceMetric.Cosine)]
    public void Model_metadata_accepts_the_same_names_as_index_manifests(string name, DistanceMetric expected)
    {
        var metadata = new EmbeddingModelMetadata { InputWidth = 8, InputHeight = 8, InputChannels = 1, EmbeddingDimension = 4, Metric = name };
        EmbeddingModelMetadata read = EmbeddingModelMetadata.FromDictionary(metadata.ToDictionary(), "model.onnx");
        Assert.Equal(expected, read.DistanceMetric);
    }

    [Fact]
    public void Model_metadata_with_an_unknown_metric_is_refused_naming_the_model()
    {
        var metadata = new EmbeddingModelMetadata { InputWidth = 8, InputHeight = 8, InputChannels = 1, EmbeddingDimension = 4, Metric = "manhattan" };
        var error = Assert.Throws<InvalidDataException>(() => EmbeddingModelMetadata.FromDictionary(metadata.ToDictionary(), "model.onnx"));
        Assert.Contains("model.onnx", error.Message, StringComparison.Ordinal);
        Assert.Contains("manhattan", error.Message, StringComparison.Ordinal);
    }
}
