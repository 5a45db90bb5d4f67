using System.Net;
using System.Net.Http.Headers;

namespace ImageRetrieval.AspNetCore.Tests;

/// <summary>
/// The limits: body size (413), one request at a time with no queue (429), a deadline (504), read-only (403). The
/// tests with a stalled body run on Kestrel: the in-memory test server does not cancel a pending body read.
/// </summary>
public sealed class LimitsTests
{
    private static Dictionary<string, string?> Settings(params (string Name, string Value)[] values) =>
        values.ToDictionary(v => "ImageRetrieval:Api:" + v.Name, v => (string?)v.Value);

    [Fact]
    public async Task Body_over_the_limit_is_413_with_or_without_a_length()
    {
        using var factory = new WebSearchFactory(2, Settings(("MaxRequestBytes", "4096")));
        HttpClient client = factory.CreateClient();
        byte[] big = new byte[10_000];
        using HttpResponseMessage declared = await client.PostAsync("/api/search", ApiTests.Png(big));
        Assert.Contains("4096 bytes", await ApiTests.Problem(declared, HttpStatusCode.RequestEntityTooLarge, "Request too large"));
        var chunked = new StreamContent(new MemoryStream(big));   // no Content-Length: counted while reading
        chunked.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/search") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using HttpResponseMessage streamed = await client.SendAsync(request);
        await ApiTests.Problem(streamed, HttpStatusCode.RequestEntityTooLarge, "Request too large");
    }

    [Fact]
    public async Task A_full_queue_is_429_with_retry_after_and_the_running_request_completes()
    {
        using var factory = new WebSearchFactory(2, Settings(("MaxConcurrentRequests", "1"), ("QueueLimit", "0")));
        using HttpClient client = factory.StartKestrel();
        byte[] query = File.ReadAllBytes(Directory.GetFiles(Path.Combine(RepositoryFiles.SampleQueries, "bag"))[0]);
        var gate = new GatedContent(query);
        Task<HttpResponseMessage> first = client.PostAsync("/api/search?k=1", gate);
        await gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(60));   // the first request holds the only turn while its body is still arriving
        using HttpResponseMessage second = await client.PostAsync("/api/search?k=1", ApiTests.Png(query));
        await ApiTests.Problem(second, HttpStatusCode.TooManyRequests, "Too many requests");
        Assert.True(second.Headers.RetryAfter is not null);
        gate.Release();
        using HttpResponseMessage done = await first.WaitAsync(TimeSpan.FromSeconds(60));
        await ApiTests.Json(done, HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_request_past_the_deadline_is_504()
    {
        // The body stalls past the 0.2 s deadline: the server cancels the read and answers 504. HttpClient reads an answer
        // only once it has sent the whole body, so the rest follows after a pause far longer than the deadline (a wait,
        // not a timing assertion).
        using var factory = new WebSearchFactory(2, Settings(("RequestTimeout", "00:00:00.200")));
        using HttpClient client = factory.StartKestrel();
        var gate = new GatedContent(File.ReadAllBytes(Directory.GetFiles(Path.Combine(RepositoryFiles.SampleQueries, "bag"))[0]));
        Task<HttpResponseMessage> request = client.PostAsync("/api/search?k=1", gate);
        await gate.Started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(5));
        gate.Release();
        using HttpResponseMessage response = await request.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("0.2 s", await ApiTests.Problem(response, HttpStatusCode.GatewayTimeout, "Request timed out"));
    }

    [Fact]
    public async Task Read_only_refuses_writes_with_403_and_says_so_in_info()
    {
        using var factory = new WebSearchFactory(2, Settings(("ReadOnly", "true")));
        HttpClient client = factory.CreateClient();
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/images") { Content = ApiTests.Png(TestImages.Pattern(8, 8)) };
        request.Headers.Add("X-Api-Key", WebSearchFactory.Key);
        Assert.Contains("read-only", await ApiTests.Problem(await client.SendAsync(request), HttpStatusCode.Forbidden, "Read-only"));
        var delete = new HttpRequestMessage(HttpMethod.Delete, "/api/images/0");
        delete.Headers.Add("X-Api-Key", WebSearchFactory.Key);
        await ApiTests.Problem(await client.SendAsync(delete), HttpStatusCode.Forbidden, "Read-only");
        Assert.True((await ApiTests.Json(await client.GetAsync("/api/info"), HttpStatusCode.OK)).GetProperty("readOnly").GetBoolean());
    }

    /// <summary>A body that sends its first bytes, signals <see cref="Started"/>, and sends the rest only after <see cref="Release"/>.</summary>
    private sealed class GatedContent(byte[] bytes) : HttpContent
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _release.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(bytes.AsMemory(0, 8));
            await stream.FlushAsync();
            Started.TrySetResult();
            await _release.Task;
            await stream.WriteAsync(bytes.AsMemory(8));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = bytes.Length;
            return true;
        }
    }
}
