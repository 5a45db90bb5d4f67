namespace ImageRetrieval.ML.Models;

/// <summary>Where the description of how to feed a model came from (the first that exists, in this order).</summary>
public enum EncoderDescriptionSource
{
    /// <summary>Given in code: <c>ImageEmbedderOptions.Encoder</c> or <c>ImageEmbeddingOptions.Encoder</c>.</summary>
    Options,

    /// <summary>The JSON file beside the model (<c>model.onnx.json</c>, <see cref="ImageEncoderDescription.SidecarPath"/>).</summary>
    DescriptionFile,

    /// <summary>The model's own <c>imageretrieval.*</c> metadata (<see cref="EmbeddingModelMetadata"/>).</summary>
    Metadata,
}
