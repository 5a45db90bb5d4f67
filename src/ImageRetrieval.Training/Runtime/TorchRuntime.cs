using TorchSharp;

namespace ImageRetrieval.Training.Runtime;

/// <summary>What <see cref="TorchRuntime.Initialize"/> set up.</summary>
/// <param name="Allocator">The glibc malloc settings.</param>
/// <param name="WaitPolicy">The OpenMP wait policy, or why it was left alone.</param>
internal readonly record struct TorchRuntimeState(NativeAllocatorState Allocator, string WaitPolicy)
{
    /// <summary>One line for logs and benchmark output.</summary>
    public string Description => $"{Allocator.Description}; {WaitPolicy}";
}

/// <summary>
/// The one place the library prepares the process for libtorch: the native allocator settings
/// (<see cref="NativeAllocator"/>), OpenMP's wait policy (<see cref="OpenMpWaitPolicy"/>, effective only before
/// the first TorchSharp call) and the thread count. Every TorchSharp entry point of the library —
/// training, building or loading a network (evaluation with checkpoints, ImageNet features, export parity
/// checks) — goes through it, so the fast behaviour does not depend on an environment variable a user must know.
/// Code that calls TorchSharp itself before the library does should call <see cref="SetThreads"/> first: OpenMP
/// reads its wait policy once, when libtorch loads.
/// </summary>
public static class TorchRuntime
{
    private static readonly Lazy<TorchRuntimeState> s_state = new(
        () => new TorchRuntimeState(NativeAllocator.Configure(), OpenMpWaitPolicy.Configure()), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Configures the process once (later calls return the first outcome).</summary>
    internal static TorchRuntimeState Initialize() => s_state.Value;

    /// <summary>What the process set-up did (malloc thresholds, OpenMP wait policy), as one line for logs and benchmark output; configures the process first if nothing has yet.</summary>
    public static string Description => Initialize().Description;

    /// <summary>Configures the process for libtorch (once), then sets libtorch's intra-op threads when <paramref name="threads"/> &gt; 0 (0 keeps libtorch's choice).</summary>
    /// <param name="threads">Intra-op threads, or 0 to keep libtorch's default.</param>
    public static void SetThreads(int threads)
    {
        Initialize();
        if (threads > 0)
        {
            torch.set_num_threads(threads);
        }
    }
}
