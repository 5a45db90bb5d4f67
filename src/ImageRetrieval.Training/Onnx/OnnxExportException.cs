namespace ImageRetrieval.Training.Onnx;

/// <summary>
/// The exporter met a module (or a module configuration) it cannot map to ONNX exactly. It never
/// writes an approximate model instead.
/// </summary>
public sealed class OnnxExportException : Exception
{
    /// <summary>Creates the exception for the module at <paramref name="modulePath"/>.</summary>
    public OnnxExportException(string modulePath, string moduleType, string reason)
        : base($"Cannot export module '{modulePath}' of type {moduleType} to ONNX: {reason}")
    {
        ModulePath = modulePath;
        ModuleType = moduleType;
    }

    /// <summary>Creates the exception with a message only.</summary>
    public OnnxExportException(string message) : base(message)
    {
        ModulePath = "";
        ModuleType = "";
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public OnnxExportException(string message, Exception innerException) : base(message, innerException)
    {
        ModulePath = "";
        ModuleType = "";
    }

    /// <summary>Creates an empty exception.</summary>
    public OnnxExportException() : this("ONNX export failed.")
    {
    }

    /// <summary>Dotted path of the module in the network, e.g. <c>features.layer2.0.conv1</c>.</summary>
    public string ModulePath { get; }

    /// <summary>The module's .NET type name.</summary>
    public string ModuleType { get; }
}
