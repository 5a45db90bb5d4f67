// imgret: see CliApp for the commands and docs/ for what they do.
return ImageRetrieval.Cli.CliApp.Run(args);
