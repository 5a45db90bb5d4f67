using System.Globalization;

namespace ImageRetrieval.Cli.Services;

/// <summary>Parses a class-label selection such as <c>5-9</c> or <c>0,2,4-6</c> (the unseen-class protocol's halves).</summary>
internal static class ClassSelection
{
    /// <summary>Which of <paramref name="classCount"/> labels <paramref name="text"/> selects (all when null or empty).</summary>
    /// <exception cref="ArgumentException">The text is not a list of labels and ranges within 0..classCount-1.</exception>
    public static bool[] Parse(string? text, int classCount, string optionName)
    {
        var selected = new bool[classCount];
        if (string.IsNullOrWhiteSpace(text))
        {
            Array.Fill(selected, true);
            return selected;
        }
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] ends = part.Split('-', StringSplitOptions.TrimEntries);
            if (ends.Length is < 1 or > 2
                || !int.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out int first)
                || !int.TryParse(ends[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int last)
                || first > last || last >= classCount)
            {
                throw new ArgumentException($"{optionName} '{text}': expected class labels and ranges between 0 and {classCount - 1}, e.g. 5-9 or 0,2,4; '{part}' is not one.");
            }
            for (int label = first; label <= last; label++)
            {
                selected[label] = true;
            }
        }
        return selected;
    }
}
