using System.Net;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Mvc.Testing;

namespace ImageRetrieval.AspNetCore.Tests;

/// <summary>
/// samples/WebSearch hosted in memory with the bundled model, a copy of the first <c>perClass</c> images of each class of
/// the bundled gallery (indexed at start-up by the sample) and a temporary index directory; settings as configuration
/// keys (<c>ImageRetrieval:Api:...</c>), as an operator would set them.
/// </summary>
public sealed class WebSearchFactory : WebApplicationFactory<Program>
{
    public const string Key = "test-key-0123456789abcdef";
    private readonly TempDirectory _root = new();
    private readonly IReadOnlyDictionary<string, string?> _settings;

    public WebSearchFactory() : this(20, new Dictionary<string, string?>())
    {
    }

    internal WebSearchFactory(int perClass, IReadOnlyDictionary<string, string?> settings)
    {
        Gallery = Path.Combine(_root.Path, "gallery");
        IndexDirectory = Path.Combine(_root.Path, "index");
        foreach (string classDir in Directory.GetDirectories(RepositoryFiles.SampleGallery).Order(StringComparer.Ordinal))
        {
            string target = Directory.CreateDirectory(Path.Combine(Gallery, Path.GetFileName(classDir))).FullName;
            foreach (string file in Directory.GetFiles(classDir, "*.png").Order(StringComparer.Ordinal).Take(perClass))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }
        _settings = settings;
    }

    public string Gallery { get; }

    public string IndexDirectory { get; }

    /// <summary>Serves on Kestrel at 127.0.0.1 (a free port) and returns a client of that address.</summary>
    public HttpClient StartKestrel()
    {
        UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        StartServer();
        return new HttpClient { BaseAddress = new Uri(Address) };
    }

    /// <summary>The Kestrel address after <see cref="StartKestrel"/>.</summary>
    public string Address => Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ImageRetrieval:ModelPath", RepositoryFiles.BundledModel);
        builder.UseSetting("ImageRetrieval:GalleryRoot", Gallery);
        builder.UseSetting("ImageRetrieval:IndexDirectory", IndexDirectory);
        builder.UseSetting("ImageRetrieval:Api:ReadOnly", "false");
        builder.UseSetting("ImageRetrieval:Api:ApiKey", Key);
        foreach ((string name, string? value) in _settings)
        {
            builder.UseSetting(name, value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _root.Dispose();
        }
    }
}
