namespace ImageRetrieval.Training.Mining;

/// <summary>
/// Draws P×K batches: P distinct classes, K images of each, so every anchor has positives and
/// negatives in its batch. Within a class, images are drawn without replacement from a shuffled cycle
/// (re-shuffled when exhausted); a class with fewer than K images repeats some. Deterministic per seed.
/// </summary>
internal sealed class PKBatchSampler : IBatchSampler
{
    private readonly int[][] _byClass;
    private readonly int[] _classes;
    private readonly int _count;

    /// <summary>Creates the sampler.</summary>
    /// <param name="labels">One label per dataset item.</param>
    /// <param name="classesPerBatch">P: distinct classes per batch (at least 2, at most the number of classes present).</param>
    /// <param name="samplesPerClass">K: images per class per batch (at least 2).</param>
    /// <exception cref="ArgumentException">Fewer than two classes with images, or P/K out of range.</exception>
    public PKBatchSampler(ReadOnlySpan<int> labels, int classesPerBatch, int samplesPerClass)
    {
        var (classLabels, members) = ClassGroups.Build(labels, nameof(labels));
        if (classesPerBatch < 2 || classesPerBatch > classLabels.Length)
        {
            throw new ArgumentException($"Classes per batch (P) must be between 2 and the {classLabels.Length} classes present, got {classesPerBatch}.", nameof(classesPerBatch));
        }
        if (samplesPerClass < 2)
        {
            throw new ArgumentException($"Samples per class (K) must be at least 2 so anchors have positives, got {samplesPerClass}.", nameof(samplesPerClass));
        }
        _classes = classLabels;
        _byClass = members;
        _count = labels.Length;
        ClassesPerBatch = classesPerBatch;
        SamplesPerClass = samplesPerClass;
    }

    /// <summary>P.</summary>
    public int ClassesPerBatch { get; }

    /// <summary>K.</summary>
    public int SamplesPerClass { get; }

    /// <summary>Images per batch: P × K.</summary>
    public int BatchSize => ClassesPerBatch * SamplesPerClass;

    /// <summary>Batches per epoch: the dataset size divided by the batch size (at least 1).</summary>
    public int BatchesPerEpoch => Math.Max(1, _count / BatchSize);

    /// <summary>The labels of the classes the sampler draws from, ascending.</summary>
    public IReadOnlyList<int> Classes => _classes;

    /// <summary>One epoch of batches (dataset indices, grouped class by class), deterministic for <paramref name="seed"/>.</summary>
    public IEnumerable<int[]> Epoch(int seed)
    {
        var random = new Random(seed);
        var cycles = _byClass.Select(items => new Cycle(items, random)).ToArray();
        var classOrder = Enumerable.Range(0, _classes.Length).ToArray();
        for (int batch = 0; batch < BatchesPerEpoch; batch++)
        {
            random.Shuffle(classOrder);
            var indices = new int[BatchSize];
            int at = 0;
            for (int p = 0; p < ClassesPerBatch; p++)
            {
                Cycle cycle = cycles[classOrder[p]];
                for (int k = 0; k < SamplesPerClass; k++)
                {
                    indices[at++] = cycle.Next();
                }
            }
            yield return indices;
        }
    }

    private sealed class Cycle(int[] items, Random random)
    {
        private readonly int[] _order = (int[])items.Clone();
        private int _position = items.Length;

        public int Next()
        {
            if (_position == _order.Length)
            {
                random.Shuffle(_order);
                _position = 0;
            }
            return _order[_position++];
        }
    }
}
