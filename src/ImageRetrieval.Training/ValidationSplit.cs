using ImageRetrieval.Datasets;

namespace ImageRetrieval.Training;

/// <summary>How a <see cref="ValidationSplit"/> carves validation images out of a training set.</summary>
public enum ValidationSplitKind
{
    /// <summary>Held-out classes when there are at least <see cref="ValidationSplitOptions.MinClassesForClassSplit"/>, else held-out images.</summary>
    Auto,

    /// <summary>
    /// Whole classes are left out of training; their images are split into queries and a gallery. This measures what a
    /// retrieval model is used for: ranking things it never saw in training.
    /// </summary>
    HeldOutClasses,

    /// <summary>A share of every class's images is left out as queries against the remaining training images.</summary>
    HeldOutImages,
}

/// <summary>The settings of <see cref="ValidationSplit.Create"/>.</summary>
public sealed record ValidationSplitOptions
{
    /// <summary>Which kind of split.</summary>
    public ValidationSplitKind Kind { get; init; } = ValidationSplitKind.Auto;

    /// <summary>With <see cref="ValidationSplitKind.Auto"/>, classes needed for a class split (fewer: images are held out).</summary>
    public int MinClassesForClassSplit { get; init; } = 8;

    /// <summary>Share of the classes held out (rounded, at least 2).</summary>
    public double HeldOutClassFraction { get; init; } = 0.2;

    /// <summary>Share of each class's images held out by an image split (at least 1 per class).</summary>
    public double HeldOutImageFraction { get; init; } = 0.1;

    /// <summary>Largest validation set: queries plus a held-out gallery (per-epoch evaluation stays quick).</summary>
    public int MaxValidationImages { get; init; } = 2000;

    /// <summary>Share of the held-out classes' sampled images used as queries (the rest is their gallery).</summary>
    public double QueryFraction { get; init; } = 0.2;

    /// <summary>Seed of the class and image choice.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>
/// A validation split carved from a training set when no test set is given (<c>imgret train --dataset folder</c>
/// without <c>--test-dir</c>): the images that stay for training, the validation queries and the gallery they search.
/// </summary>
/// <param name="Train">The images to train on (held-out images and classes removed; class names unchanged).</param>
/// <param name="Queries">Validation queries.</param>
/// <param name="Gallery">What the queries search: the held-out classes' other images, or <see langword="null"/> for the training images.</param>
/// <param name="Kind"><see cref="ValidationSplitKind.HeldOutClasses"/> or <see cref="ValidationSplitKind.HeldOutImages"/>.</param>
/// <param name="HeldOutClasses">The names of the classes left out of training (empty for an image split).</param>
public sealed record ValidationSplit(
    LabeledImageSet Train,
    LabeledImageSet Queries,
    LabeledImageSet? Gallery,
    ValidationSplitKind Kind,
    IReadOnlyList<string> HeldOutClasses)
{
    /// <summary>Splits <paramref name="set"/> as <paramref name="options"/> say; the same seed gives the same split.</summary>
    /// <exception cref="ArgumentException">Fewer than 2 classes with images, or a class split asked for with fewer than 4 classes.</exception>
    public static ValidationSplit Create(LabeledImageSet set, ValidationSplitOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(set);
        options ??= new ValidationSplitOptions();
        var random = new Random(options.Seed);
        int[] counts = set.CountPerClass();
        int[] classes = Enumerable.Range(0, set.ClassCount).Where(c => counts[c] > 0).ToArray();
        if (classes.Length < 2)
        {
            throw new ArgumentException($"'{set.Name}' has {classes.Length} class(es) with images; a validation split needs at least 2.", nameof(set));
        }
        ValidationSplitKind kind = options.Kind != ValidationSplitKind.Auto ? options.Kind
            : classes.Length >= options.MinClassesForClassSplit ? ValidationSplitKind.HeldOutClasses : ValidationSplitKind.HeldOutImages;
        // Shuffled indices of each class, drawn once: which images (and classes) are held out depends on the seed only.
        var byClass = new List<int>[set.ClassCount];
        for (int c = 0; c < set.ClassCount; c++)
        {
            byClass[c] = [];
        }
        for (int i = 0; i < set.Count; i++)
        {
            byClass[set.GetLabel(i)].Add(i);
        }
        foreach (List<int> members in byClass)
        {
            Shuffle(members, random);
        }
        return kind == ValidationSplitKind.HeldOutClasses
            ? HoldOutClasses(set, classes, byClass, options, random)
            : HoldOutImages(set, classes, byClass, options);
    }

    private static ValidationSplit HoldOutClasses(LabeledImageSet set, int[] classes, List<int>[] byClass, ValidationSplitOptions options, Random random)
    {
        if (classes.Length < 4)
        {
            throw new ArgumentException($"'{set.Name}' has {classes.Length} classes with images; holding out classes needs at least 4 (2 to train on, 2 to retrieve among).", nameof(set));
        }
        int heldOutCount = Math.Clamp((int)Math.Round(options.HeldOutClassFraction * classes.Length), 2, classes.Length - 2);
        int[] shuffled = [.. classes];
        random.Shuffle(shuffled);
        int[] heldOut = shuffled[..heldOutCount].Order().ToArray();
        var isHeldOut = new bool[set.ClassCount];
        foreach (int c in heldOut)
        {
            isHeldOut[c] = true;
        }
        // Up to MaxValidationImages images of the held-out classes, the same number from each (as far as they have them).
        int perClass = Math.Max(2, options.MaxValidationImages / heldOutCount);
        var queries = new List<int>();
        var gallery = new List<int>();
        foreach (int c in heldOut)
        {
            List<int> members = byClass[c];
            int take = Math.Min(perClass, members.Count);
            int queryCount = Math.Clamp((int)Math.Round(options.QueryFraction * take), 1, Math.Max(1, take - 1));
            queries.AddRange(members.Take(queryCount));
            gallery.AddRange(members.Skip(queryCount).Take(take - queryCount));
        }
        int[] train = Enumerable.Range(0, set.Count).Where(i => !isHeldOut[set.GetLabel(i)]).ToArray();
        return new ValidationSplit(
            set.Select(train, $"{set.Name} (without {heldOutCount} held-out classes)"),
            set.Select(Sorted(queries), $"{set.Name} (held-out classes, queries)"),
            set.Select(Sorted(gallery), $"{set.Name} (held-out classes, gallery)"),
            ValidationSplitKind.HeldOutClasses,
            heldOut.Select(c => set.ClassNames[c]).ToArray());
    }

    private static ValidationSplit HoldOutImages(LabeledImageSet set, int[] classes, List<int>[] byClass, ValidationSplitOptions options)
    {
        int perClassCap = Math.Max(1, options.MaxValidationImages / classes.Length);
        var queries = new List<int>();
        foreach (int c in classes)
        {
            List<int> members = byClass[c];
            // At least one image per class stays for training and, with two or more, at least one is held out.
            int take = Math.Min(perClassCap, Math.Clamp((int)Math.Round(options.HeldOutImageFraction * members.Count), 1, Math.Max(1, members.Count - 1)));
            if (members.Count >= 2)
            {
                queries.AddRange(members.Take(take));
            }
        }
        var isQuery = new bool[set.Count];
        foreach (int i in queries)
        {
            isQuery[i] = true;
        }
        int[] train = Enumerable.Range(0, set.Count).Where(i => !isQuery[i]).ToArray();
        return new ValidationSplit(
            set.Select(train, $"{set.Name} (without held-out images)"),
            set.Select(Sorted(queries), $"{set.Name} (held-out images)"),
            null,
            ValidationSplitKind.HeldOutImages,
            []);
    }

    private static int[] Sorted(List<int> indices) => [.. indices.Order()];

    private static void Shuffle(List<int> list, Random random)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
