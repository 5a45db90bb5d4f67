namespace ImageRetrieval.Training.Mining;

/// <summary>
/// The classic recipe's random triplets over the whole dataset: every epoch, each training image is an
/// anchor once (in shuffled order); its positive is a random <em>other</em> image of its class and its
/// negative a random image of a random other class, drawn afresh every epoch. A batch of T triplets is
/// laid out as <c>[anchors (T) | positives (T) | negatives (T)]</c>, so the network embeds the 3T images in
/// one forward pass and <see cref="RandomTripletMiner"/> reads the triplets back from those positions.
/// Anchors of a class with a single image have no positive and are left out.
/// </summary>
internal sealed class RandomTripletSampler : IBatchSampler
{
    private readonly int[][] _byClass;
    private readonly int[] _classOf;     // item → index into _byClass
    private readonly int[] _anchors;

    /// <summary>Creates the sampler.</summary>
    /// <param name="labels">One label per dataset item.</param>
    /// <param name="tripletsPerBatch">T: triplets per batch (the batch holds 3T images).</param>
    /// <exception cref="ArgumentException">Fewer than two classes, no class with two images, or T &lt; 1.</exception>
    public RandomTripletSampler(ReadOnlySpan<int> labels, int tripletsPerBatch)
    {
        if (tripletsPerBatch < 1)
        {
            throw new ArgumentException($"Triplets per batch must be at least 1, got {tripletsPerBatch}.", nameof(tripletsPerBatch));
        }
        var (_, members) = ClassGroups.Build(labels, nameof(labels));
        _byClass = members;
        _classOf = new int[labels.Length];
        for (int c = 0; c < members.Length; c++)
        {
            foreach (int item in members[c])
            {
                _classOf[item] = c;
            }
        }
        _anchors = Enumerable.Range(0, labels.Length).Where(i => _byClass[_classOf[i]].Length >= 2).ToArray();
        if (_anchors.Length == 0)
        {
            throw new ArgumentException("Random triplets need a class with at least 2 images (an anchor and a positive); every class has one.", nameof(labels));
        }
        TripletsPerBatch = tripletsPerBatch;
    }

    /// <summary>T.</summary>
    public int TripletsPerBatch { get; }

    /// <summary>Images that serve as anchors each epoch (those whose class has another image).</summary>
    public int AnchorCount => _anchors.Length;

    /// <inheritdoc />
    public int BatchesPerEpoch => (_anchors.Length + TripletsPerBatch - 1) / TripletsPerBatch;

    /// <inheritdoc />
    public IEnumerable<int[]> Epoch(int seed)
    {
        var random = new Random(seed);
        var order = (int[])_anchors.Clone();
        random.Shuffle(order);
        for (int start = 0; start < order.Length; start += TripletsPerBatch)
        {
            int t = Math.Min(TripletsPerBatch, order.Length - start);
            var batch = new int[3 * t];
            for (int i = 0; i < t; i++)
            {
                int anchor = order[start + i];
                int c = _classOf[anchor];
                int[] same = _byClass[c];
                int positive;
                do
                {
                    positive = same[random.Next(same.Length)];
                }
                while (positive == anchor);
                int other = random.Next(_byClass.Length - 1);
                other += other >= c ? 1 : 0;                       // a random class other than the anchor's
                int[] negatives = _byClass[other];
                batch[i] = anchor;
                batch[t + i] = positive;
                batch[(2 * t) + i] = negatives[random.Next(negatives.Length)];
            }
            yield return batch;
        }
    }
}
