using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace ImageRetrieval.AspNetCore.Tests;

/// <summary>
/// The page in a real browser: Debian's chromium (Playwright cannot download its own here), launched by path, against
/// the service on Kestrel at 127.0.0.1. Upload a query, wait for the grid, check the top hit, search again by clicking a
/// result, by keyboard and by dropping a file; no serious or critical axe-core violation; usable at phone width. With
/// IMGRET_UPDATE_SCREENSHOT=1 the screenshot is also written to docs/images/serve.png.
/// </summary>
public sealed class BrowserTests
{
    private static readonly string Chromium = Environment.GetEnvironmentVariable("IMGRET_CHROMIUM") ?? "/usr/bin/chromium";

    [Fact]
    public async Task Search_page_in_chromium()
    {
        Assert.True(File.Exists(Chromium),
            $"No chromium at '{Chromium}': install Debian's package (apt-get install -y chromium; .ci/run does) or set IMGRET_CHROMIUM to a Chromium executable.");
        using var factory = new WebSearchFactory(30, new Dictionary<string, string?>());
        using HttpClient unused = factory.StartKestrel();
        string baseUrl = factory.Address;

        using IPlaywright playwright = await Playwright.CreateAsync();
        await using IBrowser browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu"],   // CI runs as root, where Chromium's sandbox cannot start
        });
        IPage page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1100, Height = 900 } });
        var failedRequests = new List<string>();
        page.RequestFailed += (_, request) => failedRequests.Add(request.Url);
        page.Response += (_, response) =>
        {
            if (response.Status >= 500)
            {
                failedRequests.Add($"{response.Status} {response.Url}");
            }
        };
        await page.GotoAsync(baseUrl + "/");
        await Assertions.Expect(page.Locator("#info")).ToContainTextAsync("300 images");

        // Upload a query image through the file input.
        string query = Path.Combine(RepositoryFiles.SampleQueries, "ankle-boot", "test-03010.png");
        await page.Locator("#file").SetInputFilesAsync(query);
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("10 results for test-03010.png");
        ILocator results = page.Locator("#results li button");
        await Assertions.Expect(results).ToHaveCountAsync(10);
        await Assertions.Expect(results.First.Locator(".label")).ToHaveTextAsync("1. ankle-boot");
        await Assertions.Expect(results.First.Locator("img")).ToHaveJSPropertyAsync("complete", true);

        AxeResult axe = await page.RunAxe();
        var serious = axe.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, "axe-core: " + string.Join("; ", serious.Select(v => $"{v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => n.Html))}")));

        string screenshot = Path.Combine(AppContext.BaseDirectory, "serve.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        if (Environment.GetEnvironmentVariable("IMGRET_UPDATE_SCREENSHOT") == "1")
        {
            File.Copy(screenshot, RepositoryFiles.Find(Path.Combine("docs", "images")) + "/serve.png", overwrite: true);
        }

        // Click a result: search again with that image.
        await results.Nth(1).ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("results for result 2 (ankle-boot)");
        await Assertions.Expect(results.First.Locator(".label")).ToHaveTextAsync("1. ankle-boot");

        // Keyboard: a result is a button; Enter searches by it.
        await results.Nth(2).FocusAsync();
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("results for result 3");

        // Drag and drop a file on the drop zone.
        byte[] bag = File.ReadAllBytes(Path.Combine(RepositoryFiles.SampleQueries, "bag", "test-03006.png"));
        await page.EvaluateAsync(@"bytes => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([new Uint8Array(bytes)], 'bag.png', { type: 'image/png' }));
            document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }", bag.Select(b => (int)b).ToArray());
        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("results for bag.png");
        await Assertions.Expect(results.First.Locator(".label")).ToHaveTextAsync("1. bag");

        // Phone width: no horizontal scrolling, the grid still there.
        await page.SetViewportSizeAsync(390, 844);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page scrolls sideways at 390 px");
        AxeResult phone = await page.RunAxe();
        Assert.DoesNotContain(phone.Violations, v => v.Impact is "serious" or "critical");

        Assert.Empty(failedRequests);
    }
}
