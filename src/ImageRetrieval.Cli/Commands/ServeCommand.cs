using System.CommandLine;
using ImageRetrieval.AspNetCore;
using ImageRetrieval.Cli.Output;
using ImageRetrieval.Cli.Services;

namespace ImageRetrieval.Cli.Commands;

/// <summary><c>imgret serve</c>: a saved index as a web service and a search page (docs/serve.md).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var index = new Option<string>("--index") { Description = "Index directory (from 'imgret index' or 'imgret demo --index-out').", Required = true };
        var urls = new Option<string>("--urls") { Description = "Where to listen (';'-separated). Loopback unless you say otherwise.", DefaultValueFactory = _ => "http://127.0.0.1:5000" };
        var readOnly = new Option<bool>("--read-only") { Description = "Refuse adding and removing images (the default without --api-key-file)." };
        var keyFile = new Option<string?>("--api-key-file") { Description = "A file holding the API key (one line, ≥ 16 characters) that POST and DELETE /api/images require in X-Api-Key." };
        var model = new Option<string?>("--model") { Description = "The model the index was built with (default: the path recorded in the index)." };
        var gallery = new Option<string?>("--gallery") { Description = "Where the gallery is now (default: the root recorded in the index)." };
        var maxMb = new Option<int>("--max-request-mb") { Description = "Largest request body in MiB (413 beyond).", DefaultValueFactory = _ => (int)(ImageRetrievalApiOptions.Defaults.MaxRequestBytes >> 20) };
        var concurrency = new Option<int>("--max-concurrent") { Description = "Requests running at once (more are queued).", DefaultValueFactory = _ => ImageRetrievalApiOptions.Defaults.MaxConcurrentRequests };
        var queue = new Option<int>("--queue-limit") { Description = "Requests waiting for a turn; beyond, 429.", DefaultValueFactory = _ => ImageRetrievalApiOptions.Defaults.QueueLimit };
        var timeout = new Option<int>("--timeout-seconds") { Description = "Longest request before 504.", DefaultValueFactory = _ => ImageRetrievalApiOptions.Defaults.RequestTimeoutSeconds };

        var command = new Command("serve", "Serve a saved index over HTTP: search by image, images and thumbnails by key, a search page at /, OpenAPI at /openapi/v1.json.")
        {
            index, urls, readOnly, keyFile, model, gallery, maxMb, concurrency, queue, timeout,
        };
        command.SetAction(parse => CliOutput.Run(() =>
        {
            string? keyPath = parse.GetValue(keyFile);
            if (keyPath is not null && parse.GetValue(readOnly))
            {
                throw new ArgumentException("--read-only and --api-key-file exclude each other: a key enables adding and removing.");
            }
            var api = new ImageRetrievalApiOptions
            {
                ReadOnly = keyPath is null,
                MaxRequestBytes = (long)parse.GetValue(maxMb) << 20,
                MaxConcurrentRequests = parse.GetValue(concurrency),
                QueueLimit = parse.GetValue(queue),
                RequestTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)),
            };
            api.Validate();
            var settings = new ServeSettings(parse.GetValue(index)!, parse.GetValue(model), parse.GetValue(gallery), parse.GetValue(urls)!,
                keyPath is null ? null : ServeHost.ReadApiKey(keyPath), api);
            ServeHost.Run(settings);
            return 0;
        }));
        return command;
    }
}
