using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using ImageRetrieval.ML.Search;
using SkiaSharp;

namespace ImageRetrieval.AspNetCore.Tests;

/// <summary>Every endpoint, and every bad input the service must answer with problem details (never a 500).</summary>
public sealed class ApiTests(WebSearchFactory factory) : IClassFixture<WebSearchFactory>
{
    private static readonly string AnkleBootQuery = Path.Combine(RepositoryFiles.SampleQueries, "ankle-boot", "test-03010.png");

    private HttpClient Client => factory.CreateClient();

    [Fact]
    public async Task Search_with_raw_bytes_returns_the_nearest_images_with_links()
    {
        using HttpResponseMessage response = await Client.PostAsync("/api/search?k=5", Png(File.ReadAllBytes(AnkleBootQuery)));
        JsonElement body = await Json(response, HttpStatusCode.OK);
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        Assert.Equal(5, body.GetProperty("k").GetInt32());
        Assert.True(body.GetProperty("milliseconds").GetDouble() > 0);
        JsonElement[] results = body.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(5, results.Length);
        Assert.Equal("ankle-boot", results[0].GetProperty("label").GetString());
        float[] distances = results.Select(r => r.GetProperty("distance").GetSingle()).ToArray();
        Assert.Equal(distances.Order(), distances);
        long key = results[0].GetProperty("key").GetInt64();
        Assert.Equal($"/api/images/{key}", results[0].GetProperty("imageUrl").GetString());
        Assert.Equal($"/api/images/{key}/thumbnail", results[0].GetProperty("thumbnailUrl").GetString());
        Assert.StartsWith("ankle-boot/", results[0].GetProperty("path").GetString());
    }

    [Fact]
    public async Task Search_with_multipart_answers_like_raw_bytes()
    {
        using var form = new MultipartFormDataContent { { Png(File.ReadAllBytes(AnkleBootQuery)), "image", "query.png" } };
        using HttpResponseMessage multipart = await Client.PostAsync("/api/search?k=3", form);
        using HttpResponseMessage raw = await Client.PostAsync("/api/search?k=3", Png(File.ReadAllBytes(AnkleBootQuery)));
        long[] Keys(JsonElement body) => body.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("key").GetInt64()).ToArray();
        Assert.Equal(Keys(await Json(raw, HttpStatusCode.OK)), Keys(await Json(multipart, HttpStatusCode.OK)));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("101")]
    [InlineData("ten")]
    [InlineData("-3")]
    public async Task Search_refuses_a_bad_k(string k)
    {
        using HttpResponseMessage response = await Client.PostAsync($"/api/search?k={k}", Png(File.ReadAllBytes(AnkleBootQuery)));
        string detail = await Problem(response, HttpStatusCode.BadRequest, "Bad request");
        Assert.Contains("k must be", detail);
    }

    [Fact]
    public async Task Not_an_image_is_415_naming_the_problem()
    {
        using HttpResponseMessage text = await Client.PostAsync("/api/search", Png("hello, I am text"u8.ToArray()));
        Assert.Contains("is not an image", await Problem(text, HttpStatusCode.UnsupportedMediaType, "Not an image"));
        using HttpResponseMessage empty = await Client.PostAsync("/api/search", Png([]));
        Assert.Contains("empty", await Problem(empty, HttpStatusCode.UnsupportedMediaType, "Not an image"));
        using HttpResponseMessage json = await Client.PostAsync("/api/search", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Contains("Content-Type 'application/json", await Problem(json, HttpStatusCode.UnsupportedMediaType, "Not an image"));
    }

    [Fact]
    public async Task Decompression_bomb_is_422_before_decoding()
    {
        using HttpResponseMessage response = await Client.PostAsync("/api/search", Png(TestImages.PngDeclaring(60_000, 60_000)));
        string detail = await Problem(response, HttpStatusCode.UnprocessableEntity, "Image too large when decoded");
        Assert.Contains("60000x60000", detail);
    }

    [Fact]
    public async Task Undecodable_image_is_422()
    {
        byte[] png = File.ReadAllBytes(AnkleBootQuery);
        byte[] truncated = png[..40];   // the signature and IHDR, then nothing
        using HttpResponseMessage response = await Client.PostAsync("/api/search", Png(truncated));
        Assert.Contains("png", await Problem(response, HttpStatusCode.UnprocessableEntity, "Undecodable image"));
        byte[] headerOnly = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "images", "header-only.jpg"));
        using HttpResponseMessage jpeg = await Client.PostAsync("/api/search", Png(headerOnly));
        await Problem(jpeg, HttpStatusCode.UnprocessableEntity, "Undecodable image");
    }

    [Fact]
    public async Task Every_hostile_fixture_is_answered_without_a_500()
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "fixtures");
        string[] files = Directory.GetFiles(fixtures, "*", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            using HttpResponseMessage response = await Client.PostAsync("/api/search?k=3", new ByteArrayContent(File.ReadAllBytes(file)));
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.UnsupportedMediaType or HttpStatusCode.UnprocessableEntity or HttpStatusCode.RequestEntityTooLarge,
                $"{Path.GetFileName(file)}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }
    }

    [Fact]
    public async Task Multipart_without_a_file_or_boundary_is_400()
    {
        using var form = new MultipartFormDataContent { { new StringContent("x"), "label" } };
        using HttpResponseMessage noFile = await Client.PostAsync("/api/search", form);
        Assert.Contains("no file part", await Problem(noFile, HttpStatusCode.BadRequest, "Bad request"));
        var noBoundary = new ByteArrayContent([1, 2, 3]);
        noBoundary.Headers.TryAddWithoutValidation("Content-Type", "multipart/form-data");
        using HttpResponseMessage broken = await Client.PostAsync("/api/search", noBoundary);
        Assert.Contains("boundary", await Problem(broken, HttpStatusCode.BadRequest, "Bad request"));
    }

    [Fact]
    public async Task Image_and_thumbnail_are_served_by_key_only()
    {
        using var index = Index();
        IndexedImage item = index.Items[0];
        using HttpResponseMessage image = await Client.GetAsync($"/api/images/{item.Key}");
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal("image/png", image.Content.Headers.ContentType?.MediaType);
        Assert.Equal(File.ReadAllBytes(Path.Combine(factory.Gallery, item.Path)), await image.Content.ReadAsByteArrayAsync());

        using HttpResponseMessage thumbnail = await Client.GetAsync($"/api/images/{item.Key}/thumbnail");
        Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);
        using SKBitmap decoded = SKBitmap.Decode(await thumbnail.Content.ReadAsByteArrayAsync());
        Assert.InRange(Math.Max(decoded.Width, decoded.Height), 1, ImageRetrievalApiOptions.Defaults.ThumbnailSize);

        Assert.Contains("No image is indexed under key 987654", await Problem(await Client.GetAsync("/api/images/987654"), HttpStatusCode.NotFound, "Not found"));
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync("/api/images/987654/thumbnail")).StatusCode);
        foreach (string path in new[] { "/api/images/..%2F..%2Fetc%2Fpasswd", "/api/images/ankle-boot%2Ftest-00709.png", "/api/images/1.5" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(path)).StatusCode);
        }
    }

    [Fact]
    public async Task Info_health_openapi_and_page()
    {
        JsonElement info = await Json(await Client.GetAsync("/api/info"), HttpStatusCode.OK);
        Assert.True(info.GetProperty("count").GetInt32() >= 200);
        Assert.Equal(64, info.GetProperty("dimension").GetInt32());
        Assert.Equal("l2", info.GetProperty("metric").GetString());
        Assert.False(info.GetProperty("readOnly").GetBoolean());

        using HttpResponseMessage health = await Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal("Healthy", await health.Content.ReadAsStringAsync());

        JsonElement openApi = await Json(await Client.GetAsync("/openapi/v1.json"), HttpStatusCode.OK);
        JsonElement paths = openApi.GetProperty("paths");
        foreach (string path in new[] { "/api/search", "/api/images", "/api/images/{key}", "/api/images/{key}/thumbnail", "/api/info" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }

        using HttpResponseMessage page = await Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"app.js\"", html);
        foreach (string asset in new[] { "/", "/app.js", "/app.css" })
        {
            string text = await Client.GetStringAsync(asset);
            Assert.DoesNotContain("http://", text);
            Assert.DoesNotContain("https://", text);
            Assert.DoesNotContain("//cdn", text);
        }
    }

    [Fact]
    public async Task Adding_needs_the_key_is_saved_crash_safely_and_is_searchable_then_removable()
    {
        byte[] upload = TestImages.Pattern(40, 40, seed: 11);
        using HttpResponseMessage anonymous = await Client.PostAsync("/api/images", Form(upload, "pattern"));
        await Problem(anonymous, HttpStatusCode.Unauthorized, "API key required");
        using HttpResponseMessage wrong = await Send(HttpMethod.Post, "/api/images", Form(upload, "pattern"), "not-the-key-0123456789");
        await Problem(wrong, HttpStatusCode.Unauthorized, "API key required");

        int Uploads() => Directory.Exists(Path.Combine(factory.Gallery, "uploads")) ? Directory.GetFiles(Path.Combine(factory.Gallery, "uploads"), "*", SearchOption.AllDirectories).Length : 0;
        int before = Uploads();
        using HttpResponseMessage notImage = await Send(HttpMethod.Post, "/api/images", Form("text"u8.ToArray(), "x"), WebSearchFactory.Key);
        await Problem(notImage, HttpStatusCode.UnsupportedMediaType, "Not an image");
        Assert.Equal(before, Uploads());

        using HttpResponseMessage added = await Send(HttpMethod.Post, "/api/images", Form(upload, "pattern"), WebSearchFactory.Key);
        JsonElement body = await Json(added, HttpStatusCode.Created);
        JsonElement item = body.GetProperty("added")[0];
        long key = item.GetProperty("key").GetInt64();
        string path = item.GetProperty("path").GetString()!;
        Assert.StartsWith("uploads/", path);
        Assert.Equal("pattern", item.GetProperty("label").GetString());
        Assert.Equal($"/api/images/{key}", added.Headers.Location?.OriginalString);
        Assert.Equal(upload, File.ReadAllBytes(Path.Combine(factory.Gallery, path)));

        // Durable before the answer: the saved index (a new version, made current atomically) holds it.
        using (var reopened = Index())
        {
            Assert.Equal("pattern", reopened.Get(key)?.Label);
        }
        JsonElement found = await Json(await Client.PostAsync("/api/search?k=1", Png(upload)), HttpStatusCode.OK);
        Assert.Equal(key, found.GetProperty("results")[0].GetProperty("key").GetInt64());

        await Problem(await Client.DeleteAsync($"/api/images/{key}"), HttpStatusCode.Unauthorized, "API key required");
        using HttpResponseMessage removed = await Send(HttpMethod.Delete, $"/api/images/{key}", null, WebSearchFactory.Key);
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        Assert.False(File.Exists(Path.Combine(factory.Gallery, path)));
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync($"/api/images/{key}")).StatusCode);
        await Problem(await Send(HttpMethod.Delete, $"/api/images/{key}", null, WebSearchFactory.Key), HttpStatusCode.NotFound, "Not found");
        using (var reopened = Index())
        {
            Assert.Null(reopened.Get(key));
        }
    }

    [Fact]
    public async Task Adding_many_images_in_one_request()
    {
        using var form = new MultipartFormDataContent
        {
            { Png(TestImages.Pattern(30, 30, seed: 21)), "image", "a.png" },
            { Png(TestImages.Pattern(30, 30, SKEncodedImageFormat.Jpeg, seed: 22)), "image", "b.jpg" },
            { new StringContent("many"), "label" },
        };
        JsonElement body = await Json(await Send(HttpMethod.Post, "/api/images", form, WebSearchFactory.Key), HttpStatusCode.Created);
        JsonElement[] added = body.GetProperty("added").EnumerateArray().ToArray();
        Assert.Equal(2, added.Length);
        Assert.EndsWith(".jpg", added[1].GetProperty("path").GetString());
        Assert.All(added, a => Assert.Equal("many", a.GetProperty("label").GetString()));
    }

    private ImageSearchIndex Index() => ImageSearchIndex.Open(factory.IndexDirectory, RepositoryFiles.BundledModel);

    private Task<HttpResponseMessage> Send(HttpMethod method, string url, HttpContent? content, string key)
    {
        var request = new HttpRequestMessage(method, url) { Content = content };
        request.Headers.Add("X-Api-Key", key);
        return Client.SendAsync(request);
    }

    internal static ByteArrayContent Png(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        return content;
    }

    private static MultipartFormDataContent Form(byte[] image, string label) =>
        new() { { Png(image), "image", "upload.png" }, { new StringContent(label), "label" } };

    internal static async Task<JsonElement> Json(HttpResponseMessage response, HttpStatusCode expected)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(expected == response.StatusCode, $"expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Checks a problem-details answer and returns its detail.</summary>
    internal static async Task<string> Problem(HttpResponseMessage response, HttpStatusCode status, string title)
    {
        JsonElement body = await Json(response, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.Equal(title, body.GetProperty("title").GetString());
        return body.TryGetProperty("detail", out JsonElement detail) ? detail.GetString() ?? "" : "";
    }
}
