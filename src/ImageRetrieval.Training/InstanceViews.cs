using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>
/// Instance discrimination beside the class triplets (<see cref="TrainingOptions.InstanceLossWeight"/>): every image of a
/// batch is embedded twice, under two independent augmentation draws, and a second triplet loss treats the two views of one
/// image as the only positives — other images, of the same class too, are negatives. The class loss alone lets a class
/// shrink to a point, discarding what tells its members apart, which is exactly what classes never seen in training need;
/// the instance term keeps it (as self-supervised terms beside supervised contrastive losses do).
/// </summary>
internal static class InstanceViews
{
    /// <summary>The batch with a second augmented view of every image appended, and the class labels repeated to match.</summary>
    public static (Tensor Input, Tensor Labels) AddSecondView(Tensor input, Tensor labels, LabeledImageSet train, int[] indices, TrainingOptions recipe, Random random)
    {
        Tensor second = TrainingInputs.Batch(train, indices, recipe, random);
        return (torch.cat([input, second]), torch.cat([labels, labels]));
    }

    /// <summary>
    /// The instance term over a <c>[2B, 2B]</c> distance matrix of two views of B images: triplets mined by
    /// <paramref name="miner"/> with one label per image, so the other view is the positive.
    /// </summary>
    public static Tensor Loss(Tensor distances, ITripletMiner miner, TripletMarginLoss loss)
    {
        long views = distances.shape[0] / 2;
        Tensor ids = torch.arange(views, dtype: ScalarType.Int64).repeat(2);
        return loss.Compute(distances, miner.Mine(distances, ids)).Loss;
    }
}
