namespace ImageRetrieval.Datasets;

/// <summary>
/// Fashion-MNIST (Zalando Research, MIT licence): 70,000 grey 28×28 product images in 10 classes,
/// 60,000 for training and 10,000 for testing, stored as gzipped IDX files.
/// </summary>
/// <remarks>
/// The data directory is resolved in this order: the explicit argument, the
/// <c>IMAGERETRIEVAL_DATA</c> environment variable (either the Fashion-MNIST folder itself or a folder
/// holding a <c>fashion-mnist</c> sub-folder), then Debian's <c>/usr/share/datasets/fashion-mnist</c>
/// (package <c>dataset-fashion-mnist</c>).
/// </remarks>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DebianDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>Environment variable naming the data directory.</summary>
    public const string DataEnvironmentVariable = "IMAGERETRIEVAL_DATA";

    /// <summary>The ten class names, indexed by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ];

    /// <summary>Image side in pixels.</summary>
    public const int ImageSide = 28;

    /// <summary>
    /// Finds the directory holding the four IDX files.
    /// </summary>
    /// <param name="directory">An explicit directory, or <see langword="null"/> to use the environment variable, then the Debian path.</param>
    /// <returns>The directory.</returns>
    /// <exception cref="DirectoryNotFoundException">No candidate holds the files; the message says how to install them.</exception>
    public static string ResolveDirectory(string? directory = null)
    {
        var tried = new List<string>();
        if (!string.IsNullOrEmpty(directory))
        {
            if (HasFiles(directory))
            {
                return directory;
            }
            string nested = Path.Combine(directory, "fashion-mnist");
            if (HasFiles(nested))
            {
                return nested;
            }
            throw new DirectoryNotFoundException(
                $"Fashion-MNIST files ({FileName(Split.Train, images: true)} …) not found in '{directory}' or its 'fashion-mnist' sub-folder.");
        }

        string? fromEnvironment = Environment.GetEnvironmentVariable(DataEnvironmentVariable);
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            foreach (string candidate in new[] { fromEnvironment, Path.Combine(fromEnvironment, "fashion-mnist") })
            {
                tried.Add(candidate);
                if (HasFiles(candidate))
                {
                    return candidate;
                }
            }
        }

        tried.Add(DebianDirectory);
        if (HasFiles(DebianDirectory))
        {
            return DebianDirectory;
        }

        throw new DirectoryNotFoundException(
            $"Fashion-MNIST not found (looked in: {string.Join(", ", tried)}). " +
            $"Install it with 'sudo apt-get install -y dataset-fashion-mnist' (Debian/Ubuntu), " +
            $"or download the four *-ubyte.gz files and pass their folder (as the directory, or in {DataEnvironmentVariable}).");
    }

    /// <summary>Loads one split.</summary>
    /// <param name="split">Train (60,000 images) or test (10,000).</param>
    /// <param name="directory">Data directory; see <see cref="ResolveDirectory"/>.</param>
    /// <param name="maxItems">Load only the first images of the split.</param>
    /// <exception cref="DirectoryNotFoundException">The data cannot be found.</exception>
    /// <exception cref="InvalidDataException">A file is corrupt or the image and label files disagree.</exception>
    public static LabeledImageSet Load(Split split, string? directory = null, int maxItems = int.MaxValue)
    {
        string root = ResolveDirectory(directory);
        string imagesPath = Path.Combine(root, FileName(split, images: true));
        string labelsPath = Path.Combine(root, FileName(split, images: false));
        IdxImages images = IdxReader.ReadImages(imagesPath, maxItems);
        byte[] rawLabels = IdxReader.ReadLabels(labelsPath, maxItems);
        if (rawLabels.Length != images.Count)
        {
            throw new InvalidDataException(
                $"'{imagesPath}' holds {images.Count} images but '{labelsPath}' holds {rawLabels.Length} labels; they must agree.");
        }
        var labels = new int[rawLabels.Length];
        for (int i = 0; i < labels.Length; i++)
        {
            if (rawLabels[i] >= ClassNames.Count)
            {
                throw new InvalidDataException($"IDX file '{labelsPath}' is invalid: label {rawLabels[i]} at index {i} is outside 0..9.");
            }
            labels[i] = rawLabels[i];
        }
        string name = split == Split.Train ? "fashion-mnist/train" : "fashion-mnist/test";
        return new LabeledImageSet(name, images.Pixels, labels, 1, images.Rows, images.Columns, ClassNames);
    }

    /// <summary>The file name of a split's images or labels.</summary>
    public static string FileName(Split split, bool images) =>
        (split == Split.Train ? "train" : "t10k") + (images ? "-images-idx3-ubyte.gz" : "-labels-idx1-ubyte.gz");

    private static bool HasFiles(string directory) =>
        File.Exists(Path.Combine(directory, FileName(Split.Train, true))) &&
        File.Exists(Path.Combine(directory, FileName(Split.Test, true)));

    /// <summary>A Fashion-MNIST split.</summary>
    public enum Split
    {
        /// <summary>The 60,000 training images.</summary>
        Train,

        /// <summary>The 10,000 test images.</summary>
        Test,
    }
}
