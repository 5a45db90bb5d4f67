using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ImageRetrieval.ML.Search;

/// <summary>
/// The self-checksum of a JSON manifest: the SHA-256 of the file's own bytes with the value of its last
/// <c>"checksum"</c> property replaced by 64 zeros. Any change to the manifest (a bit flip in a path, a count, a hash's
/// letter case) is detected, as the manifest's file entries detect changes to the other files. Used by every manifest
/// this package writes (image-search indexes and VectorData collections).
/// </summary>
internal static class ManifestChecksum
{
    /// <summary>The placeholder a manifest is serialized with before it is sealed.</summary>
    public static readonly string Zero = new('0', 64);

    /// <summary>Replaces the placeholder in <paramref name="bytes"/> with the checksum and writes the file (new, flushed to disk).</summary>
    public static void WriteSealed(string path, byte[] bytes)
    {
        int at = Offset(bytes, Zero);
        if (at < 0)
        {
            throw new InvalidOperationException("The manifest checksum placeholder was not serialized as expected.");
        }
        string hex = Convert.ToHexStringLower(SHA256.HashData(bytes));
        Encoding.ASCII.GetBytes(hex).CopyTo(bytes.AsSpan(at));
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Reads a manifest: present, at most 16 MiB (checked before reading), valid JSON of <typeparamref name="T"/>, and
    /// matching its own checksum. The caller validates the content.
    /// </summary>
    /// <exception cref="InvalidDataException">Any of those fails; the message names the file and says what.</exception>
    public static T Read<T>(string folder, string fileName, JsonTypeInfo<T> type, Func<T, string?> checksum, string kind)
        where T : class
    {
        const long maxBytes = 16L << 20;
        string path = Path.Combine(folder, fileName);
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"Version '{folder}' has no {fileName}.");
        }
        long length = new FileInfo(path).Length;
        if (length > maxBytes)
        {
            throw new InvalidDataException($"'{path}' is {length} bytes; a manifest is at most {maxBytes}.");
        }
        byte[] bytes = File.ReadAllBytes(path);
        T? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize(bytes, type);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"'{path}' is not a valid {kind}: {e.Message}", e);
        }
        if (manifest is null)
        {
            throw new InvalidDataException($"'{path}' is empty.");
        }
        Verify(bytes, checksum(manifest), path);
        return manifest;
    }

    /// <exception cref="InvalidDataException">The checksum is missing, malformed, or does not match the bytes.</exception>
    public static void Verify(byte[] bytes, string? checksum, string path)
    {
        if (checksum is null || checksum.Length != 64 || !checksum.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            throw new InvalidDataException($"'{path}' has no valid checksum (64 lower-case hex digits).");
        }
        int at = Offset(bytes, checksum);
        if (at < 0)
        {
            throw new InvalidDataException($"'{path}': its checksum cannot be located in the file (the manifest was edited or corrupted).");
        }
        byte[] zeroed = (byte[])bytes.Clone();
        zeroed.AsSpan(at, 64).Fill((byte)'0');
        string actual = Convert.ToHexStringLower(SHA256.HashData(zeroed));
        if (!string.Equals(actual, checksum, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{path}' does not match its own checksum (corrupted or edited).");
        }
    }

    /// <summary>Offset of the 64 hex digits of the last <c>"checksum": "…"</c> property holding <paramref name="value"/>, or -1.</summary>
    private static int Offset(ReadOnlySpan<byte> bytes, string value)
    {
        byte[] pattern = Encoding.ASCII.GetBytes("\"checksum\": \"" + value + "\"");
        int at = bytes.LastIndexOf(pattern);
        return at < 0 ? -1 : at + pattern.Length - 65;
    }
}
