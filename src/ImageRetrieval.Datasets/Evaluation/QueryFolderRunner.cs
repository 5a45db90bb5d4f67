using System.Diagnostics;
using ImageRetrieval.ML.Imaging;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.Datasets.Evaluation;

/// <summary>What <see cref="QueryFolderRunner.Run"/> searches and records.</summary>
public sealed record QueryFolderOptions
{
    /// <summary>Search at most this many query files (the first ones in path order).</summary>
    public int Limit { get; init; } = int.MaxValue;

    /// <summary>Results per query.</summary>
    public int K { get; init; } = 10;

    /// <summary>HNSW beam width; null uses the index's default.</summary>
    public int? EfSearch { get; init; }

    /// <summary>Exact brute-force search instead of HNSW (the timed search).</summary>
    public bool Exact { get; init; }

    /// <summary>Also run an untimed exact search per labelled query, for <see cref="QueryFolderResult.ExactPrecisionAt1"/>.</summary>
    public bool CompareWithExact { get; init; }

    /// <summary>Keep each query's results in <see cref="QueryFolderResult.Outcomes"/> (for display); off, only the figures are kept.</summary>
    public bool KeepResults { get; init; }
}

/// <summary>One searched query file.</summary>
/// <param name="Path">The query file.</param>
/// <param name="Label">The name of its class sub-folder; null for a file directly in the query folder.</param>
/// <param name="Results">Its results, nearest first.</param>
/// <param name="Milliseconds">Decode + embed + search time of the timed search.</param>
/// <param name="TopMatches">Whether the first result has the query's label; null without a label.</param>
/// <param name="ExactTopMatches">The same for the exact search (with <see cref="QueryFolderOptions.CompareWithExact"/>); null otherwise.</param>
public sealed record QueryOutcome(string Path, string? Label, IReadOnlyList<ImageSearchResult> Results, double Milliseconds, bool? TopMatches, bool? ExactTopMatches);

/// <summary>The figures of searching a folder of query files one at a time.</summary>
/// <param name="Queries">Query files searched (failed ones included).</param>
/// <param name="LabelledQueries">Searched queries whose class sub-folder gives a label.</param>
/// <param name="PrecisionAt1">Fraction of labelled queries whose first result has the query's label; null without labels.</param>
/// <param name="ExactPrecisionAt1">The same with exact search, when <see cref="QueryFolderOptions.CompareWithExact"/>; else null.</param>
/// <param name="LatenciesMs">Per successful query: milliseconds for decode + embed + search, sorted ascending.</param>
/// <param name="Failures">Queries that could not be searched (unreadable or undecodable files).</param>
/// <param name="Outcomes">Per successful query, in path order, when <see cref="QueryFolderOptions.KeepResults"/>; else empty.</param>
public sealed record QueryFolderResult(
    int Queries,
    int LabelledQueries,
    double? PrecisionAt1,
    double? ExactPrecisionAt1,
    IReadOnlyList<double> LatenciesMs,
    IReadOnlyList<SkippedImage> Failures,
    IReadOnlyList<QueryOutcome> Outcomes)
{
    /// <summary>The <paramref name="q"/>-quantile (nearest rank, 0 &lt; q ≤ 1) of the latencies, or NaN without any.</summary>
    public double Percentile(double q) =>
        LatenciesMs.Count == 0 ? double.NaN : LatenciesMs[Math.Clamp((int)Math.Ceiling(q * LatenciesMs.Count) - 1, 0, LatenciesMs.Count - 1)];

    /// <summary>Mean latency in milliseconds, or NaN without any.</summary>
    public double MeanLatencyMs => LatenciesMs.Count == 0 ? double.NaN : LatenciesMs.Average();
}

/// <summary>
/// Searches every image of a query folder one at a time, as an application would (decode, embed and search per
/// file), after one untimed warm-up query. Labels come from the files' class sub-folders (<c>queries/&lt;label&gt;/*.png</c>),
/// so P@1 is measured against the gallery's folder labels. What <c>imgret search --query DIR</c> and <c>imgret demo</c> run.
/// </summary>
public static class QueryFolderRunner
{
    /// <summary>Searches the query files below <paramref name="folder"/> (recursively, hidden files and non-images skipped).</summary>
    /// <param name="index">The index to search.</param>
    /// <param name="folder">The query folder.</param>
    /// <param name="options">Limit, k, efSearch, exact or HNSW; defaults when null.</param>
    /// <param name="cancellationToken">Stops between queries.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="ArgumentException">The folder holds no image files.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The limit or k is below 1.</exception>
    public static QueryFolderResult Run(ImageSearchIndex index, string folder, QueryFolderOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        options ??= new QueryFolderOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Limit, 1, nameof(options.Limit));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.K, 1, nameof(options.K));
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Query folder '{folder}' does not exist.");
        }
        string root = Path.GetFullPath(folder);
        var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => ImageDecoder.FileExtensions.Contains(Path.GetExtension(f)) && !Path.GetFileName(f).StartsWith('.'))
            .Order(StringComparer.Ordinal)
            .Take(options.Limit)
            .ToList();
        if (files.Count == 0)
        {
            throw new ArgumentException($"Query folder '{folder}' holds no image files ({string.Join(", ", ImageDecoder.FileExtensions.Order(StringComparer.Ordinal))}).", nameof(folder));
        }

        var latencies = new List<double>(files.Count);
        var failures = new List<SkippedImage>();
        var outcomes = new List<QueryOutcome>();
        int labelled = 0, correct = 0, exactCorrect = 0;
        bool warmedUp = false;
        var watch = new Stopwatch();
        foreach (string file in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string? directory = Path.GetDirectoryName(Path.GetRelativePath(root, file));
            string? label = string.IsNullOrEmpty(directory) ? null : Path.GetFileName(directory);
            IReadOnlyList<ImageSearchResult> results;
            IReadOnlyList<ImageSearchResult>? exact = null;
            double milliseconds;
            try
            {
                if (!warmedUp)
                {
                    index.Search(file, options.K, options.EfSearch, exact: options.Exact, cancellationToken: cancellationToken);   // first-call JIT and ONNX Runtime allocations
                    warmedUp = true;
                }
                watch.Restart();
                results = index.Search(file, options.K, options.EfSearch, exact: options.Exact, cancellationToken: cancellationToken);
                milliseconds = watch.Elapsed.TotalMilliseconds;
                if (options.CompareWithExact && label is not null)
                {
                    exact = index.Search(file, 1, exact: true, cancellationToken: cancellationToken);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                failures.Add(e is ImageDecodeException decode ? SkippedImage.From(decode) : new SkippedImage(file, e.Message));
                continue;
            }
            latencies.Add(milliseconds);
            bool? top = label is null ? null : results.Count > 0 && results[0].Label == label;
            bool? exactTop = exact is null ? null : exact.Count > 0 && exact[0].Label == label;
            if (label is not null)
            {
                labelled++;
                correct += top == true ? 1 : 0;
                exactCorrect += exactTop == true ? 1 : 0;
            }
            if (options.KeepResults)
            {
                outcomes.Add(new QueryOutcome(file, label, results, milliseconds, top, exactTop));
            }
        }
        latencies.Sort();
        return new QueryFolderResult(
            files.Count,
            labelled,
            labelled == 0 ? null : (double)correct / labelled,
            labelled == 0 || !options.CompareWithExact ? null : (double)exactCorrect / labelled,
            latencies,
            failures,
            outcomes);
    }
}
