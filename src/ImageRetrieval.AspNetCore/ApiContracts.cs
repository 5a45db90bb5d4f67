namespace ImageRetrieval.AspNetCore;

/// <summary>One hit of a search: the indexed image, its distance and where to fetch it.</summary>
internal sealed record SearchHitResponse(int Rank, long Key, string? Label, float Distance, string Path, string ImageUrl, string ThumbnailUrl);

/// <summary>A search's answer: the hits, nearest first, and the server-side time taken (reading, decoding, embedding, searching).</summary>
internal sealed record SearchResponse(int K, double Milliseconds, IReadOnlyList<SearchHitResponse> Results);

/// <summary>An image the service indexes.</summary>
internal sealed record ImageResponse(long Key, string Path, string? Label, string ImageUrl, string ThumbnailUrl);

/// <summary>The answer to an upload: the images added, and the time taken.</summary>
internal sealed record AddImagesResponse(IReadOnlyList<ImageResponse> Added, double Milliseconds);

/// <summary>What the service holds and runs.</summary>
internal sealed record InfoResponse(
    int Count, int Dimension, string Metric, string? Architecture, string? TrainingDataset, string ModelFile, string ModelSha256,
    string ExecutionProvider, bool ReadOnly, long MaxRequestBytes, int MaxResults, int MaxConcurrentRequests, int QueueLimit);
