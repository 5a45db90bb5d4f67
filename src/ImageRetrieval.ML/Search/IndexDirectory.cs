using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ImageRetrieval.IO;

namespace ImageRetrieval.ML.Search;

/// <summary>
/// Crash-safe storage of an index as a directory of immutable versions.
/// </summary>
/// <remarks>
/// <para>Layout: <c>INDEX/CURRENT</c> holds the name of the live version folder (e.g. <c>v000003</c>);
/// each <c>INDEX/vNNNNNN/</c> holds a complete, never-modified set of files. A save writes a new
/// version into a temporary folder (<c>.tmp-vNNNNNN-…</c>), flushes every file, renames the folder
/// to its final name, then replaces <c>CURRENT</c> atomically (<see cref="AtomicFile"/>: a uniquely named
/// temporary file, flushed, renamed over <c>CURRENT</c>). A crash at any point
/// leaves <c>CURRENT</c> naming either the old complete version or the new complete one, never a
/// mix. Stale temporary folders and superseded versions are removed on the next save, so nothing
/// grows without bound.</para>
/// </remarks>
internal static partial class IndexDirectory
{
    public const string CurrentFileName = "CURRENT";
    private const string TempPrefix = ".tmp-";

    [GeneratedRegex("^v[0-9]{6}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex VersionName();

    /// <summary>The folder of the live version.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory or its live version does not exist.</exception>
    /// <exception cref="InvalidDataException">CURRENT is malformed.</exception>
    public static string OpenCurrent(string indexDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexDirectory);
        if (!Directory.Exists(indexDirectory))
        {
            throw new DirectoryNotFoundException($"Index directory not found: '{indexDirectory}'.");
        }
        string current = Path.Combine(indexDirectory, CurrentFileName);
        if (!File.Exists(current))
        {
            throw new InvalidDataException($"'{indexDirectory}' is not an ImageRetrieval index: it has no {CurrentFileName} file.");
        }
        var info = new FileInfo(current);
        if (info.Length > 64)
        {
            throw new InvalidDataException($"Index '{indexDirectory}': {CurrentFileName} is {info.Length} bytes; expected a version name such as v000001.");
        }
        string content = File.ReadAllText(current, Encoding.UTF8);
        // Exactly what WriteCurrent writes (a CRLF is tolerated for hand edits): anything else is corruption.
        string name = content.EndsWith("\r\n", StringComparison.Ordinal) ? content[..^2] : content.EndsWith('\n') ? content[..^1] : content;
        if (!VersionName().IsMatch(name) || name.Length == content.Length)
        {
            throw new InvalidDataException($"Index '{indexDirectory}': {CurrentFileName} holds '{content.Trim()}', expected a version name such as v000001 and a newline.");
        }
        string folder = Path.Combine(indexDirectory, name);
        if (!Directory.Exists(folder))
        {
            throw new InvalidDataException($"Index '{indexDirectory}': {CurrentFileName} names version '{name}', which does not exist.");
        }
        return folder;
    }

    /// <summary>Writes a new version with <paramref name="writeFiles"/> (given the folder to write into) and makes it current.</summary>
    /// <returns>The folder of the new live version.</returns>
    public static string CommitNewVersion(string indexDirectory, Action<string> writeFiles)
    {
        ArgumentException.ThrowIfNullOrEmpty(indexDirectory);
        ArgumentNullException.ThrowIfNull(writeFiles);
        Directory.CreateDirectory(indexDirectory);
        int next = ExistingVersions(indexDirectory).DefaultIfEmpty(0).Max() + 1;
        string name = "v" + next.ToString("D6", CultureInfo.InvariantCulture);
        string temp = Path.Combine(indexDirectory, TempPrefix + name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(temp);
        try
        {
            writeFiles(temp);
            foreach (string file in Directory.EnumerateFiles(temp))
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
                stream.Flush(flushToDisk: true);
            }
            string final = Path.Combine(indexDirectory, name);
            Directory.Move(temp, final);
            WriteCurrent(indexDirectory, name);
            RemoveStale(indexDirectory, keep: name);
            return final;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void WriteCurrent(string indexDirectory, string name) =>
        AtomicFile.WriteAllText(Path.Combine(indexDirectory, CurrentFileName), name + "\n");

    private static IEnumerable<int> ExistingVersions(string indexDirectory) =>
        Directory.EnumerateDirectories(indexDirectory)
            .Select(Path.GetFileName)
            .Where(n => n is not null && VersionName().IsMatch(n))
            .Select(n => int.Parse(n![1..], CultureInfo.InvariantCulture));

    /// <summary>Removes temporary folders of interrupted saves and versions other than <paramref name="keep"/>.</summary>
    internal static void RemoveStale(string indexDirectory, string keep)
    {
        foreach (string dir in Directory.EnumerateDirectories(indexDirectory))
        {
            string name = Path.GetFileName(dir);
            if (name.StartsWith(TempPrefix, StringComparison.Ordinal) || (VersionName().IsMatch(name) && name != keep))
            {
                TryDelete(dir);
            }
        }
        foreach (string file in Directory.EnumerateFiles(indexDirectory))
        {
            string name = Path.GetFileName(file);
            // A crash while CURRENT was replaced leaves its temporary file (named CURRENT.tmp by earlier versions).
            if (AtomicFile.IsLeftoverOf(name, CurrentFileName) || name == CurrentFileName + ".tmp")
            {
                TryDeleteFile(file);
            }
        }
    }

    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static void TryDeleteFile(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (IOException)
        {
        }
    }
}
