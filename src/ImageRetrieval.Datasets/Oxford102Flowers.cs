using System.Globalization;
using ImageRetrieval.Datasets.MatFile;
using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Datasets;

/// <summary>A standard split of Oxford 102 Flowers, as listed in <c>setid.mat</c>.</summary>
public enum Oxford102Split
{
    /// <summary><c>trnid</c>: 1,020 images, 10 per class.</summary>
    Train,

    /// <summary><c>valid</c>: 1,020 images, 10 per class.</summary>
    Validation,

    /// <summary><c>tstid</c>: the remaining 6,149 images (at least 20 per class).</summary>
    Test,

    /// <summary><c>trnid</c> followed by <c>valid</c>: 2,040 images, the usual training set once hyper-parameters are fixed.</summary>
    TrainValidation,
}

/// <summary>One loaded split of Oxford 102 Flowers.</summary>
/// <param name="Images">The decoded images and their labels (0-based: label <c>k</c> is class <c>k + 1</c> of <c>imagelabels.mat</c>).</param>
/// <param name="ImageIds">The 1-based image id of each image in <see cref="Images"/>, in order.</param>
/// <param name="Skipped">Images of the split that could not be used (missing or undecodable), in split order; they are not in <see cref="Images"/>.</param>
public sealed record Oxford102Set(LabeledImageSet Images, IReadOnlyList<int> ImageIds, IReadOnlyList<SkippedImage> Skipped);

/// <summary>
/// Oxford 102 Flowers (Nilsback and Zisserman, 2008): 8,189 colour photographs of flowers in 102
/// classes, with a standard train / validation / test split.
/// </summary>
/// <remarks>
/// <para>Expected layout of the data directory (the files as distributed by the Visual Geometry Group):</para>
/// <code>
/// jpg/image_00001.jpg … jpg/image_08189.jpg   (102flowers.tgz)
/// imagelabels.mat                             ('labels': 1×8189 double, values 1…102)
/// setid.mat                                   ('trnid', 'valid', 'tstid': 1-based image ids)
/// </code>
/// <para>The MAT-files are validated (ids in range and unique, labels in 1…102, the three splits
/// together covering exactly the labelled images); a violation is an <see cref="InvalidDataException"/>
/// naming the file. A missing or undecodable JPEG does not stop loading: it is reported in
/// <see cref="Oxford102Set.Skipped"/> with its path and reason, and left out.</para>
/// </remarks>
public static class Oxford102Flowers
{
    /// <summary>Number of classes.</summary>
    public const int ClassCount = 102;

    /// <summary>The image folder, relative to the data directory.</summary>
    public const string ImageFolder = "jpg";

    /// <summary>The labels file.</summary>
    public const string LabelsFile = "imagelabels.mat";

    /// <summary>The splits file.</summary>
    public const string SplitsFile = "setid.mat";

    /// <summary>Sub-folder names looked for under <see cref="FashionMnist.DataEnvironmentVariable"/> or a given directory.</summary>
    public static IReadOnlyList<string> SubFolderNames { get; } = ["oxford102", "flowers102", "102flowers"];

    /// <summary>The class names, <c>"1"</c> … <c>"102"</c> (the numbers used by <c>imagelabels.mat</c>), indexed by 0-based label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        Enumerable.Range(1, ClassCount).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    /// <summary>A short description of the expected layout, used in error messages.</summary>
    public static string ExpectedLayout =>
        $"expected '{ImageFolder}/image_00001.jpg …', '{LabelsFile}' and '{SplitsFile}' in one folder " +
        "(from https://www.robots.ox.ac.uk/~vgg/data/flowers/102/: 102flowers.tgz, imagelabels.mat, setid.mat)";

    /// <summary>The path of image <paramref name="imageId"/> (1-based) under <paramref name="dataDirectory"/>.</summary>
    public static string ImagePath(string dataDirectory, int imageId) =>
        Path.Combine(dataDirectory, ImageFolder, $"image_{imageId.ToString("00000", CultureInfo.InvariantCulture)}.jpg");

    /// <summary>
    /// Finds the data directory: <paramref name="directory"/> itself or one of its <see cref="SubFolderNames"/>;
    /// without it, <c>$IMAGERETRIEVAL_DATA</c> or one of its <see cref="SubFolderNames"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">No candidate holds the two MAT-files; the message lists where it looked and what is expected.</exception>
    public static string ResolveDirectory(string? directory = null)
    {
        string? root = string.IsNullOrEmpty(directory) ? Environment.GetEnvironmentVariable(FashionMnist.DataEnvironmentVariable) : directory;
        if (string.IsNullOrEmpty(root))
        {
            throw new DirectoryNotFoundException(
                $"Oxford 102 Flowers folder not given (pass a directory or set {FashionMnist.DataEnvironmentVariable}); {ExpectedLayout}.");
        }
        var tried = new List<string>();
        foreach (string candidate in new[] { root }.Concat(SubFolderNames.Select(n => Path.Combine(root, n))))
        {
            tried.Add(candidate);
            if (File.Exists(Path.Combine(candidate, LabelsFile)) && File.Exists(Path.Combine(candidate, SplitsFile)))
            {
                return candidate;
            }
        }
        throw new DirectoryNotFoundException(
            $"Oxford 102 Flowers not found (looked in: {string.Join(", ", tried)}); {ExpectedLayout}.");
    }

    /// <summary>Reads the labels and split ids without decoding images.</summary>
    /// <param name="dataDirectory">The folder holding <c>imagelabels.mat</c> and <c>setid.mat</c>.</param>
    /// <returns>The 1-based labels (index <c>id - 1</c>) and the three id lists.</returns>
    /// <exception cref="FileNotFoundException">A MAT-file is missing.</exception>
    /// <exception cref="InvalidDataException">A MAT-file is malformed or its contents are inconsistent.</exception>
    public static (int[] Labels, int[] Train, int[] Validation, int[] Test) ReadMetadata(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        string labelsPath = Path.Combine(dataDirectory, LabelsFile);
        string splitsPath = Path.Combine(dataDirectory, SplitsFile);
        foreach (string path in new[] { labelsPath, splitsPath })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"Oxford 102 Flowers file missing: '{path}'; {ExpectedLayout}.", path);
            }
        }

        int[] labels = ReadVector(MatFileReader.Read(labelsPath), "labels");
        if (labels.Length == 0)
        {
            throw new InvalidDataException($"'{labelsPath}' is invalid: 'labels' is empty.");
        }
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] is < 1 or > ClassCount)
            {
                throw new InvalidDataException($"'{labelsPath}' is invalid: label {labels[i]} of image {i + 1} is outside 1..{ClassCount}.");
            }
        }

        MatFileContent splits = MatFileReader.Read(splitsPath);
        int[] train = ReadVector(splits, "trnid");
        int[] validation = ReadVector(splits, "valid");
        int[] test = ReadVector(splits, "tstid");
        var seen = new bool[labels.Length + 1];
        foreach ((string name, int[] ids) in new[] { ("trnid", train), ("valid", validation), ("tstid", test) })
        {
            for (int i = 0; i < ids.Length; i++)
            {
                int id = ids[i];
                if (id < 1 || id > labels.Length)
                {
                    throw new InvalidDataException(
                        $"'{splitsPath}' is invalid: '{name}' holds image id {id} at index {i}, outside 1..{labels.Length} (the images '{labelsPath}' labels).");
                }
                if (seen[id])
                {
                    throw new InvalidDataException($"'{splitsPath}' is invalid: image id {id} appears more than once ('{name}' index {i}).");
                }
                seen[id] = true;
            }
        }
        int total = train.Length + validation.Length + test.Length;
        if (total != labels.Length)
        {
            throw new InvalidDataException(
                $"'{splitsPath}' lists {total} images ({train.Length} + {validation.Length} + {test.Length}) but '{labelsPath}' labels {labels.Length}; they must agree.");
        }
        return (labels, train, validation, test);
    }

    /// <summary>Loads and decodes one split.</summary>
    /// <param name="dataDirectory">The folder laid out as described on <see cref="Oxford102Flowers"/>; see <see cref="ResolveDirectory"/>.</param>
    /// <param name="split">Which standard split.</param>
    /// <param name="imageSize">Output side <c>S</c>: every photo is fitted to <c>S × S</c> (224 for ImageNet-style networks; store larger, e.g. 256, when augmenting with random crops).</param>
    /// <param name="channels">3 (RGB) or 1 (grey).</param>
    /// <param name="resizeMode">How photos are fitted to the square (default: keep aspect, crop the centre).</param>
    /// <param name="progress">Receives the number of images processed so far (every 64 images and at the end).</param>
    /// <param name="maxItems">Load only the first images of the split (in <c>setid.mat</c> order).</param>
    /// <param name="maxDegreeOfParallelism">Images decoded concurrently: a positive count, or -1 for every core.</param>
    /// <exception cref="FileNotFoundException">A MAT-file is missing.</exception>
    /// <exception cref="DirectoryNotFoundException">The <c>jpg</c> folder is missing.</exception>
    /// <exception cref="InvalidDataException">A MAT-file is malformed or inconsistent.</exception>
    /// <exception cref="ArgumentException">A size or count is out of range (<paramref name="maxDegreeOfParallelism"/> 0 or below -1), or the split does not fit one buffer.</exception>
    public static Oxford102Set Load(
        string dataDirectory,
        Oxford102Split split,
        int imageSize,
        int channels = 3,
        ImageResizeMode resizeMode = ImageResizeMode.IsoCrop,
        IProgress<int>? progress = null,
        int maxItems = int.MaxValue,
        int maxDegreeOfParallelism = -1)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        ArgumentOutOfRangeException.ThrowIfNegative(maxItems);
        ImageSetLoader.RequireParallelism(maxDegreeOfParallelism);
        var options = new ImageDecodeOptions { Width = imageSize, Height = imageSize, Channels = channels, ResizeMode = resizeMode };
        options.Validate();

        (int[] labels, int[] train, int[] validation, int[] test) = ReadMetadata(dataDirectory);
        string imageFolder = Path.Combine(dataDirectory, ImageFolder);
        if (!Directory.Exists(imageFolder))
        {
            throw new DirectoryNotFoundException($"Oxford 102 Flowers image folder missing: '{imageFolder}'; {ExpectedLayout}.");
        }
        int[] ids = split switch
        {
            Oxford102Split.Train => train,
            Oxford102Split.Validation => validation,
            Oxford102Split.Test => test,
            Oxford102Split.TrainValidation => [.. train, .. validation],
            _ => throw new ArgumentOutOfRangeException(nameof(split), split, "Unknown split."),
        };
        if (ids.Length > maxItems)
        {
            ids = ids[..maxItems];
        }
        string name = "oxford102/" + split switch
        {
            Oxford102Split.Train => "train",
            Oxford102Split.Validation => "validation",
            Oxford102Split.Test => "test",
            _ => "trainval",
        };
        var files = ids.Select(id => (ImagePath(dataDirectory, id), labels[id - 1] - 1)).ToArray();
        ImageSetLoadResult result = ImageSetLoader.Load(name, files, ClassNames, options, progress, maxDegreeOfParallelism, CancellationToken.None, out int[] kept);
        return new Oxford102Set(result.Images, kept.Select(i => ids[i]).ToArray(), result.Skipped);
    }

    private static int[] ReadVector(MatFileContent mat, string name)
    {
        MatArray array = mat[name];
        if (!array.HasValues || !array.IsVector)
        {
            throw new InvalidDataException($"'{mat.Source}' is invalid: '{name}' is {array.Describe()}; expected a numeric vector.");
        }
        return array.ToInt32Array();
    }
}
