using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Datasets;

/// <summary>
/// Reads a labelled image collection laid out as one sub-folder per class
/// (<c>root/&lt;class&gt;/*.png|jpg|…</c>), decoding every image to a fixed size with <see cref="ImageDecoder"/>.
/// </summary>
/// <remarks>
/// Classes are the sub-folder names in ordinal order; labels index that list. Files with an image
/// extension (<see cref="ImageDecoder.FileExtensions"/>) are read; other files and hidden entries are ignored.
/// Images that fail to decode are not fatal: they are collected in <see cref="ImageSetLoadResult.Skipped"/>
/// and left out.
/// </remarks>
public static class ImageFolderDataset
{
    /// <summary>The class names of a folder: its non-hidden sub-folders, in ordinal order.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">The folder has no class sub-folders.</exception>
    public static IReadOnlyList<string> ReadClassNames(string directory)
    {
        RequireDirectory(directory);
        string[] classes = Directory.EnumerateDirectories(directory)
            .Select(Path.GetFileName)
            .Where(name => !string.IsNullOrEmpty(name) && name[0] != '.')
            .Select(name => name!)
            .Order(StringComparer.Ordinal)
            .ToArray();
        if (classes.Length == 0)
        {
            throw new InvalidDataException($"Image folder '{directory}' has no class sub-folders; expected one sub-folder of images per class (e.g. '{directory}/cats/001.jpg').");
        }
        return classes;
    }

    /// <summary>Reads and decodes every image of a class-per-sub-folder collection.</summary>
    /// <param name="directory">The root folder.</param>
    /// <param name="options">Target size and channels of the decoded images.</param>
    /// <param name="classNames">
    /// The label order to use, e.g. the training folder's classes when reading its test folder; every
    /// sub-folder must be one of them. <see langword="null"/>: this folder's own sub-folders.
    /// </param>
    /// <param name="progress">Receives the number of files processed so far.</param>
    /// <param name="maxDegreeOfParallelism">Decoding threads: a positive count, or -1 for every core.</param>
    /// <param name="cancellationToken">Stops the decoding.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No class sub-folders, a sub-folder outside <paramref name="classNames"/>, or no decodable image at all.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or below -1.</exception>
    public static ImageSetLoadResult Load(
        string directory,
        ImageDecodeOptions options,
        IReadOnlyList<string>? classNames = null,
        IProgress<int>? progress = null,
        int maxDegreeOfParallelism = -1,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ImageSetLoader.RequireParallelism(maxDegreeOfParallelism);
        IReadOnlyList<string> folderClasses = ReadClassNames(directory);
        IReadOnlyList<string> classes = classNames ?? folderClasses;
        var labelOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < classes.Count; i++)
        {
            labelOf[classes[i]] = i;
        }
        var files = new List<(string Path, int Label)>();
        foreach (string name in folderClasses)
        {
            if (!labelOf.TryGetValue(name, out int label))
            {
                throw new InvalidDataException(
                    $"Class folder '{Path.Combine(directory, name)}' is not one of the {classes.Count} expected classes ({string.Join(", ", classes.Take(10))}{(classes.Count > 10 ? ", …" : "")}).");
            }
            foreach (string file in Directory.EnumerateFiles(Path.Combine(directory, name)).Order(StringComparer.Ordinal))
            {
                string fileName = Path.GetFileName(file);
                if (fileName.Length > 0 && fileName[0] != '.' && ImageDecoder.FileExtensions.Contains(Path.GetExtension(fileName)))
                {
                    files.Add((file, label));
                }
            }
        }
        if (files.Count == 0)
        {
            throw new InvalidDataException(
                $"Image folder '{directory}' holds no image files ({string.Join(", ", ImageDecoder.FileExtensions.Order(StringComparer.Ordinal))}) in its class sub-folders.");
        }

        // The full path names the set unambiguously in checkpoints and reports ("train" alone would not).
        string setName = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        ImageSetLoadResult result = ImageSetLoader.Load(setName, files, classes, options, progress, maxDegreeOfParallelism, cancellationToken, out _);
        if (result.Images.Count == 0)
        {
            throw new InvalidDataException($"None of the {files.Count} images in '{directory}' could be decoded; first: {result.Skipped[0]}");
        }
        return result;
    }

    /// <summary>
    /// Reads a training folder and, optionally, a test folder labelled with the training folder's classes.
    /// </summary>
    /// <param name="trainDirectory">The training images, one sub-folder per class.</param>
    /// <param name="testDirectory">Images labelled like the training folder, or <see langword="null"/>.</param>
    /// <param name="options">Target size and channels of the decoded images (both folders).</param>
    /// <param name="progress">Receives the number of files processed so far (per folder).</param>
    /// <param name="maxDegreeOfParallelism">Decoding threads: a positive count, or -1 for every core.</param>
    /// <param name="cancellationToken">Stops the decoding.</param>
    /// <exception cref="DirectoryNotFoundException">A folder does not exist.</exception>
    /// <exception cref="InvalidDataException">See <see cref="Load"/>; the test folder has a class the training folder lacks.</exception>
    public static (ImageSetLoadResult Train, ImageSetLoadResult? Test) LoadSplits(
        string trainDirectory,
        string? testDirectory,
        ImageDecodeOptions options,
        IProgress<int>? progress = null,
        int maxDegreeOfParallelism = -1,
        CancellationToken cancellationToken = default)
    {
        ImageSetLoadResult train = Load(trainDirectory, options, null, progress, maxDegreeOfParallelism, cancellationToken);
        ImageSetLoadResult? test = testDirectory is null
            ? null
            : Load(testDirectory, options, train.Images.ClassNames, progress, maxDegreeOfParallelism, cancellationToken);
        return (train, test);
    }

    private static void RequireDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException(
                File.Exists(directory)
                    ? $"'{directory}' is a file; expected a folder with one sub-folder of images per class."
                    : $"Image folder '{directory}' does not exist.");
        }
    }
}
