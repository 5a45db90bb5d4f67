using CsCheck;
using ImageRetrieval.ML.Search;

namespace ImageRetrieval.ML.Tests.Search;

public class IndexDirectoryTests
{
    [Fact]
    public void Each_commit_becomes_current_and_supersedes_the_previous_version()
    {
        using var temp = new TempDirectory();
        string first = IndexDirectory.CommitNewVersion(temp.Path, dir => File.WriteAllText(Path.Combine(dir, "data"), "one"));
        Assert.Equal(first, IndexDirectory.OpenCurrent(temp.Path));
        string second = IndexDirectory.CommitNewVersion(temp.Path, dir => File.WriteAllText(Path.Combine(dir, "data"), "two"));

        Assert.Equal(second, IndexDirectory.OpenCurrent(temp.Path));
        Assert.Equal("two", File.ReadAllText(Path.Combine(IndexDirectory.OpenCurrent(temp.Path), "data")));
        Assert.False(Directory.Exists(first));
        Assert.Equal(new[] { "v000002" }, Directory.GetDirectories(temp.Path).Select(d => Path.GetFileName(d)!).ToArray());
    }

    [Fact]
    public void A_failed_write_leaves_the_previous_version_current_and_no_temporary_folder()
    {
        using var temp = new TempDirectory();
        string first = IndexDirectory.CommitNewVersion(temp.Path, dir => File.WriteAllText(Path.Combine(dir, "data"), "one"));
        Assert.Throws<IOException>(() => IndexDirectory.CommitNewVersion(temp.Path, dir =>
        {
            File.WriteAllText(Path.Combine(dir, "data"), "half");
            throw new IOException("disk full");
        }));

        Assert.Equal(first, IndexDirectory.OpenCurrent(temp.Path));
        Assert.Equal("one", File.ReadAllText(Path.Combine(first, "data")));
        Assert.Single(Directory.GetDirectories(temp.Path));
    }

    [Fact]
    public void Leftovers_of_a_crash_are_ignored_on_open_and_removed_by_the_next_save()
    {
        using var temp = new TempDirectory();
        string first = IndexDirectory.CommitNewVersion(temp.Path, dir => File.WriteAllText(Path.Combine(dir, "data"), "one"));
        // A crash after the new folder was renamed but before CURRENT moved, and one mid-write.
        Directory.CreateDirectory(Path.Combine(temp.Path, "v000002"));
        Directory.CreateDirectory(Path.Combine(temp.Path, ".tmp-v000003-deadbeef"));
        File.WriteAllText(Path.Combine(temp.Path, "CURRENT.tmp"), "v0000");

        Assert.Equal(first, IndexDirectory.OpenCurrent(temp.Path));
        string next = IndexDirectory.CommitNewVersion(temp.Path, dir => File.WriteAllText(Path.Combine(dir, "data"), "three"));
        Assert.Equal("v000003", Path.GetFileName(next));
        Assert.Equal(new[] { "v000003" }, Directory.GetDirectories(temp.Path).Select(d => Path.GetFileName(d)!).ToArray());
        Assert.Equal(new[] { IndexDirectory.CurrentFileName }, Directory.GetFiles(temp.Path).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Fact]
    public void A_crash_while_CURRENT_was_replaced_leaves_a_temporary_file_that_the_next_save_removes()
    {
        using var temp = new TempDirectory();
        string first = IndexDirectory.CommitNewVersion(temp.Path, dir => File.WriteAllText(Path.Combine(dir, "data"), "one"));
        // What AtomicFile leaves when the process dies between creating and renaming its temporary file.
        File.WriteAllText(Path.Combine(temp.Path, ".CURRENT.0123456789abcdef0123456789abcdef.tmp"), "v0000");
        Assert.Equal(first, IndexDirectory.OpenCurrent(temp.Path));
        IndexDirectory.CommitNewVersion(temp.Path, dir => File.WriteAllText(Path.Combine(dir, "data"), "two"));
        Assert.Equal(new[] { IndexDirectory.CurrentFileName }, Directory.GetFiles(temp.Path).Select(f => Path.GetFileName(f)!).ToArray());
    }

    [Theory]
    [InlineData("../v000001")]
    [InlineData("/etc")]
    [InlineData("v1")]
    [InlineData("v000009")]
    public void A_bad_CURRENT_is_a_clear_error(string content)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(Path.Combine(temp.Path, IndexDirectory.CurrentFileName), content);
        var error = Assert.Throws<InvalidDataException>(() => IndexDirectory.OpenCurrent(temp.Path));
        Assert.Contains(temp.Path, error.Message, StringComparison.Ordinal);
    }
}

public class GalleryPathsTests
{
    [Theory]
    [InlineData("../secret.png")]
    [InlineData("a/../../b.png")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b.png")]
    [InlineData("./a.png")]
    [InlineData("a\\..\\b.png")]
    [InlineData("C:/x.png")]
    [InlineData("")]
    public void Paths_that_could_leave_the_root_are_rejected(string relative)
    {
        var error = Assert.Throws<InvalidDataException>(() => GalleryPaths.Resolve("/gallery", relative, "manifest"));
        Assert.Contains("manifest", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Exactly_the_plain_relative_paths_are_accepted_and_each_resolves_inside_the_root()
    {
        // Reference rule, written independently: relative, no backslash or drive, and no empty, "." or ".." segment.
        static bool Plain(string path) =>
            path.Length > 0 && !path.Contains('\\') && !path.StartsWith('/') && !(path.Length > 1 && path[1] == ':') &&
            path.Split('/').All(segment => segment is not ("" or "." or ".."));

        // Mostly plain segments, so that accepted paths are common too, with hostile ones mixed in.
        var segment = Gen.Frequency(
            (1, Gen.Const("..")), (1, Gen.Const(".")), (1, Gen.Const("")),
            (12, Gen.String[Gen.Char["abc-"], 1, 4]), (2, Gen.String[Gen.Char["ab./\\:"], 1, 4]));
        int accepted = 0, rejected = 0;
        segment.Array[1, 5].Sample(parts =>
        {
            string relative = string.Join('/', parts);
            string? full = null;
            try
            {
                full = GalleryPaths.Resolve("/gallery/root", relative, "test");
            }
            catch (InvalidDataException)
            {
            }
            Assert.True((full is not null) == Plain(relative), $"'{relative}': {(full is null ? "rejected" : "accepted")}, but the rule says {(Plain(relative) ? "accept" : "reject")}");
            if (full is not null)
            {
                Assert.StartsWith("/gallery/root/", full, StringComparison.Ordinal);
                Interlocked.Increment(ref accepted);
            }
            else
            {
                Interlocked.Increment(ref rejected);
            }
        }, iter: 2000, seed: "0N0XIzNsQ0O2");
        // Both outcomes are exercised: a validator that rejected everything would fail here.
        Assert.True(accepted > 100 && rejected > 100, $"{accepted} accepted, {rejected} rejected");
    }

    [Fact]
    public void MakeRelative_uses_forward_slashes_and_refuses_outside_files()
    {
        Assert.Equal("coat/a.png", GalleryPaths.MakeRelative("/g", "/g/coat/a.png"));
        Assert.Throws<ArgumentException>(() => GalleryPaths.MakeRelative("/g", "/other/a.png"));
    }
}
