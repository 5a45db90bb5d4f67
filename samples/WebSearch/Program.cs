// An existing ASP.NET Core app gains image search: the index from configuration (appsettings.json, "ImageRetrieval"),
// the endpoints and page of ImageRetrieval.AspNetCore. Run it from its folder: cd samples/WebSearch && dotnet run
using ImageRetrieval.ML.Search;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddImageRetrieval(builder.Configuration.GetSection("ImageRetrieval"));
builder.Services.AddImageRetrievalApi(builder.Configuration.GetSection("ImageRetrieval:Api"));

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapImageRetrievalApi();                      // or app.MapImageRetrievalApi("/image-search") beside your own pages

// A new index starts empty: fill it from the gallery folder once, then save it (later starts open the saved one).
var index = app.Services.GetRequiredService<ImageSearchIndex>();
if (index.Count == 0 && app.Configuration["ImageRetrieval:IndexDirectory"] is { Length: > 0 } directory)
{
    await index.AddFolderAsync();
    await index.SaveAsync(directory);
}
app.Run();

/// <summary>The sample's entry point (public for <c>WebApplicationFactory&lt;Program&gt;</c> in the tests).</summary>
public partial class Program;
