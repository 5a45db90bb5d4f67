using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Losses;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Runtime;
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
    /// <summary>Whether a recipe's steps carry the instance term: a positive weight, and P × K batches (random triplets have none).</summary>
    public static bool Apply(TrainingOptions recipe) => recipe.InstanceLossWeight > 0 && recipe.Miner != TripletMiningStrategy.Random;

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

    /// <summary>
    /// NT-Xent (normalised temperature-scaled cross-entropy; SimCLR, Chen et al. 2020) over <c>[2B, D]</c> unit embeddings of two
    /// views of B images: for each view, the cross-entropy of its cosine similarities to the 2B − 1 other views, divided by
    /// <paramref name="temperature"/>, with the other view of the same image as the target; the mean over all 2B views.
    /// </summary>
    public static Tensor NtXentLoss(Tensor embeddings, double temperature)
    {
        long count = embeddings.shape[0];
        long views = count / 2;
        Tensor logits = embeddings.matmul(embeddings.t()).DividedBy(temperature);
        // A view is not its own candidate: its similarity 1 would dominate every row.
        logits = logits.FilledWhere(torch.eye(count, dtype: ScalarType.Bool), double.NegativeInfinity);
        Tensor targets = torch.tensor(Enumerable.Range(0, (int)count).Select(i => (i + views) % count).ToArray());
        return torch.nn.functional.cross_entropy(logits, targets);
    }
}
