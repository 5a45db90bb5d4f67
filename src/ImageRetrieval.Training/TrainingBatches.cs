using ImageRetrieval.Datasets;
using ImageRetrieval.Training.Mining;
using ImageRetrieval.Training.Networks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageRetrieval.Training;

/// <summary>
/// What one training step of <see cref="TripletTrainer"/> feeds forward: image batches through the whole network, or cached
/// backbone features through the head only (<see cref="FrozenFeatures"/>). The loop — sampling, mining, loss, optimiser,
/// statistics, progress, time budget — is the same for both.
/// </summary>
internal abstract class TrainingBatches
{
    /// <summary>Puts the trained module in training mode (before an epoch).</summary>
    public abstract void Train();

    /// <summary>The step's input and labels for <paramref name="indices"/> (timed as batch assembly) and whether it holds two views per image.</summary>
    public abstract (Tensor Input, Tensor Labels, bool Instances) Assemble(int[] indices, TrainingOptions recipe, Random random);

    /// <summary>The L2-normalised embeddings of an assembled input, with gradients.</summary>
    public abstract Tensor Embed(Tensor input);

    /// <summary>The trainable parameters.</summary>
    public abstract IEnumerable<Parameter> Parameters();

    /// <summary>The sampler of a recipe: random triplets, or P × K batches (P clamped to the classes present).</summary>
    public static IBatchSampler Sampler(ReadOnlySpan<int> labels, TrainingOptions recipe)
    {
        if (recipe.Miner == TripletMiningStrategy.Random)
        {
            return new RandomTripletSampler(labels, recipe.ClassesPerBatch * recipe.SamplesPerClass);
        }
        var classes = new HashSet<int>();
        foreach (int label in labels)
        {
            classes.Add(label);
        }
        return new PKBatchSampler(labels, Math.Min(recipe.ClassesPerBatch, classes.Count), recipe.SamplesPerClass);
    }
}

/// <summary>Image batches (augmented as the recipe says, with the instance term's second views) through the whole network.</summary>
internal sealed class ImageBatches(EmbeddingNetwork network, LabeledImageSet train, Tensor allLabels) : TrainingBatches
{
    public override void Train() => network.train();

    public override (Tensor Input, Tensor Labels, bool Instances) Assemble(int[] indices, TrainingOptions recipe, Random random)
    {
        var input = TrainingInputs.Batch(train, indices, recipe, random);
        var labels = allLabels.index_select(0, torch.tensor(indices.Select(i => (long)i).ToArray()));
        bool instances = InstanceViews.Apply(recipe);
        if (instances)
        {
            (input, labels) = InstanceViews.AddSecondView(input, labels, train, indices, recipe, random);
        }
        return (input, labels, instances);
    }

    public override Tensor Embed(Tensor input) => network.ForwardHead(input);

    public override IEnumerable<Parameter> Parameters() => network.parameters().Where(p => p.requires_grad);
}

/// <summary>
/// Rows of a cached feature matrix <c>[N, F]</c> through a linear head, then L2 normalisation. No augmentation: every step
/// sees the features computed once (see <see cref="FrozenFeatures"/>), and there is no instance term.
/// </summary>
internal sealed class FeatureBatches(Linear head, Tensor features, Tensor allLabels) : TrainingBatches
{
    public override void Train() => head.train();

    public override (Tensor Input, Tensor Labels, bool Instances) Assemble(int[] indices, TrainingOptions recipe, Random random)
    {
        var index = torch.tensor(indices.Select(i => (long)i).ToArray());
        return (features.index_select(0, index), allLabels.index_select(0, index), false);
    }

    public override Tensor Embed(Tensor input) => Forward(head, input);

    public override IEnumerable<Parameter> Parameters() => head.parameters().Where(p => p.requires_grad);

    /// <summary>The head's L2-normalised output for feature rows: what the network's last layers do after its backbone.</summary>
    public static Tensor Forward(Linear head, Tensor features) => nn.functional.normalize(head.forward(features), p: 2, dim: 1, eps: 1e-12);

    /// <summary>The head's embeddings of feature rows as an array (evaluation mode, no gradients; the head's mode is restored).</summary>
    public static float[] Embed(Linear head, Tensor features)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        bool wasTraining = head.training;
        head.eval();
        try
        {
            return Forward(head, features).contiguous().data<float>().ToArray();
        }
        finally
        {
            head.train(wasTraining);
        }
    }
}
