using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Datasets;

/// <summary>
/// The one loader of labelled image files, shared by <see cref="ImageFolderDataset"/> and <see cref="Oxford102Flowers"/>:
/// decodes every file to the same size in parallel (<see cref="ImageDecoder"/>) into one contiguous buffer, leaves out
/// the files that cannot be used and reports them as <see cref="SkippedImage"/>s.
/// </summary>
internal static class ImageSetLoader
{
    /// <summary>Files processed between two progress reports.</summary>
    internal const int ProgressInterval = 64;

    /// <summary>Decodes <paramref name="files"/> into a <see cref="LabeledImageSet"/> named <paramref name="name"/>.</summary>
    /// <param name="name">The set's name.</param>
    /// <param name="files">The files with their 0-based labels, in the set's order.</param>
    /// <param name="classNames">The class names, indexed by label.</param>
    /// <param name="options">Target size, channels and resize mode.</param>
    /// <param name="progress">Receives the number of files processed so far (every <see cref="ProgressInterval"/> files and at the end).</param>
    /// <param name="maxDegreeOfParallelism">Decoding threads: a positive count, or -1 for every core (the meaning of <see cref="ParallelOptions.MaxDegreeOfParallelism"/>).</param>
    /// <param name="cancellationToken">Stops the decoding.</param>
    /// <param name="kept">The index in <paramref name="files"/> of each image of the result.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is 0 or below -1.</exception>
    /// <exception cref="ArgumentException">The images do not fit one buffer.</exception>
    public static ImageSetLoadResult Load(
        string name,
        IReadOnlyList<(string Path, int Label)> files,
        IReadOnlyList<string> classNames,
        ImageDecodeOptions options,
        IProgress<int>? progress,
        int maxDegreeOfParallelism,
        CancellationToken cancellationToken,
        out int[] kept)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(options);
        RequireParallelism(maxDegreeOfParallelism);
        options.Validate();
        int size = options.OutputLength;
        long bytes = (long)files.Count * size;
        if (bytes > Array.MaxLength)
        {
            throw new ArgumentException(
                $"{files.Count} images of {options.Channels}x{options.Height}x{options.Width} need {bytes} bytes, more than one buffer holds; use a smaller image size or fewer images.", nameof(files));
        }
        var pixels = GC.AllocateUninitializedArray<byte>((int)bytes);
        var failures = new ImageDecodeException?[files.Count];
        int done = 0;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, CancellationToken = cancellationToken };
        Parallel.For(0, files.Count, parallel, i =>
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
            if (progress is not null && (finished % ProgressInterval == 0 || finished == files.Count))
            {
                progress.Report(finished);
            }
        });

        // Compact in place: move the decoded images over the holes left by skipped ones.
        var skipped = new List<SkippedImage>();
        var keptIndices = new List<int>(files.Count);
        var labels = new List<int>(files.Count);
        for (int i = 0; i < files.Count; i++)
        {
            if (failures[i] is { } failure)
            {
                skipped.Add(SkippedImage.From(failure));
                continue;
            }
            if (keptIndices.Count != i)
            {
                pixels.AsSpan(i * size, size).CopyTo(pixels.AsSpan(keptIndices.Count * size, size));
            }
            keptIndices.Add(i);
            labels.Add(files[i].Label);
        }
        if (skipped.Count > 0)
        {
            pixels = pixels[..(keptIndices.Count * size)];
        }
        kept = [.. keptIndices];
        var set = new LabeledImageSet(name, pixels, [.. labels], options.Channels, options.Height, options.Width, classNames);
        return new ImageSetLoadResult(set, skipped);
    }

    /// <summary>Throws unless <paramref name="maxDegreeOfParallelism"/> is a positive count or -1 (every core).</summary>
    internal static void RequireParallelism(int maxDegreeOfParallelism, string parameterName = "maxDegreeOfParallelism")
    {
        if (maxDegreeOfParallelism == 0 || maxDegreeOfParallelism < -1)
        {
            throw new ArgumentOutOfRangeException(parameterName, maxDegreeOfParallelism, "Use a positive thread count, or -1 for every core.");
        }
    }
}
