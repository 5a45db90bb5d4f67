namespace ImageRetrieval.AspNetCore;

/// <summary>
/// Settings of the image search endpoints (<c>services.AddImageRetrievalApi(...)</c>), bound from configuration by
/// default from the <c>ImageRetrieval:Api</c> section. Without an <see cref="ApiKey"/> the service is read-only.
/// </summary>
public sealed class ImageRetrievalApiOptions
{
    /// <summary>The configuration section <c>AddImageRetrievalApi(IConfiguration)</c> is usually given.</summary>
    public const string SectionName = "ImageRetrieval:Api";

    /// <summary>Defaults shared by the options and <c>imgret serve</c>.</summary>
    public static class Defaults
    {
        /// <summary>Largest request body: 16 MiB (a phone photo is 2–8 MB).</summary>
        public const long MaxRequestBytes = 16L * 1024 * 1024;

        /// <summary>Requests queued behind the running ones before the service answers 429.</summary>
        public const int QueueLimit = 256;

        /// <summary>Most results one search returns.</summary>
        public const int MaxResults = 100;

        /// <summary>Results of a search without <c>k</c>.</summary>
        public const int DefaultResults = 10;

        /// <summary>Longest side of a thumbnail, in pixels.</summary>
        public const int ThumbnailSize = 160;

        /// <summary>Most images in one <c>POST /api/images</c>.</summary>
        public const int MaxImagesPerRequest = 64;

        /// <summary>Seconds a request may take before it is answered with 504.</summary>
        public const int RequestTimeoutSeconds = 30;

        /// <summary>Requests running at once: two per core (searches are CPU-bound; two keep the cores busy while one waits on I/O).</summary>
        public static int MaxConcurrentRequests => Math.Max(2, 2 * Environment.ProcessorCount);
    }

    /// <summary>
    /// The key that <c>POST /api/images</c> and <c>DELETE /api/images/{key}</c> require in the <c>X-Api-Key</c> header.
    /// Null (the default): adding and removing are refused with 403.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Refuse adding and removing even when an <see cref="ApiKey"/> is set.</summary>
    public bool ReadOnly { get; set; }

    /// <summary>Largest request body in bytes; larger requests are answered with 413.</summary>
    public long MaxRequestBytes { get; set; } = Defaults.MaxRequestBytes;

    /// <summary>Requests of the API running at once; more wait in a queue of <see cref="QueueLimit"/>.</summary>
    public int MaxConcurrentRequests { get; set; } = Defaults.MaxConcurrentRequests;

    /// <summary>Requests waiting for a turn; beyond it the service answers 429 with <c>Retry-After</c>.</summary>
    public int QueueLimit { get; set; } = Defaults.QueueLimit;

    /// <summary>How long one API request may take (queueing included) before it is cancelled and answered with 504.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(Defaults.RequestTimeoutSeconds);

    /// <summary>The largest <c>k</c> a search accepts.</summary>
    public int MaxResults { get; set; } = Defaults.MaxResults;

    /// <summary>Most images in one upload.</summary>
    public int MaxImagesPerRequest { get; set; } = Defaults.MaxImagesPerRequest;

    /// <summary>Longest side of a thumbnail, in pixels.</summary>
    public int ThumbnailSize { get; set; } = Defaults.ThumbnailSize;

    /// <summary>The gallery sub-folder uploaded images are saved in (names are chosen by the service, never by the request).</summary>
    public string UploadFolder { get; set; } = "uploads";

    /// <summary>Serve the search page at the prefix's root (<c>/</c>).</summary>
    public bool ServePage { get; set; } = true;

    /// <summary>Map the OpenAPI document at <c>/openapi/v1.json</c> (turn off when the app maps its own).</summary>
    public bool MapOpenApiDocument { get; set; } = true;

    /// <summary>Whether adding and removing are allowed: an API key is set and the service is not read-only.</summary>
    public bool WritesEnabled => !ReadOnly && !string.IsNullOrEmpty(ApiKey);

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">A value is out of range.</exception>
    public void Validate()
    {
        if (MaxRequestBytes < 1 || MaxConcurrentRequests < 1 || QueueLimit < 0 || MaxResults < 1 || MaxImagesPerRequest < 1 || ThumbnailSize is < 16 or > 1024)
        {
            throw new ArgumentException("ImageRetrieval:Api: MaxRequestBytes, MaxConcurrentRequests, MaxResults and MaxImagesPerRequest must be positive, QueueLimit ≥ 0, ThumbnailSize 16..1024.");
        }
        if (RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ImageRetrieval:Api:RequestTimeout must be positive, got {RequestTimeout}.");
        }
        if (string.IsNullOrWhiteSpace(UploadFolder) || Path.IsPathRooted(UploadFolder) || UploadFolder.Split('/', '\\').Any(p => p is ".." or "."))
        {
            throw new ArgumentException($"ImageRetrieval:Api:UploadFolder must be a relative folder inside the gallery, got '{UploadFolder}'.");
        }
    }
}
