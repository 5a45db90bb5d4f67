using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using ImageRetrieval.IO;
using ImageRetrieval.ML.Models;
using ImageRetrieval.Training.Networks;
using TorchSharp.Modules;

namespace ImageRetrieval.Training.Checkpoints;

/// <summary>What a checkpoint says about the network it holds and the run that produced it.</summary>
public sealed record CheckpointInfo
{
    /// <summary>Checkpoint format version.</summary>
    public int FormatVersion { get; init; } = CheckpointFile.CurrentFormatVersion;

    /// <summary>How to rebuild the network.</summary>
    public required NetworkSpec Spec { get; init; }

    /// <summary>The training set's name, e.g. <c>fashion-mnist/train</c>.</summary>
    public required string TrainingDataset { get; init; }

    /// <summary>The distance the embeddings were trained for: <c>l2</c> or <c>cosine</c>.</summary>
    public required string Metric { get; init; }

    /// <summary>The training set's class names, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; init; } = [];

    /// <summary>Epochs completed.</summary>
    public int Epoch { get; init; }

    /// <summary>The options of the run (for resuming and for the record).</summary>
    public TrainingOptions? Options { get; init; }

    /// <summary>Per-epoch summaries so far.</summary>
    public IReadOnlyList<EpochSummary> History { get; init; } = [];

    /// <summary>The model metadata an ONNX export of this checkpoint carries.</summary>
    public EmbeddingModelMetadata ToModelMetadata() => new()
    {
        InputWidth = Spec.Width,
        InputHeight = Spec.Height,
        InputChannels = Spec.Channels,
        EmbeddingDimension = NetworkFactory.OutputDimension(Spec),
        Metric = Metric,
        Architecture = Spec.Architecture,
        TrainingDataset = TrainingDataset,
    };
}

/// <summary>
/// Self-describing training checkpoints: one ZIP file holding <c>checkpoint.json</c> (the
/// <see cref="CheckpointInfo"/>: network spec, dataset, metric, epoch, options, history),
/// <c>weights.bin</c> (TorchSharp's <c>Module.save</c> format) and, for resuming, <c>optimizer.bin</c>
/// (TorchSharp's optimizer state). Written atomically (temporary file, flush, rename).
/// </summary>
public static class CheckpointFile
{
    /// <summary>The format version this library writes and reads.</summary>
    public const int CurrentFormatVersion = 1;

    private const string InfoEntry = "checkpoint.json";
    private const string WeightsEntry = "weights.bin";
    private const string OptimizerEntry = "optimizer.bin";

    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    /// <summary>Writes a checkpoint atomically.</summary>
    /// <param name="path">Destination file (its folder is created).</param>
    /// <param name="network">The network whose weights are stored.</param>
    /// <param name="info">The description; its <see cref="CheckpointInfo.Spec"/> must be the network's.</param>
    /// <param name="optimizer">Optimizer state to store for resuming, if any.</param>
    public static void Save(string path, EmbeddingNetwork network, CheckpointInfo info, OptimizerHelper? optimizer = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(info);
        AtomicFile.Write(path, file =>
        {
            using var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true);
            WriteEntry(zip, InfoEntry, stream => JsonSerializer.Serialize(stream, info, Json));
            WriteEntry(zip, WeightsEntry, stream =>
            {
                using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                network.save(writer);
            });
            if (optimizer is not null)
            {
                WriteEntry(zip, OptimizerEntry, stream =>
                {
                    using var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
                    optimizer.save_state_dict(writer);
                });
            }
        });
    }

    /// <summary>Reads only the description of a checkpoint.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an ImageRetrieval checkpoint, or is newer than this library.</exception>
    public static CheckpointInfo ReadInfo(string path)
    {
        using var zip = Open(path);
        return ReadInfo(zip, path);
    }

    /// <summary>Rebuilds the network stored in a checkpoint, with its weights, in evaluation mode.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid ImageRetrieval checkpoint.</exception>
    public static EmbeddingNetwork LoadNetwork(string checkpointPath) => Load(checkpointPath, out _);

    /// <summary>Rebuilds the network and returns the description too.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid ImageRetrieval checkpoint.</exception>
    public static EmbeddingNetwork Load(string checkpointPath, out CheckpointInfo info)
    {
        using var zip = Open(checkpointPath);
        info = ReadInfo(zip, checkpointPath);
        EmbeddingNetwork network;
        try
        {
            network = NetworkFactory.Create(info.Spec);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"Checkpoint '{checkpointPath}' describes a network this library cannot build: {e.Message}", e);
        }
        try
        {
            using var reader = new BinaryReader(ReadEntry(zip, WeightsEntry, checkpointPath));
            network.load(reader, strict: true);
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidOperationException or EndOfStreamException)
        {
            network.Dispose();
            throw new InvalidDataException($"Checkpoint '{checkpointPath}' has weights that do not fit its '{info.Spec.Architecture}' network: {e.Message}", e);
        }
        network.eval();
        return network;
    }

    /// <summary>Restores the optimizer state stored with the checkpoint; false when it holds none.</summary>
    internal static bool TryLoadOptimizer(string checkpointPath, OptimizerHelper optimizer)
    {
        using var zip = Open(checkpointPath);
        if (zip.GetEntry(OptimizerEntry) is null)
        {
            return false;
        }
        using var reader = new BinaryReader(ReadEntry(zip, OptimizerEntry, checkpointPath));
        optimizer.load_state_dict(reader);
        return true;
    }

    private static ZipArchive Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Checkpoint '{path}' does not exist.", path);
        }
        var stream = File.OpenRead(path);
        try
        {
            return new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch (InvalidDataException e)
        {
            stream.Dispose();
            throw new InvalidDataException($"'{path}' is not an ImageRetrieval checkpoint (not a ZIP archive): {e.Message}", e);
        }
    }

    private static CheckpointInfo ReadInfo(ZipArchive zip, string path)
    {
        CheckpointInfo? info;
        try
        {
            using var stream = ReadEntry(zip, InfoEntry, path);
            info = JsonSerializer.Deserialize<CheckpointInfo>(stream, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"Checkpoint '{path}' has an unreadable {InfoEntry}: {e.Message}", e);
        }
        if (info is null || info.Spec is null)
        {
            throw new InvalidDataException($"Checkpoint '{path}' has an empty {InfoEntry}.");
        }
        if (info.FormatVersion > CurrentFormatVersion)
        {
            throw new InvalidDataException($"Checkpoint '{path}' has format version {info.FormatVersion}; this library reads up to {CurrentFormatVersion}.");
        }
        return info;
    }

    private static MemoryStream ReadEntry(ZipArchive zip, string name, string path)
    {
        ZipArchiveEntry entry = zip.GetEntry(name)
            ?? throw new InvalidDataException($"Checkpoint '{path}' lacks its '{name}' entry.");
        var buffer = new MemoryStream();
        using (var stream = entry.Open())
        {
            stream.CopyTo(buffer);
        }
        buffer.Position = 0;
        return buffer;
    }

    private static void WriteEntry(ZipArchive zip, string name, Action<Stream> write)
    {
        ZipArchiveEntry entry = zip.CreateEntry(name, CompressionLevel.Fastest);
        using var stream = entry.Open();
        write(stream);
    }
}
