using System.Diagnostics;
using ImageRetrieval.ML.Datasets;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.Cli.Commands;

/// <summary>A query file that could not be searched, and why.</summary>
internal sealed record QueryFailure(string Path, string Reason);

/// <summary>The figures of searching a folder of query files one at a time.</summary>
/// <param name="Queries">Query files searched (failed ones included).</param>
/// <param name="LabelledQueries">Searched queries whose class sub-folder gives a label.</param>
/// <param name="PrecisionAt1">Fraction of labelled queries whose first result has the query's label; null without labels.</param>
/// <param name="LatenciesMs">Per successful query: milliseconds for decode + embed + search, sorted ascending.</param>
/// <param name="Failures">Queries that failed (unreadable or undecodable files).</param>
internal sealed record QueryFolderResult(int Queries, int LabelledQueries, double? PrecisionAt1, IReadOnlyList<double> LatenciesMs, IReadOnlyList<QueryFailure> Failures)
{
    /// <summary>The q-quantile (nearest rank) of the latencies, or NaN without any.</summary>
    public double Percentile(double q) =>
        LatenciesMs.Count == 0 ? double.NaN : LatenciesMs[Math.Clamp((int)Math.Ceiling(q * LatenciesMs.Count) - 1, 0, LatenciesMs.Count - 1)];
}

/// <summary>
/// Searches every image of a query folder one at a time, as an application would (decode, embed and
/// search per file), after one untimed warm-up query. Labels come from the files' class sub-folders.
/// Shared by <c>imgret search --query DIR</c> and its test (linked into the test project).
/// </summary>
internal static class QueryFolderRunner
{
    public static QueryFolderResult Run(ImageSearchIndex index, string folder, int limit, int k, int? efSearch, bool exact)
    {
        ArgumentNullException.ThrowIfNull(index);
        if (limit < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(limit), limit, "The query limit must be at least 1.");
        }
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Query folder '{folder}' does not exist.");
        }
        string root = Path.GetFullPath(folder);
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => ImageFolderDataset.Extensions.Contains(Path.GetExtension(f)) && !Path.GetFileName(f).StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .Take(limit)
            .ToList();
        if (files.Count == 0)
        {
            throw new ArgumentException($"Query folder '{folder}' holds no image files ({string.Join(", ", ImageFolderDataset.Extensions.Order(StringComparer.Ordinal))}).", nameof(folder));
        }

        var latencies = new List<double>(files.Count);
        var failures = new List<QueryFailure>();
        int labelled = 0, correct = 0;
        bool warmedUp = false;
        var watch = new Stopwatch();
        foreach (string file in files)
        {
            string? directory = Path.GetDirectoryName(Path.GetRelativePath(root, file));
            string? label = string.IsNullOrEmpty(directory) ? null : Path.GetFileName(directory);
            IReadOnlyList<ImageSearchResult> results;
            try
            {
                if (!warmedUp)
                {
                    index.Search(file, k, efSearch, exact: exact);   // first-call JIT and ONNX Runtime allocations
                    warmedUp = true;
                }
                watch.Restart();
                results = index.Search(file, k, efSearch, exact: exact);
                latencies.Add(watch.Elapsed.TotalMilliseconds);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                failures.Add(new QueryFailure(file, e.Message));
                continue;
            }
            if (label is not null)
            {
                labelled++;
                correct += results.Count > 0 && results[0].Label == label ? 1 : 0;
            }
        }
        latencies.Sort();
        return new QueryFolderResult(files.Count, labelled, labelled == 0 ? null : (double)correct / labelled, latencies, failures);
    }
}
