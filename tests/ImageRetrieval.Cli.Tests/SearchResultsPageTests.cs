using ImageRetrieval.Cli.Output;
using SkiaSharp;

namespace ImageRetrieval.Cli.Tests;

public class SearchResultsPageTests
{
    [Fact]
    public void The_page_is_self_contained_escaped_and_mobile_ready()
    {
        byte[] png = TestImages.Pattern(8, 8);
        byte[] jpeg = TestImages.Pattern(8, 8, SKEncodedImageFormat.Jpeg);
        var hits = new[]
        {
            new SearchResultsPage.Hit("coat/a.png", png, "coat", 0.01f),
            new SearchResultsPage.Hit("bag/<b>.jpg", jpeg, "<script>alert(1)</script>", 0.5f),
        };
        string html = SearchResultsPage.Render("Results & more", [new QueryResults("q.png", png, "coat", hits)], ["P@1 = 1.000"]);

        Assert.Contains("name=\"viewport\"", html, StringComparison.Ordinal);
        Assert.Contains("data:image/png;base64,", html, StringComparison.Ordinal);
        Assert.Contains("data:image/jpeg;base64,", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("Results &amp; more", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html, StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
        Assert.Contains("class=\"match\"", html, StringComparison.Ordinal);
        Assert.Contains("class=\"miss\"", html, StringComparison.Ordinal);
        Assert.Contains("0.01<", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0, 0 }, "image/png")]
    [InlineData(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0 }, "image/jpeg")]
    [InlineData(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39 }, "image/gif")]
    [InlineData(new byte[] { 0x3C, 0x73, 0x76, 0x67 }, "application/octet-stream")]
    public void Mime_types_are_sniffed_from_bytes(byte[] data, string expected) =>
        Assert.Equal(expected, SearchResultsPage.SniffMimeType(data));
}
