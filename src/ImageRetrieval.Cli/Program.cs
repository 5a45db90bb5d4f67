// imgret: see CliApp for the commands and docs/ for what they do.
return ImageRetrieval.Cli.CliApp.Run(args);

/// <summary>imgret's entry point (internal: the tool has no public API).</summary>
internal sealed partial class Program;
