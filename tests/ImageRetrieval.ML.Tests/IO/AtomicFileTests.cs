using ImageRetrieval.IO;

namespace ImageRetrieval.ML.Tests.IO;

/// <summary>The one atomic-write helper every package compiles (src/Shared/AtomicFile.cs).</summary>
public class AtomicFileTests
{
    [Fact]
    public void A_write_replaces_the_file_whole_and_leaves_no_temporary_file()
    {
        using var temp = new TempDirectory();
        string path = temp.File("sub/data.bin");
        AtomicFile.WriteAllBytes(path, new byte[] { 1, 2, 3 });   // creates the folder
        AtomicFile.WriteAllText(path, "replaced");
        Assert.Equal("replaced", File.ReadAllText(path));
        Assert.Equal(["data.bin"], Directory.GetFiles(temp.File("sub")).Select(Path.GetFileName));
    }

    [Fact]
    public void A_failed_write_keeps_the_previous_content_and_removes_its_temporary_file()
    {
        using var temp = new TempDirectory();
        string path = temp.File("data.txt");
        AtomicFile.WriteAllText(path, "before");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("half"u8);
            throw new IOException("disk full");
        }));
        using (AtomicFile.Transaction abandoned = AtomicFile.Begin(path))
        {
            abandoned.Stream.Write("never committed"u8);
        }
        Assert.Equal("before", File.ReadAllText(path));
        Assert.Equal(["data.txt"], Directory.GetFiles(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Concurrent_writes_of_one_file_in_one_process_never_share_a_temporary_file()
    {
        // Temporary names made from the process id alone collided here: two writers truncated each other's file.
        using var temp = new TempDirectory();
        string path = temp.File("shared.txt");
        var contents = Enumerable.Range(0, 16).Select(i => new string((char)('a' + i), 10_000)).ToArray();
        Parallel.ForEach(contents, new ParallelOptions { MaxDegreeOfParallelism = 4 }, text => AtomicFile.WriteAllText(path, text));
        Assert.Contains(File.ReadAllText(path), contents);   // one whole write, never a mix
        Assert.Equal(["shared.txt"], Directory.GetFiles(temp.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Leftovers_are_recognised_by_the_destination_name()
    {
        Assert.True(AtomicFile.IsLeftoverOf(".CURRENT.0123456789abcdef0123456789abcdef.tmp", "CURRENT"));
        Assert.False(AtomicFile.IsLeftoverOf("CURRENT", "CURRENT"));
        Assert.False(AtomicFile.IsLeftoverOf(".CURRENTLY.x.tmp", "CURRENT"));
    }
}
