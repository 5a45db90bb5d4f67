using TorchSharp;

namespace ImageRetrieval.Training.Runtime;

/// <summary>
/// The one place the library prepares the process for libtorch: the native allocator settings
/// (<see cref="NativeAllocator"/>) and the thread count. Every TorchSharp entry point of the library —
/// training, building or loading a network (evaluation with checkpoints, ImageNet features, export parity
/// checks) — goes through it, so the fast behaviour does not depend on an environment variable a user must know.
/// </summary>
internal static class TorchRuntime
{
    private static readonly Lazy<NativeAllocatorState> s_allocator = new(NativeAllocator.Configure, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Configures the process once (later calls return the first outcome).</summary>
    public static NativeAllocatorState Initialize() => s_allocator.Value;

    /// <summary><see cref="Initialize"/>, then libtorch's intra-op threads when <paramref name="threads"/> &gt; 0 (0 keeps libtorch's choice).</summary>
    public static void SetThreads(int threads)
    {
        Initialize();
        if (threads > 0)
        {
            torch.set_num_threads(threads);
        }
    }
}
