namespace ImageRetrieval.ML.Indexing;

/// <summary>
/// The one spelling of every <see cref="DistanceMetric"/> in files and on command lines: <c>l2</c>
/// (<see cref="DistanceMetric.SquaredL2"/>), <c>ip</c> (<see cref="DistanceMetric.InnerProduct"/>) and <c>cosine</c>
/// (<see cref="DistanceMetric.Cosine"/>). Model metadata, index manifests, checkpoints and <c>imgret</c> all read
/// and write these names through this class; any other name is an error.
/// </summary>
public static class DistanceMetricNames
{
    /// <summary>The name of <see cref="DistanceMetric.SquaredL2"/>.</summary>
    public const string SquaredL2 = "l2";

    /// <summary>The name of <see cref="DistanceMetric.InnerProduct"/>.</summary>
    public const string InnerProduct = "ip";

    /// <summary>The name of <see cref="DistanceMetric.Cosine"/>.</summary>
    public const string Cosine = "cosine";

    /// <summary>Every name, in <see cref="DistanceMetric"/> order.</summary>
    public static IReadOnlyList<string> All { get; } = [SquaredL2, InnerProduct, Cosine];

    /// <summary>The name of <paramref name="metric"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="metric"/> is not a defined value.</exception>
    public static string ToName(this DistanceMetric metric) => metric switch
    {
        DistanceMetric.SquaredL2 => SquaredL2,
        DistanceMetric.InnerProduct => InnerProduct,
        DistanceMetric.Cosine => Cosine,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "Unknown distance metric."),
    };

    /// <summary>The metric named <paramref name="name"/> (exactly one of <see cref="All"/>, case-sensitive).</summary>
    /// <returns>Whether the name is known.</returns>
    public static bool TryParse(string? name, out DistanceMetric metric)
    {
        switch (name)
        {
            case SquaredL2:
                metric = DistanceMetric.SquaredL2;
                return true;
            case InnerProduct:
                metric = DistanceMetric.InnerProduct;
                return true;
            case Cosine:
                metric = DistanceMetric.Cosine;
                return true;
            default:
                metric = default;
                return false;
        }
    }

    /// <summary>The metric named <paramref name="name"/>.</summary>
    /// <param name="name">One of <see cref="All"/>.</param>
    /// <param name="source">What the name was read from (a file, an argument), named in the error.</param>
    /// <exception cref="FormatException">The name is not one of <see cref="All"/>; the message names <paramref name="source"/>.</exception>
    public static DistanceMetric Parse(string? name, string source) =>
        TryParse(name, out DistanceMetric metric)
            ? metric
            : throw new FormatException($"{source}: distance metric '{name}' is unknown; expected one of {string.Join(", ", All)}.");
}
