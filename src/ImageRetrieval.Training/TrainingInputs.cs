using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Augmentation;
using ImageRetrieval.Training.Networks;
using ImageRetrieval.Training.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>
/// What <see cref="TripletTrainer"/> feeds the network: the network a fresh run starts from (random or
/// ImageNet-initialised), the augmented training batches (shift/flip or photo augmentation) and the
/// gallery evaluation compares against. Kept apart from the training loop so the loop stays the same
/// for every kind of data.
/// </summary>
internal static class TrainingInputs
{
    /// <summary>
    /// The network a fresh run starts from. Input side: <see cref="PhotoAugmentationOptions.OutputSize"/> with
    /// photo augmentation (the stored training images may be larger), else the training images' size.
    /// With <see cref="FineTuningOptions.PretrainedWeights"/>: a <c>resnet18</c> with ImageNet weights and
    /// ImageNet normalisation; otherwise random weights normalising with the training set's statistics.
    /// </summary>
    public static EmbeddingNetwork CreateNetwork(LabeledImageSet train, TrainingOptions options)
    {
        int height = options.PhotoAugmentation?.OutputSize ?? train.Height;
        int width = options.PhotoAugmentation?.OutputSize ?? train.Width;
        if (options.FineTuning?.PretrainedWeights is { } weights)
        {
            var network = NetworkFactory.Create(ResNet18Weights.CreateSpec(height, width, options.EmbeddingDimension) with { EmbeddingLayers = options.EmbeddingLayers });
            try
            {
                ResNet18Weights.ImportImageNet(network, weights);
            }
            catch
            {
                network.Dispose();
                throw;
            }
            return network;
        }
        var (mean, std) = TripletTrainer.ChannelStatistics(train);
        return NetworkFactory.Create(new NetworkSpec(options.Architecture, train.Channels, height, width, options.EmbeddingDimension, mean, std)
        {
            EmbeddingLayers = options.EmbeddingLayers,
        });
    }

    /// <summary>
    /// Throws unless <paramref name="train"/> fits the network: the exact input shape, or with photo
    /// augmentation the same channels (any stored size; crops are resized to the input size).
    /// </summary>
    public static void RequireTrainingShape(LabeledImageSet train, NetworkSpec spec, TrainingOptions recipe)
    {
        if (recipe.PhotoAugmentation is not { } photo)
        {
            NetworkEmbedder.RequireShape(train, spec);
            return;
        }
        if (train.Channels != spec.Channels)
        {
            throw new ArgumentException($"'{train.Name}' holds {train.Channels}-channel images; the network expects {spec.Channels}.", nameof(train));
        }
        if (photo.OutputSize != spec.Height || photo.OutputSize != spec.Width)
        {
            throw new ArgumentException(
                $"Photo augmentation produces {photo.OutputSize}x{photo.OutputSize} crops; the network expects {spec.Height}x{spec.Width}.", nameof(recipe));
        }
    }

    /// <summary>The float <c>[N, C, H, W]</c> batch of 0–255 pixels for <paramref name="indices"/>, augmented as the recipe says.</summary>
    public static Tensor Batch(LabeledImageSet train, int[] indices, TrainingOptions recipe, Random random)
    {
        if (recipe.PhotoAugmentation is { } photo)
        {
            using Tensor stored = PhotoAugmentation.ToTensor(train, indices);
            return new PhotoAugmentation(photo).Apply(stored, random);
        }
        var pixels = new float[indices.Length * train.ImageSize];
        BatchBuilder.Fill(train, indices, pixels, recipe.Augmentation, random);
        return torch.tensor(pixels, [indices.Length, train.Channels, train.Height, train.Width]);
    }

    /// <summary>
    /// The training images as the evaluation gallery: <paramref name="train"/> itself when it has the network's
    /// input size, else resized to it (bilinear, anti-aliased) — photos stored larger for random crops are
    /// compared whole, as the validation images are.
    /// </summary>
    public static LabeledImageSet EvaluationGallery(LabeledImageSet train, NetworkSpec spec) =>
        train.Height == spec.Height && train.Width == spec.Width ? train : Resize(train, spec.Height, spec.Width);

    /// <summary>Every image of <paramref name="set"/> resized to <paramref name="height"/> × <paramref name="width"/> (bilinear, anti-aliased, rounded to bytes).</summary>
    internal static LabeledImageSet Resize(LabeledImageSet set, int height, int width)
    {
        const int Chunk = 128;
        int outSize = set.Channels * height * width;
        var pixels = new byte[(long)set.Count * outSize];
        using var noGrad = torch.no_grad();
        for (int start = 0; start < set.Count; start += Chunk)
        {
            int count = Math.Min(Chunk, set.Count - start);
            using var scope = torch.NewDisposeScope();
            var input = torch.tensor(set.Pixels.Slice(start * set.ImageSize, count * set.ImageSize).ToArray(), [count, set.Channels, set.Height, set.Width])
                .to_type(ScalarType.Float32);
            var resized = nn.functional.interpolate(input, [height, width], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true)
                .round().ClampInPlace(0, 255).to_type(ScalarType.Byte).contiguous();
            resized.data<byte>().ToArray().CopyTo(pixels.AsSpan(start * outSize, count * outSize));
        }
        return new LabeledImageSet(set.Name, pixels, set.Labels.ToArray(), set.Channels, height, width, set.ClassNames);
    }
}
