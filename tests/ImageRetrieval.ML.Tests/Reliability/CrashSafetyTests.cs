using System.Diagnostics;
using System.Globalization;
using ImageRetrieval.ML.Search;
using Xunit.Abstractions;

namespace ImageRetrieval.ML.Tests.Reliability;

/// <summary>
/// Kill-during-save: a child process (tests/ImageRetrieval.CrashSafety.Child) saves an index over and over,
/// alternating two known states, and is killed (SIGKILL) after a random delay. Afterwards the directory must
/// open and hold exactly one of the two states, and the next successful save must leave no leftovers.
/// </summary>
/// <remarks>Trials: <c>IMGRET_CRASH_TRIALS</c> (default 50) within <c>IMGRET_CRASH_SECONDS</c> (default 75 s); at least 10 must run.</remarks>
public class CrashSafetyTests(SavedIndexFixture fixture, ITestOutputHelper output) : IClassFixture<SavedIndexFixture>
{
    private static int Env(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : fallback;

    internal static string ChildDll()
    {
        // tests/ImageRetrieval.ML.Tests/bin/<Configuration>/<tfm>/ → tests/ImageRetrieval.CrashSafety.Child/bin/<Configuration>/<tfm>/
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = here.Name, configuration = here.Parent!.Name;
        string tests = here.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(tests, "ImageRetrieval.CrashSafety.Child", "bin", configuration, tfm, "ImageRetrieval.CrashSafety.Child.dll");
        Assert.True(File.Exists(dll), $"the crash-safety child is not built: {dll}");
        return dll;
    }

    [Fact]
    public void Killing_a_save_at_random_moments_never_loses_or_mixes_the_index()
    {
        int wanted = Env("IMGRET_CRASH_TRIALS", 50);
        var budget = TimeSpan.FromSeconds(Env("IMGRET_CRASH_SECONDS", 75));
        string dll = ChildDll();
        string directory = fixture.Scratch("crash-" + Guid.NewGuid().ToString("N"));
        string[] files = Directory.GetFiles(fixture.Gallery, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        var fullPaths = files.Select(f => GalleryPaths.MakeRelative(fixture.Gallery, f)).ToHashSet();
        var halfPaths = files.Where((_, i) => i % 2 == 0).Select(f => GalleryPaths.MakeRelative(fixture.Gallery, f)).ToHashSet();
        var random = new Random(9);
        var watch = Stopwatch.StartNew();
        int trials = 0, sawFull = 0, sawHalf = 0, leftoverTemps = 0, maxSaves = 0;
        while (trials < wanted && watch.Elapsed < budget)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { dll, fixture.Model, fixture.Gallery, directory })
            {
                start.ArgumentList.Add(a);
            }
            using var child = Process.Start(start)!;
            child.ErrorDataReceived += (_, _) => { };
            child.BeginErrorReadLine();
            int saves = 0;
            var ready = new ManualResetEventSlim();
            child.OutputDataReceived += (_, e) =>
            {
                if (e.Data is not null)
                {
                    Interlocked.Increment(ref saves);
                    ready.Set();
                }
            };
            child.BeginOutputReadLine();
            bool started = ready.Wait(TimeSpan.FromSeconds(60));
            if (started)
            {
                Thread.Sleep(random.Next(0, 120));
            }
            child.Kill(entireProcessTree: true);
            Assert.True(child.WaitForExit(30_000), "the killed child did not exit");
            Assert.True(started, $"trial {trials}: the child never completed its first save (exit code {child.ExitCode})");
            maxSaves = Math.Max(maxSaves, saves);
            trials++;

            leftoverTemps += Directory.GetDirectories(directory, ".tmp-*").Length;
            ImageSearchIndexInfo info = ImageSearchIndex.ReadInfo(directory);
            using var index = ImageSearchIndex.Open(directory, fixture.Model, fixture.Gallery);
            var paths = index.Items.Select(i => i.Path).ToHashSet();
            Assert.Equal(info.Count, index.Count);
            if (paths.SetEquals(fullPaths))
            {
                sawFull++;
            }
            else
            {
                Assert.True(paths.SetEquals(halfPaths), $"trial {trials}: the index holds {paths.Count} items, neither the full ({fullPaths.Count}) nor the half ({halfPaths.Count}) state");
                sawHalf++;
            }
            Assert.Equal(index.Count, index.Search(index.Embed(fixture.Paths[0]), k: 100, exact: true).Count);
        }
        output.WriteLine($"{trials} kill-during-save trials in {watch.Elapsed.TotalSeconds:F1} s: {sawFull} full, {sawHalf} half, " +
            $"{leftoverTemps} leftover temp folders seen after kills, up to {maxSaves} saves per child before the kill");
        // A trial is dominated by the child's start-up (runtime, ONNX session, embedding 60 images): ~1 s on an idle
        // 2-core machine, several under a parallel build; 10 is the floor that still proves something.
        Assert.True(trials >= 10, $"only {trials} trials ran in {budget}");

        // The next successful save cleans up everything an interrupted one left.
        using (var index = ImageSearchIndex.Open(directory, fixture.Model, fixture.Gallery))
        {
            index.Save(directory);
        }
        Assert.Empty(Directory.GetDirectories(directory, ".tmp-*"));
        Assert.False(File.Exists(Path.Combine(directory, "CURRENT.tmp")));
        Assert.Single(Directory.GetDirectories(directory));
    }
}
