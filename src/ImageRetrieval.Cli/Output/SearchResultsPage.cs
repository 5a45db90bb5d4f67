using System.Globalization;
using System.Net;
using System.Text;
using ImageRetrieval.IO;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.Cli.Output;

/// <summary>One query and its ranked results, for <see cref="SearchResultsPage"/>.</summary>
/// <param name="QueryName">A display name for the query (e.g. its file name).</param>
/// <param name="QueryImage">The query's encoded image bytes (PNG, JPEG, ...).</param>
/// <param name="QueryLabel">The query's label, when known (results with the same label are marked as matches).</param>
/// <param name="Hits">The ranked results.</param>
internal sealed record QueryResults(string QueryName, byte[] QueryImage, string? QueryLabel, IReadOnlyList<SearchResultsPage.Hit> Hits);

/// <summary>
/// Renders search results as one self-contained HTML page: every image is embedded as a data URI,
/// no external files, scripts or fonts; the layout is a responsive grid that reads well on a phone.
/// </summary>
internal static class SearchResultsPage
{
    /// <summary>A result to show: rank order is the list order.</summary>
    /// <param name="Name">The gallery path of the result.</param>
    /// <param name="Image">The result's encoded image bytes.</param>
    /// <param name="Label">The result's label, if any.</param>
    /// <param name="Distance">Distance to the query (smaller is closer).</param>
    public sealed record Hit(string Name, byte[] Image, string? Label, float Distance);

    /// <summary>
    /// Writes the page for <paramref name="queries"/> (query file, its label if known, its results) to <paramref name="path"/>,
    /// atomically; the result images are read from the index's gallery root (a missing one shows as an empty image).
    /// </summary>
    public static void Write(ImageSearchIndex index, string path, IReadOnlyList<(string QueryPath, string? QueryLabel, IReadOnlyList<ImageSearchResult> Results)> queries, IReadOnlyList<string> summary)
    {
        var sections = new List<QueryResults>();
        foreach (var (queryPath, queryLabel, results) in queries)
        {
            var hits = results.Select(r =>
            {
                string file = index.ResolvePath(new IndexedImage(r.Key, r.Path, r.Label));
                byte[] bytes = File.Exists(file) ? File.ReadAllBytes(file) : [];
                return new Hit(r.Path, bytes, r.Label, r.Distance);
            }).ToList();
            sections.Add(new QueryResults(Path.GetFileName(queryPath), File.ReadAllBytes(queryPath), queryLabel, hits));
        }
        AtomicFile.WriteAllText(path, Render("ImageRetrieval results", sections, summary));
    }

    /// <summary>Renders the page.</summary>
    /// <param name="title">The page title.</param>
    /// <param name="queries">The queries with their results.</param>
    /// <param name="summary">Optional lines shown under the title (e.g. model, index size, P@1).</param>
    /// <returns>The HTML document.</returns>
    public static string Render(string title, IReadOnlyList<QueryResults> queries, IReadOnlyList<string>? summary = null)
    {
        ArgumentNullException.ThrowIfNull(queries);
        var html = new StringBuilder(1 << 16);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(Encode(title)).Append("</title>\n<style>\n")
            .Append("body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;padding:1rem;background:#f6f7f9;color:#1d2330}\n")
            .Append("h1{font-size:1.4rem;margin:.2rem 0 .6rem}h2{font-size:1.05rem;margin:0 0 .6rem}\n")
            .Append(".summary{color:#4a5568;font-size:.9rem;margin:0 0 1rem;padding:0;list-style:none}\n")
            .Append("section{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1rem;margin:0 0 1rem}\n")
            .Append(".row{display:grid;grid-template-columns:repeat(auto-fill,minmax(104px,1fr));gap:.6rem}\n")
            .Append("figure{margin:0;padding:.4rem;border-radius:10px;border:2px solid #e2e8f0;background:#fff;text-align:center}\n")
            .Append("figure.query{border-color:#2b6cb0;background:#ebf4ff}figure.match{border-color:#38a169}figure.miss{border-color:#e53e3e}\n")
            .Append("img{width:100%;height:auto;aspect-ratio:1;object-fit:contain;image-rendering:pixelated;background:#000;border-radius:6px}\n")
            .Append("figcaption{font-size:.75rem;line-height:1.3;margin-top:.3rem;word-break:break-word}\n")
            .Append(".rank{font-weight:700}.dist{color:#4a5568;font-variant-numeric:tabular-nums}\n")
            .Append("</style>\n</head>\n<body>\n<h1>").Append(Encode(title)).Append("</h1>\n");
        if (summary is { Count: > 0 })
        {
            html.Append("<ul class=\"summary\">");
            foreach (string line in summary)
            {
                html.Append("<li>").Append(Encode(line)).Append("</li>");
            }
            html.Append("</ul>\n");
        }
        foreach (QueryResults query in queries)
        {
            html.Append("<section>\n<h2>Query: ").Append(Encode(query.QueryName));
            if (query.QueryLabel is not null)
            {
                html.Append(" <span class=\"dist\">(").Append(Encode(query.QueryLabel)).Append(")</span>");
            }
            html.Append("</h2>\n<div class=\"row\">\n<figure class=\"query\"><img alt=\"query\" src=\"")
                .Append(DataUri(query.QueryImage)).Append("\"><figcaption><span class=\"rank\">query</span>");
            if (query.QueryLabel is not null)
            {
                html.Append("<br>").Append(Encode(query.QueryLabel));
            }
            html.Append("</figcaption></figure>\n");
            for (int i = 0; i < query.Hits.Count; i++)
            {
                Hit hit = query.Hits[i];
                string css = query.QueryLabel is null || hit.Label is null ? "" : hit.Label == query.QueryLabel ? " class=\"match\"" : " class=\"miss\"";
                html.Append("<figure").Append(css).Append("><img alt=\"").Append(Encode(hit.Name)).Append("\" src=\"")
                    .Append(DataUri(hit.Image)).Append("\"><figcaption><span class=\"rank\">#")
                    .Append((i + 1).ToString(CultureInfo.InvariantCulture)).Append("</span> <span class=\"dist\">")
                    .Append(hit.Distance.ToString("G4", CultureInfo.InvariantCulture)).Append("</span><br>");
                if (hit.Label is not null)
                {
                    html.Append(Encode(hit.Label)).Append("<br>");
                }
                html.Append("<small>").Append(Encode(hit.Name)).Append("</small></figcaption></figure>\n");
            }
            html.Append("</div>\n</section>\n");
        }
        html.Append("</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>A data URI for encoded image bytes; the MIME type is sniffed from the bytes, not trusted from a file name.</summary>
    public static string DataUri(byte[] image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return "data:" + SniffMimeType(image) + ";base64," + Convert.ToBase64String(image);
    }

    internal static string SniffMimeType(ReadOnlySpan<byte> data) => data switch
    {
        [0x89, (byte)'P', (byte)'N', (byte)'G', ..] => "image/png",
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [(byte)'G', (byte)'I', (byte)'F', (byte)'8', ..] => "image/gif",
        [(byte)'B', (byte)'M', ..] => "image/bmp",
        [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => "image/webp",
        _ => "application/octet-stream",
    };

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
