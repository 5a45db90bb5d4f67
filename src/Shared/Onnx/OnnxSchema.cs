using Google.Protobuf;
using ImageRetrieval.IO;

namespace ImageRetrieval.Onnx;

/// <summary>
/// Reading and writing ONNX model files through the protoc-generated types (internal; compiled into each assembly that
/// imports OnnxProtobuf.targets, which also makes that assembly's protobuf namespace a global using).
/// </summary>
internal static class OnnxSchema
{
    /// <summary>Parses an ONNX model file.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not a parseable ONNX model.</exception>
    public static ModelProto ReadModel(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"ONNX model not found: '{path}'.", path);
        }
        try
        {
            using var stream = File.OpenRead(path);
            return ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid ONNX model: {e.Message}", e);
        }
    }

    /// <summary>Writes a model atomically (temp file, flush, rename).</summary>
    public static void WriteModel(ModelProto model, string path) => AtomicFile.Write(path, model.WriteTo);
}
