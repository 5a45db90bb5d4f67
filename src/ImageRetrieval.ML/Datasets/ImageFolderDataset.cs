using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.ML.Datasets;

/// <summary>An image folder that was read: the decoded images and the files that were left out.</summary>
/// <param name="Images">Every decodable image, labelled by its sub-folder.</param>
/// <param name="Skipped">Files that could not be decoded, each naming the file and the reason, in path order.</param>
public sealed record ImageFolderLoadResult(LabeledImageSet Images, IReadOnlyList<ImageDecodeException> Skipped);

/// <summary>
/// Reads a labelled image collection laid out as one sub-folder per class
/// (<c>root/&lt;class&gt;/*.png|jpg|…</c>), decoding every image to a fixed size with <see cref="ImageDecoder"/>.
/// </summary>
/// <remarks>
/// Classes are the sub-folder names in ordinal order; labels index that list. Files with an image
/// extension (<see cref="Extensions"/>) are read; other files and hidden entries are ignored. Images
/// that fail to decode are not fatal: they are collected in <see cref="ImageFolderLoadResult.Skipped"/>
/// and left out.
/// </remarks>
public static class ImageFolderDataset
{
    /// <summary>File extensions read as images (case-insensitive).</summary>
    public static IReadOnlySet<string> Extensions { get; } =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp" };

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
    /// <param name="maxDegreeOfParallelism">Decoding threads; -1 for all cores.</param>
    /// <param name="cancellationToken">Stops the decoding.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">No class sub-folders, a sub-folder outside <paramref name="classNames"/>, or no decodable image at all.</exception>
    public static ImageFolderLoadResult Load(
        string directory,
        ImageDecodeOptions options,
        IReadOnlyList<string>? classNames = null,
        IProgress<int>? progress = null,
        int maxDegreeOfParallelism = -1,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
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
                if (fileName.Length > 0 && fileName[0] != '.' && Extensions.Contains(Path.GetExtension(fileName)))
                {
                    files.Add((file, label));
                }
            }
        }

        int size = options.OutputLength;
        var pixels = new byte[(long)files.Count * size];
        var failures = new ImageDecodeException?[files.Count];
        int done = 0;
        Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, CancellationToken = cancellationToken }, i =>
        {
            try
            {
                ImageDecoder.DecodeFile(files[i].Path, options, pixels.AsSpan(i * size, size));
            }
            catch (ImageDecodeException e)
            {
                failures[i] = e;
            }
            int finished = Interlocked.Increment(ref done);
            if (progress is not null && (finished % 256 == 0 || finished == files.Count))
            {
                progress.Report(finished);
            }
        });

        var keep = new List<int>(files.Count);
        var skipped = new List<ImageDecodeException>();
        for (int i = 0; i < files.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                skipped.Add(failure);
            }
            else
            {
                keep.Add(i);
            }
        }
        if (keep.Count == 0)
        {
            throw new InvalidDataException(
                files.Count == 0
                    ? $"Image folder '{directory}' holds no image files ({string.Join(", ", Extensions.Order(StringComparer.Ordinal))}) in its class sub-folders."
                    : $"None of the {files.Count} images in '{directory}' could be decoded; first: {skipped[0].Message}");
        }
        byte[] kept = pixels;
        if (keep.Count != files.Count)
        {
            kept = new byte[(long)keep.Count * size];
            for (int i = 0; i < keep.Count; i++)
            {
                pixels.AsSpan(keep[i] * size, size).CopyTo(kept.AsSpan(i * size, size));
            }
        }
        int[] labels = keep.Select(i => files[i].Label).ToArray();
        // The full path names the set unambiguously in checkpoints and reports ("train" alone would not).
        string setName = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        var set = new LabeledImageSet(setName, kept, labels, options.Channels, options.Height, options.Width, classes);
        return new ImageFolderLoadResult(set, skipped);
    }

    /// <summary>
    /// Reads a training folder and, optionally, a test folder labelled with the training folder's classes.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">A folder does not exist.</exception>
    /// <exception cref="InvalidDataException">See <see cref="Load"/>; the test folder has a class the training folder lacks.</exception>
    public static (ImageFolderLoadResult Train, ImageFolderLoadResult? Test) LoadSplits(
        string trainDirectory,
        string? testDirectory,
        ImageDecodeOptions options,
        IProgress<int>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ImageFolderLoadResult train = Load(trainDirectory, options, null, progress, -1, cancellationToken);
        ImageFolderLoadResult? test = testDirectory is null
            ? null
            : Load(testDirectory, options, train.Images.ClassNames, progress, -1, cancellationToken);
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
