namespace ImageRetrieval.Training.Mining;

/// <summary>Dataset indices grouped by label, the shared first step of every batch sampler.</summary>
internal static class ClassGroups
{
    /// <summary>The labels present (ascending) and, for each, the indices carrying it (ascending).</summary>
    /// <exception cref="ArgumentException">Fewer than two distinct labels: triplets need negatives.</exception>
    public static (int[] Labels, int[][] Members) Build(ReadOnlySpan<int> labels, string paramName)
    {
        var groups = new SortedDictionary<int, List<int>>();
        for (int i = 0; i < labels.Length; i++)
        {
            if (!groups.TryGetValue(labels[i], out var list))
            {
                groups[labels[i]] = list = [];
            }
            list.Add(i);
        }
        if (groups.Count < 2)
        {
            throw new ArgumentException($"Triplet training needs images of at least 2 classes; the data has {groups.Count}.", paramName);
        }
        return (groups.Keys.ToArray(), groups.Values.Select(l => l.ToArray()).ToArray());
    }
}
