using System.Diagnostics;

namespace ImageRetrieval.Training.Tests.Onnx;

/// <summary>
/// The independent validator: Debian's python3-onnx (<c>onnx.checker</c> with full_check, strict shape
/// inference). Tests using it are skipped, with a message, where python3-onnx is not installed.
/// </summary>
internal static class PythonOnnx
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<bool> Available = new(() =>
    {
        try
        {
            return Run("-c \"import onnx\"", out _) == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    public static bool IsAvailable => Available.Value;

    /// <summary>Runs onnx.checker.check_model(full_check) and strict shape inference; returns the inferred output shape, e.g. <c>['batch', 64]</c>.</summary>
    public static string CheckAndInferOutputShape(string modelPath)
    {
        string script = "import sys, onnx\n" +
            "m = onnx.load(sys.argv[1])\n" +
            "onnx.checker.check_model(m, full_check=True)\n" +
            "i = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)\n" +
            "o = i.graph.output[0].type.tensor_type.shape.dim\n" +
            "print([d.dim_param if d.dim_param else d.dim_value for d in o])\n";
        string scriptPath = Path.Combine(Path.GetTempPath(), $"imgret-onnx-check-{Environment.ProcessId}.py");
        File.WriteAllText(scriptPath, script);
        try
        {
            int code = Run($"\"{scriptPath}\" \"{modelPath}\"", out string stdout);
            Assert.True(code == 0, $"python3 onnx.checker / shape inference failed for {modelPath}:\n{stdout}");
            return stdout.Trim();
        }
        finally
        {
            File.Delete(scriptPath);
        }
    }

    private static int Run(string arguments, out string output)
    {
        var info = new ProcessStartInfo(Python, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        output += stderr.Result;
        return process.ExitCode;
    }
}

/// <summary>A fact that is skipped (with the reason) when python3-onnx is not installed.</summary>
public sealed class PythonOnnxFactAttribute : FactAttribute
{
    public PythonOnnxFactAttribute()
    {
        if (!PythonOnnx.IsAvailable)
        {
            Skip = $"python3-onnx is not installed ({PythonOnnx.Python} -c 'import onnx' failed); install the Debian package python3-onnx to run the independent ONNX checker.";
        }
    }
}
