using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Networks;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>Runs an <see cref="EmbeddingNetwork"/> over a whole <see cref="LabeledImageSet"/>.</summary>
public static class NetworkEmbedder
{
    /// <summary>
    /// Embeds every image (no augmentation, evaluation mode, no gradients) and returns the vectors row
    /// after row (<c>set.Count × D</c>, D = <see cref="EmbeddingNetwork.OutputDimension"/>). The network's training/evaluation mode is restored afterwards.
    /// </summary>
    /// <param name="network">The network.</param>
    /// <param name="set">Images whose shape matches the network's spec.</param>
    /// <param name="batchSize">Images per forward pass.</param>
    /// <param name="progress">Receives the number of images embedded so far.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <exception cref="ArgumentException">The images do not have the network's input shape.</exception>
    public static float[] Embed(EmbeddingNetwork network, LabeledImageSet set, int batchSize = 500, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(set);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        RequireShape(set, network.Spec);
        int dimension = network.OutputDimension;
        var output = new float[(long)set.Count * dimension];
        bool wasTraining = network.training;
        network.eval();
        try
        {
            using var _ = torch.no_grad();
            for (int start = 0; start < set.Count; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(batchSize, set.Count - start);
                using var scope = torch.NewDisposeScope();
                var batch = ToTensor(set.Pixels.Slice(start * set.ImageSize, count * set.ImageSize), count, set.Channels, set.Height, set.Width);
                var embeddings = network.forward(batch).contiguous();
                embeddings.data<float>().ToArray().CopyTo(output.AsSpan(start * dimension, count * dimension));
                progress?.Report(start + count);
            }
        }
        finally
        {
            network.train(wasTraining);
        }
        return output;
    }

    /// <summary>Raw 0–255 pixels as a float tensor <c>[count, C, H, W]</c>.</summary>
    internal static Tensor ToTensor(ReadOnlySpan<byte> pixels, int count, int channels, int height, int width)
    {
        var values = new float[pixels.Length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = pixels[i];
        }
        return torch.tensor(values, [count, channels, height, width]);
    }

    /// <summary>Throws unless the images have the network's input shape.</summary>
    internal static void RequireShape(LabeledImageSet set, NetworkSpec spec)
    {
        if (set.Channels != spec.Channels || set.Height != spec.Height || set.Width != spec.Width)
        {
            throw new ArgumentException(
                $"'{set.Name}' holds {set.Channels}x{set.Height}x{set.Width} images; the network expects {spec.Channels}x{spec.Height}x{spec.Width}.", nameof(set));
        }
    }
}
