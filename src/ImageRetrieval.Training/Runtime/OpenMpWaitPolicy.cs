using System.Runtime.InteropServices;

namespace ImageRetrieval.Training.Runtime;

/// <summary>
/// Makes libtorch's OpenMP worker threads sleep, instead of spinning, while they wait for work
/// (<c>OMP_WAIT_POLICY=PASSIVE</c>). With GNU OpenMP's default a waiting worker spins for a while; when the
/// cores are shared with other processes, a spinning worker takes the CPU its partner needs and every parallel
/// region waits for a descheduled thread: on this project's shared 2-core machine a 2-thread training step of
/// the classic network took 8× longer with the default policy than with PASSIVE (PyTorch 1.13 the same,
/// docs/benchmarks.md). GNU OpenMP reads the variable once, when libtorch loads it, so this only takes effect
/// when it runs before the first TorchSharp call of the process; it never overrides an <c>OMP_WAIT_POLICY</c>
/// the user set (<c>OMP_WAIT_POLICY=ACTIVE</c> restores spinning).
/// </summary>
internal static class OpenMpWaitPolicy
{
    /// <summary>The OpenMP variable.</summary>
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment if nothing set it and OpenMP is not loaded yet; says what happened.</summary>
    public static string Configure()
    {
        if (!OperatingSystem.IsLinux())
        {
            return $"{Variable} left alone (not Linux)";
        }
        if (Environment.GetEnvironmentVariable(Variable) is { } given)
        {
            return $"{Variable}={given} (set by the user)";
        }
        if (OpenMpLoaded())
        {
            return $"{Variable} not set: OpenMP was already loaded (set {Variable}=PASSIVE before starting the process)";
        }
        // .NET's Environment.SetEnvironmentVariable does not reach the native environment on Unix; libc's setenv does.
        return setenv(Variable, "PASSIVE", 0) == 0 ? $"{Variable}=PASSIVE" : $"{Variable} not set: setenv failed";
    }

    private static bool OpenMpLoaded()
    {
        try
        {
            return File.ReadLines("/proc/self/maps").Any(line => line.Contains("libgomp", StringComparison.Ordinal) || line.Contains("libiomp", StringComparison.Ordinal) || line.Contains("libomp", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return true;   // cannot tell: do not pretend the setting will apply
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    [DllImport("libc", EntryPoint = "setenv", ExactSpelling = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int setenv(string name, string value, int overwrite);
}
