namespace ImageRetrieval.ML.Search;

/// <summary>Relative gallery paths: stored with '/' separators, never absolute, never escaping the gallery root.</summary>
internal static class GalleryPaths
{
    /// <summary>The path of <paramref name="file"/> relative to <paramref name="root"/>, with '/' separators.</summary>
    /// <exception cref="ArgumentException">The file is not inside the root.</exception>
    public static string MakeRelative(string root, string file)
    {
        string fullRoot = Path.GetFullPath(root);
        string fullFile = Path.GetFullPath(file);
        string relative = Path.GetRelativePath(fullRoot, fullFile);
        if (relative == "." || Path.IsPathRooted(relative) || relative.Split(Path.DirectorySeparatorChar).Contains(".."))
        {
            throw new ArgumentException($"'{file}' is not inside the gallery root '{root}'.", nameof(file));
        }
        return relative.Replace(Path.DirectorySeparatorChar, '/');
    }

    /// <summary>Checks <paramref name="folder"/> is the root or inside it.</summary>
    /// <exception cref="ArgumentException">The folder is outside the root.</exception>
    public static void MakeRelativeOrRoot(string root, string folder)
    {
        if (string.Equals(Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)), Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)), StringComparison.Ordinal))
        {
            return;
        }
        MakeRelative(root, folder);
    }

    /// <summary>Checks a stored relative path and resolves it below <paramref name="root"/>.</summary>
    /// <exception cref="InvalidDataException">The path is absolute, contains '..', a backslash, a NUL or an empty segment, or resolves outside the root.</exception>
    public static string Resolve(string root, string relative, string source)
    {
        Validate(relative, source);
        string fullRoot = Path.GetFullPath(root);
        string full = Path.GetFullPath(Path.Combine(fullRoot, relative.Replace('/', Path.DirectorySeparatorChar)));
        string prefix = fullRoot.EndsWith(Path.DirectorySeparatorChar) ? fullRoot : fullRoot + Path.DirectorySeparatorChar;
        if (!full.StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source}: path '{relative}' resolves outside the gallery root.");
        }
        return full;
    }

    /// <summary>Checks the form of a stored relative path.</summary>
    /// <exception cref="InvalidDataException">The path is not a plain relative path.</exception>
    public static void Validate(string relative, string source)
    {
        if (string.IsNullOrEmpty(relative) || relative.Length > 4096)
        {
            throw new InvalidDataException($"{source}: empty or over-long item path.");
        }
        if (relative.Contains('\0', StringComparison.Ordinal) || relative.Contains('\\', StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{source}: item path '{relative.Replace("\0", "\\0", StringComparison.Ordinal)}' contains a NUL or a backslash.");
        }
        if (relative.StartsWith('/') || Path.IsPathRooted(relative) || (relative.Length > 1 && relative[1] == ':'))
        {
            throw new InvalidDataException($"{source}: item path '{relative}' is absolute; stored paths must be relative to the gallery root.");
        }
        foreach (string segment in relative.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == "..")
            {
                throw new InvalidDataException($"{source}: item path '{relative}' has a '{segment}' segment; stored paths cannot leave the gallery root.");
            }
        }
    }
}
