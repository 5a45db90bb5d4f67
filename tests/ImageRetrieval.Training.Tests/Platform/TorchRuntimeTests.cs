using ImageRetrieval.Training.Runtime;

namespace ImageRetrieval.Training.Tests.Platform;

[Collection(TorchCollection.Name)]
public class TorchRuntimeTests
{
    [Fact]
    public void Leaves_a_users_OpenMP_wait_policy_alone_and_says_what_it_did()
    {
        string policy = TorchRuntime.Initialize().WaitPolicy;
        Assert.Contains(OpenMpWaitPolicy.Variable, policy, StringComparison.Ordinal);
        string? previous = Environment.GetEnvironmentVariable(OpenMpWaitPolicy.Variable);
        try
        {
            Environment.SetEnvironmentVariable(OpenMpWaitPolicy.Variable, "ACTIVE");
            Assert.Equal($"{OpenMpWaitPolicy.Variable}=ACTIVE (set by the user)", OpenMpWaitPolicy.Configure());
        }
        finally
        {
            Environment.SetEnvironmentVariable(OpenMpWaitPolicy.Variable, previous);
        }
        // Once libtorch (and with it OpenMP) is loaded it is too late to change the policy, and it says so.
        using (var loaded = TorchSharp.torch.zeros(1))
        {
        }
        if (OperatingSystem.IsLinux() && previous is null)
        {
            Assert.Contains("already loaded", OpenMpWaitPolicy.Configure(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Sets_glibcs_malloc_thresholds_on_Linux_unless_asked_not_to()
    {
        var state = TorchRuntime.Initialize().Allocator;
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
