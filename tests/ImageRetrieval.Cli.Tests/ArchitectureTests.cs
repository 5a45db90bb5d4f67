using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ImageRetrieval.Cli.Tests;

/// <summary>
/// The architecture as docs/architecture.md draws it is the one the project files build: the reference table and the
/// diagram match every ProjectReference, nothing in the runtime package points back at the others, no project compiles
/// another project's files, and every package tracks its public API.
/// </summary>
public partial class ArchitectureTests
{
    private static readonly string Root = Path.GetDirectoryName(RepositoryFiles.Find("ImageRetrieval.sln"))!;

    /// <summary>project name → referenced project names, from every .csproj in the repository.</summary>
    private static Dictionary<string, SortedSet<string>> ActualReferences() =>
        new[] { "src", "tests", "samples", "bench" }
            .SelectMany(folder => Directory.GetFiles(Path.Combine(Root, folder), "*.csproj", SearchOption.AllDirectories))
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(
                path => Path.GetFileNameWithoutExtension(path),
                path => new SortedSet<string>(
                    XDocument.Load(path).Descendants("ProjectReference").Select(r => Path.GetFileNameWithoutExtension(r.Attribute("Include")!.Value)),
                    StringComparer.Ordinal));

    private static string Architecture => File.ReadAllText(Path.Combine(Root, "docs", "architecture.md"));

    [Fact]
    public void The_reference_table_lists_every_project_reference_exactly()
    {
        string table = Architecture[Architecture.IndexOf("| project | references |", StringComparison.Ordinal)..];
        table = table[..table.IndexOf("\n\n", StringComparison.Ordinal)];
        var documented = new Dictionary<string, SortedSet<string>>();
        foreach (Match row in TableRow().Matches(table))
        {
            string project = Path.GetFileName(row.Groups["project"].Value);
            var references = Backticked().Matches(row.Groups["references"].Value).Select(m => m.Groups[1].Value);
            documented[project] = new SortedSet<string>(references, StringComparer.Ordinal);
        }
        var actual = ActualReferences();
        Assert.Equal(actual.Keys.Order(StringComparer.Ordinal), documented.Keys.Order(StringComparer.Ordinal));
        foreach (var (project, references) in actual)
        {
            Assert.True(references.SetEquals(documented[project]),
                $"{project} references [{string.Join(", ", references)}]; docs/architecture.md says [{string.Join(", ", documented[project])}]");
        }
    }

    [Fact]
    public void The_diagram_draws_exactly_the_references_of_the_packages_and_the_sample()
    {
        string diagram = Architecture[Architecture.IndexOf("```mermaid", StringComparison.Ordinal)..];
        diagram = diagram[..diagram.IndexOf("```", 10, StringComparison.Ordinal)];
        var names = MermaidNode().Matches(diagram).ToDictionary(m => m.Groups["id"].Value, m => m.Groups["name"].Value.Split('/').Last());
        var drawn = MermaidEdge().Matches(diagram).Select(m => $"{names[m.Groups["from"].Value]} -> {names[m.Groups["to"].Value]}").Order(StringComparer.Ordinal);
        var actual = ActualReferences()
            .Where(p => names.ContainsValue(p.Key))
            .SelectMany(p => p.Value.Select(r => $"{p.Key} -> {r}"))
            .Order(StringComparer.Ordinal);
        Assert.Equal(actual, drawn);
    }

    [Fact]
    public void The_runtime_package_points_at_no_other_package()
    {
        Assert.Empty(ActualReferences()["ImageRetrieval.ML"]);
        string source = Path.Combine(Root, "src", "ImageRetrieval.ML");
        foreach (string file in Directory.GetFiles(source, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal)))
        {
            string text = File.ReadAllText(file);
            Assert.False(OtherPackage().IsMatch(text), $"{Path.GetRelativePath(Root, file)} uses ImageRetrieval.Datasets, .Training or .Cli");
        }
    }

    [Fact]
    public void No_project_compiles_another_projects_files_and_only_tests_see_internals()
    {
        foreach (string path in Directory.GetFiles(Root, "*.csproj", SearchOption.AllDirectories).Where(p => !p.Contains("/obj/", StringComparison.Ordinal) && !p.Contains("/bin/", StringComparison.Ordinal)))
        {
            var project = XDocument.Load(path);
            foreach (string include in project.Descendants("Compile").Select(c => c.Attribute("Include")?.Value).OfType<string>())
            {
                // Files from outside the project's folder come only from the shared source folders (src/Shared, tests/Shared;
                // the benchmarks borrow a test helper from there). A project's own generated code (under $(...)) is fine.
                bool outside = include.StartsWith("../", StringComparison.Ordinal) || include.Contains("$(MSBuildThisFileDirectory)", StringComparison.Ordinal);
                Assert.True(!outside || include.Contains("Shared/", StringComparison.Ordinal), $"{Path.GetRelativePath(Root, path)} compiles {include}");
            }
            foreach (string friend in project.Descendants("InternalsVisibleTo").Select(c => c.Attribute("Include")!.Value))
            {
                Assert.True(friend.EndsWith(".Tests", StringComparison.Ordinal) || friend == "ImageRetrieval.Benchmarks",
                    $"{Path.GetRelativePath(Root, path)} shows its internals to {friend}");
            }
        }
    }

    [Fact]
    public void Every_package_tracks_its_public_api()
    {
        foreach (string project in Directory.GetDirectories(Path.Combine(Root, "src")).Where(d => File.Exists(Path.Combine(d, Path.GetFileName(d) + ".csproj"))))
        {
            Assert.True(File.Exists(Path.Combine(project, "PublicAPI.Shipped.txt")), $"{project} has no PublicAPI.Shipped.txt");
            Assert.True(File.Exists(Path.Combine(project, "PublicAPI.Unshipped.txt")), $"{project} has no PublicAPI.Unshipped.txt");
        }
    }

    [GeneratedRegex(@"^\| `(?<project>(src|tests|samples|bench)/[^`]+)` \| (?<references>[^|]*) \|$", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex Backticked();

    [GeneratedRegex(@"^\s*(?<id>\w+)\[""(?<name>[^""<]+)", RegexOptions.Multiline)]
    private static partial Regex MermaidNode();

    [GeneratedRegex(@"^\s*(?<from>\w+) --> (?<to>\w+)\s*$", RegexOptions.Multiline)]
    private static partial Regex MermaidEdge();

    // A using directive or a qualified name (ImageRetrieval.Training.Onnx...), not a mention in a message or comment.
    [GeneratedRegex(@"(using\s+(static\s+)?ImageRetrieval\.(Datasets|Training|Cli)\b)|(ImageRetrieval\.(Datasets|Training|Cli)\.[A-Z])")]
    private static partial Regex OtherPackage();
}
