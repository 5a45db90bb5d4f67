using System.Net;
using ImageRetrieval.AspNetCore;
using ImageRetrieval.ML.Search;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace ImageRetrieval.Cli.Services;

/// <summary>What <c>imgret serve</c> was asked for.</summary>
internal sealed record ServeSettings(string IndexDirectory, string? Model, string? Gallery, string Urls, string? ApiKey, ImageRetrievalApiOptions Api);

/// <summary>
/// The web host of <c>imgret serve</c>: Kestrel on the given URLs, the index registered with <c>AddImageRetrieval</c>
/// and the endpoints of ImageRetrieval.AspNetCore (the same two calls an existing app makes; see samples/WebSearch).
/// </summary>
internal static class ServeHost
{
    public static WebApplication Build(ServeSettings settings)
    {
        ImageSearchIndexInfo info = ImageSearchIndex.ReadInfo(settings.IndexDirectory);
        string model = settings.Model ?? info.ModelPath
            ?? throw new ArgumentException($"Index '{settings.IndexDirectory}' does not record its model's path; pass --model.");
        if (!File.Exists(model))
        {
            throw new FileNotFoundException($"The model '{model}' does not exist; pass --model with the model the index was built with.", model);
        }
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(settings.Urls);
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddImageRetrieval(o =>
        {
            o.ModelPath = model;
            o.IndexDirectory = Path.GetFullPath(settings.IndexDirectory);
            o.GalleryRoot = settings.Gallery;
            o.Index = new ImageSearchIndexOptions { Embedder = SearchSession.EmbedderOptions(1) };
        });
        builder.Services.AddImageRetrievalApi(o =>
        {
            ImageRetrievalApiOptions a = settings.Api;
            (o.ApiKey, o.ReadOnly, o.MaxRequestBytes, o.MaxConcurrentRequests, o.QueueLimit, o.RequestTimeout) =
                (settings.ApiKey, a.ReadOnly, a.MaxRequestBytes, a.MaxConcurrentRequests, a.QueueLimit, a.RequestTimeout);
        });
        WebApplication app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapImageRetrievalApi();
        return app;
    }

    /// <summary>Builds the service, opens the index (errors surface before listening), listens, prints where, and waits for Ctrl+C.</summary>
    public static void Run(ServeSettings settings)
    {
        using WebApplication app = Build(settings);
        var opened = app.Services.GetRequiredService<ImageSearchIndex>();
        app.Start();
        AnsiConsole.MarkupLineInterpolated($"Serving [bold]{opened.Count}[/] images ({opened.ModelMetadata.Architecture}, {opened.Dimension}-d {opened.ModelMetadata.Metric}, {opened.ExecutionProvider}); {(settings.ApiKey is null ? "read-only" : "adding and removing with the API key")}.");
        foreach (string url in app.Urls)
        {
            AnsiConsole.MarkupLineInterpolated($"  page [green]{url}/[/]   API {url}/api   OpenAPI {url}/openapi/v1.json");
        }
        if (!settings.Urls.Split(';').All(IsLoopback))
        {
            AnsiConsole.MarkupLine("[yellow]Listening beyond loopback: anyone who can reach this machine can search (and, with the key, change) the index.[/]");
        }
        AnsiConsole.MarkupLine("Press Ctrl+C to stop.");
        app.WaitForShutdown();
    }

    private static bool IsLoopback(string url) =>
        Uri.TryCreate(url.Trim(), UriKind.Absolute, out Uri? uri) && (uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out IPAddress? ip) && IPAddress.IsLoopback(ip)));

    /// <summary>Reads an API key file: one line, at least 16 characters.</summary>
    public static string ReadApiKey(string path)
    {
        string key = File.ReadAllText(path).Trim();
        if (key.Length < 16 || key.Any(char.IsControl))
        {
            throw new ArgumentException($"The API key in '{path}' must be one line of at least 16 characters (found {key.Length}).");
        }
        return key;
    }
}
