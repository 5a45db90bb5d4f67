using System.Runtime.InteropServices;

namespace ImageRetrieval.Training.Runtime;

/// <summary>What <see cref="NativeAllocator.Configure"/> did.</summary>
/// <param name="Configured">Whether glibc's malloc thresholds were set by this process.</param>
/// <param name="Description">What was set, or why nothing was.</param>
internal readonly record struct NativeAllocatorState(bool Configured, string Description);

/// <summary>
/// Keeps libtorch's CPU tensors from being handed back to the kernel on every free. libtorch allocates CPU
/// tensors with plain <c>malloc</c>; with glibc's defaults a freed block of more than 128 KiB at the top of
/// the heap is trimmed (returned to the kernel) and blocks above the mmap threshold (128 KiB, raised
/// dynamically up to 32 MiB) are unmapped on free, so every training step maps its activation and gradient
/// tensors afresh and the kernel zero-fills them page by page (about a fifth of a classic-recipe step in
/// <c>exc_page_fault</c>, docs/benchmarks.md). Setting <c>M_MMAP_THRESHOLD</c> and <c>M_TRIM_THRESHOLD</c> to
/// 256 MiB — the values of the <c>GLIBC_TUNABLES</c> setting measured in issue 19 — keeps those blocks in the
/// heap for the next step; an explicit <c>M_MMAP_THRESHOLD</c> also switches off glibc's dynamic threshold.
/// Peak resident memory stays that of one step (measured in docs/training.md), but up to 256 MiB freed at
/// the top of the heap after training stays with the process instead of going back to the kernel.
/// </summary>
/// <remarks>
/// Linux with glibc only: elsewhere (Windows, macOS, musl) nothing happens. It is skipped when
/// <c>GLIBC_TUNABLES</c> already sets either malloc threshold (the user's choice wins) and when
/// <c>IMAGERETRIEVAL_MALLOC=default</c> asks for glibc's defaults.
/// </remarks>
internal static class NativeAllocator
{
    /// <summary>Blocks up to this size come from the heap instead of their own mmap.</summary>
    public const int MmapThresholdBytes = 256 << 20;

    /// <summary>Free memory at the top of the heap is returned to the kernel only beyond this much.</summary>
    public const int TrimThresholdBytes = 256 << 20;

    /// <summary>Set to <c>default</c> to leave glibc's malloc settings alone.</summary>
    public const string EnvironmentVariable = "IMAGERETRIEVAL_MALLOC";

    private const int M_TRIM_THRESHOLD = -1;
    private const int M_MMAP_THRESHOLD = -3;

    /// <summary>Sets the thresholds (once per process is enough; calling again sets the same values).</summary>
    public static NativeAllocatorState Configure()
    {
        if (!OperatingSystem.IsLinux())
        {
            return new(false, "not Linux: the platform allocator is left alone");
        }
        if (string.Equals(Environment.GetEnvironmentVariable(EnvironmentVariable), "default", StringComparison.OrdinalIgnoreCase))
        {
            return new(false, $"{EnvironmentVariable}=default: glibc's malloc defaults kept");
        }
        string tunables = Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "";
        if (tunables.Contains("glibc.malloc.mmap_threshold", StringComparison.Ordinal) || tunables.Contains("glibc.malloc.trim_threshold", StringComparison.Ordinal))
        {
            return new(false, "GLIBC_TUNABLES sets the malloc thresholds: left as given");
        }
        if (!NativeLibrary.TryLoad("libc.so.6", out IntPtr libc))
        {
            return new(false, "no libc.so.6 (not glibc): the platform allocator is left alone");
        }
        try
        {
            if (!NativeLibrary.TryGetExport(libc, "gnu_get_libc_version", out _) || !NativeLibrary.TryGetExport(libc, "mallopt", out _))
            {
                return new(false, "libc.so.6 is not glibc: the platform allocator is left alone");
            }
        }
        finally
        {
            NativeLibrary.Free(libc);
        }
        bool mmap = mallopt(M_MMAP_THRESHOLD, MmapThresholdBytes) == 1;
        bool trim = mallopt(M_TRIM_THRESHOLD, TrimThresholdBytes) == 1;
        return new(mmap && trim, $"glibc malloc: M_MMAP_THRESHOLD {MmapThresholdBytes >> 20} MiB ({(mmap ? "set" : "refused")}), M_TRIM_THRESHOLD {TrimThresholdBytes >> 20} MiB ({(trim ? "set" : "refused")})");
    }

    [DllImport("libc.so.6", EntryPoint = "mallopt", ExactSpelling = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int mallopt(int parameter, int value);
}
