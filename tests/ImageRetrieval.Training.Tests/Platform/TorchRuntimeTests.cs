using ImageRetrieval.Training.Runtime;

namespace ImageRetrieval.Training.Tests.Platform;

[Collection(TorchCollection.Name)]
public class TorchRuntimeTests
{
    [Fact]
    public void Sets_glibcs_malloc_thresholds_on_Linux_unless_asked_not_to()
    {
        var state = TorchRuntime.Initialize();
        bool glibc = OperatingSystem.IsLinux() && System.Runtime.InteropServices.NativeLibrary.TryLoad("libc.so.6", out _);
        bool userTunables = (Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("glibc.malloc.", StringComparison.Ordinal);
        if (glibc && !userTunables && Environment.GetEnvironmentVariable(NativeAllocator.EnvironmentVariable) is null)
        {
            Assert.True(state.Configured, state.Description);
            Assert.Contains("M_MMAP_THRESHOLD 256 MiB (set), M_TRIM_THRESHOLD 256 MiB (set)", state.Description, StringComparison.Ordinal);
        }

        string? previous = Environment.GetEnvironmentVariable(NativeAllocator.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(NativeAllocator.EnvironmentVariable, "default");
            var optedOut = NativeAllocator.Configure();
            Assert.False(optedOut.Configured);
            Assert.Contains(NativeAllocator.EnvironmentVariable, optedOut.Description, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(NativeAllocator.EnvironmentVariable, previous);
        }
    }
}
