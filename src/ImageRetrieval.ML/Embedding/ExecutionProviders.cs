using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace ImageRetrieval.ML.Embedding;

/// <summary>Which ONNX Runtime execution provider scores the model, and why.</summary>
/// <param name="Name">The execution provider that runs the model: <c>CUDAExecutionProvider</c> or <c>CPUExecutionProvider</c>.</param>
/// <param name="RequestedGpuDeviceId">The GPU that was asked for, or <see langword="null"/> for CPU.</param>
/// <param name="FallbackReason">Why the GPU was not used although it was asked for; <see langword="null"/> otherwise.</param>
public sealed record ExecutionProviderInfo(string Name, int? RequestedGpuDeviceId, string? FallbackReason)
{
    /// <summary>ONNX Runtime's name of the CUDA execution provider.</summary>
    public const string Cuda = "CUDAExecutionProvider";

    /// <summary>ONNX Runtime's name of the default CPU execution provider.</summary>
    public const string Cpu = "CPUExecutionProvider";

    /// <summary>True when the model runs on the GPU.</summary>
    public bool IsGpu => Name == Cuda;

    /// <summary>True when a GPU was requested but the CPU is used.</summary>
    public bool FellBack => FallbackReason is not null;

    /// <inheritdoc />
    public override string ToString() => FallbackReason is null ? Name : $"{Name} (GPU {RequestedGpuDeviceId} unavailable: {FallbackReason})";
}

/// <summary>
/// Chooses ONNX Runtime's execution provider: CUDA when <c>gpuDeviceId</c> is given and the CUDA provider loads
/// (probed once per process and device), otherwise the CPU, with the fallback logged as a warning.
/// </summary>
/// <remarks>
/// <para>The package ships ONNX Runtime's CPU build (<c>Microsoft.ML.OnnxRuntime</c>), which has no CUDA entry point at all:
/// appending the CUDA provider throws <see cref="EntryPointNotFoundException"/>. With the GPU build
/// (<c>Microsoft.ML.OnnxRuntime.Gpu</c>, the application's opt-in) and no usable CUDA 13 / cuDNN 9 installation it fails
/// with an <see cref="OnnxRuntimeException"/> (<c>libcublasLt.so.13: cannot open shared object file</c>). Both are "GPU
/// unavailable" here; ML.NET's own <c>ApplyOnnxModel(gpuDeviceId, fallbackToCpu: true)</c> only catches the second, which
/// is why the estimators ask this class first and pass ML.NET a device only when the probe succeeded.</para>
/// <para>A provider that appends but cannot make a session on the device (CUDA libraries without a usable GPU) is caught
/// where the session is made: <see cref="ImageEmbedder"/> falls back to the CPU there too.</para>
/// </remarks>
public static partial class ExecutionProviders
{
    private static readonly ConcurrentDictionary<int, string?> CudaProbe = new();

    /// <summary>Session options for the requested device. Throws when the GPU is unavailable and <paramref name="fallbackToCpu"/> is false.</summary>
    internal static SessionOptions CreateSessionOptions(int? gpuDeviceId, bool fallbackToCpu, int intraOpThreads, int interOpThreads, ILogger? logger, out ExecutionProviderInfo provider)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = interOpThreads,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        try
        {
            provider = Resolve(gpuDeviceId, fallbackToCpu, logger);
            if (provider.IsGpu)
            {
                options.AppendExecutionProvider_CUDA(gpuDeviceId!.Value);
            }
            return options;
        }
        catch
        {
            options.Dispose();
            throw;
        }
    }

    /// <summary>Decides (once per device and process) whether CUDA can be used, and reports the provider that will run.</summary>
    /// <param name="gpuDeviceId">The CUDA device, or <see langword="null"/> for the CPU.</param>
    /// <param name="fallbackToCpu">Whether an unusable GPU means the CPU (logged as a warning) rather than an exception.</param>
    /// <param name="logger">Receives the fallback warning; none when null.</param>
    /// <exception cref="InvalidOperationException">The GPU is unavailable and <paramref name="fallbackToCpu"/> is false.</exception>
    public static ExecutionProviderInfo Resolve(int? gpuDeviceId, bool fallbackToCpu, ILogger? logger = null)
    {
        if (gpuDeviceId is not int device)
        {
            return new ExecutionProviderInfo(ExecutionProviderInfo.Cpu, null, null);
        }
        ArgumentOutOfRangeException.ThrowIfNegative(device, nameof(gpuDeviceId));
        string? failure = CudaProbe.GetOrAdd(device, Probe);
        if (failure is null)
        {
            return new ExecutionProviderInfo(ExecutionProviderInfo.Cuda, device, null);
        }
        if (!fallbackToCpu)
        {
            throw new InvalidOperationException(
                $"GPU {device} was requested with fallbackToCpu = false, but ONNX Runtime's CUDA execution provider cannot be used: {failure}. " +
                "It needs an NVIDIA GPU, CUDA 13 and cuDNN 9; pass fallbackToCpu = true to run on the CPU instead.");
        }
        LogCpuFallback(logger ?? NullLogger.Instance, device, failure);
        return new ExecutionProviderInfo(ExecutionProviderInfo.Cpu, device, failure);
    }

    /// <summary>The CUDA provider was appended but a session on the device failed: logs the fallback and describes it.</summary>
    internal static ExecutionProviderInfo SessionFallback(int device, Exception error, ILogger? logger)
    {
        string reason = $"{error.GetType().Name} creating a CUDA session: {error.Message.ReplaceLineEndings(" ").Trim()}";
        LogCpuFallback(logger ?? NullLogger.Instance, device, reason);
        return new ExecutionProviderInfo(ExecutionProviderInfo.Cpu, device, reason);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "GPU {Device} unavailable ({Reason}); falling back to ONNX Runtime's CPU execution provider.")]
    private static partial void LogCpuFallback(ILogger logger, int device, string reason);

    private static string? Probe(int device)
    {
        try
        {
            using var options = new SessionOptions();
            options.AppendExecutionProvider_CUDA(device);
            return null;
        }
        catch (Exception e) when (e is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            string message = e.Message.ReplaceLineEndings(" ").Trim();
            return $"{e.GetType().Name}: {message}";
        }
    }
}
