using System.CommandLine;
using System.Globalization;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Datasets.MatFile;
using Spectre.Console;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret mat-info FILE</c>: lists the variables of a MATLAB Level 5 MAT-file (e.g. Oxford 102's <c>imagelabels.mat</c>, <c>setid.mat</c>).</summary>
internal static class MatInfoCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("file") { Description = "The .mat file." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table." };
        var command = new Command("mat-info", "List the variables of a MATLAB Level 5 MAT-file: name, dimensions, class and a value summary.")
        {
            file, json,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            string path = parse.GetValue(file)!;
            MatFileContent mat = MatFileReader.Read(path);
            var variables = mat.Variables.Select(v => new VariableInfo(
                v.Name,
                v.Dimensions.ToArray(),
                v.IsLogical ? "logical" : v.Class.ToString().ToLowerInvariant(),
                v.IsComplex,
                v.HasValues && v.Values.Length > 0 ? Min(v.Values) : null,
                v.HasValues && v.Values.Length > 0 ? Max(v.Values) : null)).ToArray();
            if (parse.GetValue(json))
            {
                CliOutput.WriteJson(new MatInfoJson(path, mat.HeaderText, mat.IsBigEndian, variables), CliJsonContext.Default.MatInfoJson);
                return 0;
            }
            AnsiConsole.MarkupLineInterpolated($"[bold]{path}[/]: {mat.HeaderText}{(mat.IsBigEndian ? " (big-endian)" : "")}");
            var table = new Table().AddColumns("name", "size", "class", "min", "max");
            foreach (VariableInfo v in variables)
            {
                table.AddRow(
                    Markup.Escape(v.Name),
                    string.Join("x", v.Dimensions),
                    v.Class + (v.Complex ? " complex" : ""),
                    v.Min?.ToString("G6", CultureInfo.InvariantCulture) ?? "-",
                    v.Max?.ToString("G6", CultureInfo.InvariantCulture) ?? "-");
            }
            AnsiConsole.Write(table);
            return 0;
        }));
        return command;
    }

    private static double Min(ReadOnlySpan<double> values)
    {
        double m = double.PositiveInfinity;
        foreach (double v in values)
        {
            m = Math.Min(m, v);
        }
        return m;
    }

    private static double Max(ReadOnlySpan<double> values)
    {
        double m = double.NegativeInfinity;
        foreach (double v in values)
        {
            m = Math.Max(m, v);
        }
        return m;
    }

    internal sealed record VariableInfo(string Name, int[] Dimensions, string Class, bool Complex, double? Min, double? Max);

    /// <summary><c>--json</c> of <c>imgret mat-info</c>.</summary>
    internal sealed record MatInfoJson(string File, string Header, bool BigEndian, VariableInfo[] Variables);
}
