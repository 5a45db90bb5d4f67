using ImageRetrieval.Datasets;
using ImageRetrieval.ML.Imaging;

namespace ImageRetrieval.Cli.Services;

/// <summary>Two labelled sets read for a command (training + validation, or gallery + queries) and the files left out.</summary>
internal sealed record SelectedSets(LabeledImageSet First, LabeledImageSet? Second, IReadOnlyList<SkippedImage> Skipped);

/// <summary>
/// The datasets <c>imgret train</c> and <c>imgret eval</c> read, chosen by the same flags (<c>--dataset</c>, <c>--data</c>,
/// folders), in one place: Fashion-MNIST from its IDX files, Oxford 102 Flowers by its standard splits, or image folders.
/// </summary>
internal static class DatasetSelection
{
    public const string FashionMnistName = "fashion-mnist";
    public const string Oxford102Name = "oxford102";
    public const string FolderName = "folder";

    /// <summary>The <c>--dataset</c> values.</summary>
    public static IReadOnlyList<string> Names { get; } = [FashionMnistName, Oxford102Name, FolderName];

    /// <summary>The <c>--data</c> help text shared by every command that reads Fashion-MNIST or Oxford 102.</summary>
    public static string DataDescription { get; } =
        $"Fashion-MNIST folder (default: ${FashionMnist.DataEnvironmentVariable}, then {FashionMnist.DebianDirectory}), " +
        $"or with --dataset oxford102 the Oxford 102 Flowers folder (jpg/, imagelabels.mat, setid.mat; default: ${FashionMnist.DataEnvironmentVariable}).";

    /// <summary>
    /// What <c>imgret train</c> trains on and validates with: Fashion-MNIST train / test, Oxford 102's train split (stored at
    /// <paramref name="trainSide"/> for photo augmentation) / validation split, or <paramref name="trainDir"/> / <paramref name="testDir"/>.
    /// </summary>
    public static SelectedSets ForTraining(string dataset, string? data, string? trainDir, string? testDir, int channels, int trainSide, int side,
        int limit, int validationLimit, int threads, CancellationToken cancellationToken)
    {
        if (dataset == Oxford102Name)
        {
            string directory = Oxford102Directory(data);
            var train = Oxford102Flowers.Load(directory, Oxford102Split.Train, trainSide, 3, maxItems: limit, maxDegreeOfParallelism: Parallelism(threads));
            var validation = Oxford102Flowers.Load(directory, Oxford102Split.Validation, side, 3, maxItems: validationLimit, maxDegreeOfParallelism: Parallelism(threads));
            return new SelectedSets(train.Images, validation.Images, [.. train.Skipped, .. validation.Skipped]);
        }
        if (dataset == FolderName && trainDir is null)
        {
            throw new ArgumentException("--dataset folder needs --train-dir DIR (one sub-folder per class) and optionally --test-dir DIR.");
        }
        if (trainDir is null)
        {
            return new SelectedSets(LoadFashionMnist(FashionMnist.Split.Train, data, limit), LoadFashionMnist(FashionMnist.Split.Test, data, validationLimit), []);
        }
        var decode = new ImageDecodeOptions { Width = side, Height = side, Channels = channels };
        var trainResult = ImageFolderDataset.Load(trainDir, decode with { Width = trainSide, Height = trainSide }, null, null, Parallelism(threads), cancellationToken);
        var testResult = testDir is null ? null : ImageFolderDataset.Load(testDir, decode, trainResult.Images.ClassNames, null, Parallelism(threads), cancellationToken);
        return new SelectedSets(trainResult.Images.Take(limit), testResult?.Images.Take(validationLimit), [.. trainResult.Skipped, .. testResult?.Skipped ?? []]);
    }

    /// <summary>
    /// What <c>imgret eval</c> searches and with what (the standard protocols): Fashion-MNIST's 60,000 training images as
    /// the gallery and its 10,000 test images as queries; Oxford 102's train split (trnid) as the gallery and its test split
    /// (tstid) as queries; or <paramref name="galleryDir"/> / <paramref name="queryDir"/>. Images are decoded at <paramref name="shape"/>.
    /// </summary>
    public static SelectedSets ForEvaluation(string dataset, string? data, string? galleryDir, string? queryDir, (int Channels, int Height, int Width) shape,
        ImageResizeMode resize, int galleryLimit, int queryLimit, int threads)
    {
        var (channels, height, width) = shape;
        if (dataset == Oxford102Name && galleryDir is null && queryDir is null)
        {
            if (height != width)
            {
                throw new ArgumentException($"The model expects {height}x{width} images; Oxford 102 photos are fitted to a square. Use a model with a square input.");
            }
            string directory = Oxford102Directory(data);
            var gallery = Oxford102Flowers.Load(directory, Oxford102Split.Train, height, channels, resize, maxItems: galleryLimit, maxDegreeOfParallelism: Parallelism(threads));
            var queries = Oxford102Flowers.Load(directory, Oxford102Split.Test, height, channels, resize, maxItems: queryLimit, maxDegreeOfParallelism: Parallelism(threads));
            return new SelectedSets(gallery.Images, queries.Images, [.. gallery.Skipped, .. queries.Skipped]);
        }
        if (dataset == FolderName && (galleryDir is null || queryDir is null))
        {
            throw new ArgumentException("--dataset folder needs --gallery DIR and --queries DIR (one sub-folder per class each).");
        }
        if (galleryDir is null && queryDir is null)
        {
            if (channels != 1 || height != FashionMnist.ImageSide || width != FashionMnist.ImageSide)
            {
                throw new ArgumentException($"The model expects {channels}x{height}x{width} images; Fashion-MNIST is 1x28x28. Pass --gallery and --queries folders instead.");
            }
            return new SelectedSets(LoadFashionMnist(FashionMnist.Split.Train, data, galleryLimit), LoadFashionMnist(FashionMnist.Split.Test, data, queryLimit), []);
        }
        if (galleryDir is null || queryDir is null)
        {
            throw new ArgumentException("--gallery and --queries go together.");
        }
        var options = new ImageDecodeOptions { Width = width, Height = height, Channels = channels, ResizeMode = resize };
        var (galleryResult, queryResult) = ImageFolderDataset.LoadSplits(galleryDir, queryDir, options, maxDegreeOfParallelism: Parallelism(threads));
        return new SelectedSets(galleryResult.Images.Take(galleryLimit), queryResult!.Images.Take(queryLimit), [.. galleryResult.Skipped, .. queryResult.Skipped]);
    }

    /// <summary>imgret's <c>--threads 0</c> (all cores) in the libraries' terms (-1).</summary>
    public static int Parallelism(int threads) => threads > 0 ? threads : -1;

    private static LabeledImageSet LoadFashionMnist(FashionMnist.Split split, string? data, int limit)
    {
        try
        {
            return FashionMnist.Load(split, data, limit);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DirectoryNotFoundException(e.Message + " Pass the folder with --data.", e);
        }
    }

    private static string Oxford102Directory(string? data)
    {
        try
        {
            return Oxford102Flowers.ResolveDirectory(data);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DirectoryNotFoundException(e.Message + " Pass the folder with --data.", e);
        }
    }
}
