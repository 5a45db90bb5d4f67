namespace ImageRetrieval.Training.Tests;

/// <summary>Tests that touch libtorch's global state (seed, thread count) run one at a time in this collection.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchCollection
{
    public const string Name = "libtorch";
}
