// serve-load: a bounded load test of `imgret serve` on 127.0.0.1, paired with the same searches in process.
//
//   dotnet run -c Release --project bench/ServeLoad -- --imgret src/ImageRetrieval.Cli/bin/Release/net10.0/imgret \
//       --index /tmp/imgret-demo-index [--seconds 60] [--slices 6] [--warmup 45] [--clients 32] [--insert-percent 2]
//       [--threads 1] [--client raw|httpclient|wrk] [--wrk /usr/bin/wrk] [--workers N]
//
// 1. Copies the index and its gallery to a temporary folder (inserts must not touch the originals) and starts
//    `imgret serve` there with an API key. 2. Warm-up of both sides, --warmup seconds each: the server under the closed
//    loop, then ImageSearchIndex.Search in this process (the server idle meanwhile). 3. --slices paired slices: a closed
//    loop of seconds/slices — N clients, each posting the next query image (the gallery's own images, in a seeded order)
//    to /api/search?k=10, or with --insert-percent to /api/images — then the same number of searches in process
//    (ImageSearchIndex.Search on the same bytes, as many workers as the server runs at once), and again. Alternating
//    puts both sides in the same minutes of the shared VM (whose speed drifts by tens of per cent over minutes); the
//    HTTP/in-process throughput ratio is over all slices, with each slice's own ratio printed beside it, and the same
//    ratio per CPU-second (the server's CPU time from /proc against the in-process side's), which leaves out the load
//    generator: on a 2-core machine it runs on the server's cores and takes a share of them. The closed loop gives the
//    throughput, latency percentiles, errors and the server's resident memory each second. 4. Open loop at half of the
//    measured search throughput: p50/p95/p99. Searches are sent over raw keep-alive HTTP/1.1 connections
//    (RawHttpConnection, as wrk does) unless --client httpclient; inserts (multipart) always go through HttpClient. With
//    --client wrk, the warm-up and the closed loops are run by wrk (Debian package `wrk`, C and epoll, one thread,
//    search.lua beside this program: searches only); its CPU time is read with getrusage(RUSAGE_CHILDREN) once it has
//    exited. The open loop still uses the raw connections. --slices 1 is the earlier order (all HTTP, then in process).
//    --workers N sets both the server's --max-concurrent and the in-process workers (default: imgret serve's, 2 per core).
using System.Diagnostics;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ImageRetrieval.ML.Embedding;
using ImageRetrieval.ML.Search;

var options = Args.Parse(args);
string work = Path.Combine(Path.GetTempPath(), "serve-load-" + Guid.NewGuid().ToString("N"));
ImageSearchIndexInfo info = ImageSearchIndex.ReadInfo(options.Index);
string gallery = Path.Combine(work, "gallery"), index = Path.Combine(work, "index");
Copy(info.GalleryRoot!, gallery);
Copy(options.Index, index);
string keyFile = Path.Combine(work, "key.txt");
File.WriteAllText(keyFile, Convert.ToHexString(Guid.NewGuid().ToByteArray()) + Convert.ToHexString(Guid.NewGuid().ToByteArray()));
byte[][] queries = Directory.GetFiles(gallery, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
    .ToArray().Shuffle(42).Take(1000).Select(File.ReadAllBytes).ToArray();
int port = 5600 + Environment.ProcessId % 300;
string url = $"http://127.0.0.1:{port}";
var endpoint = new IPEndPoint(IPAddress.Loopback, port);
var searches = new SearchRequests(queries, queries.Select(q => RawHttpConnection.Request("/api/search?k=10", endpoint, "image/png", q)).ToArray(),
    options.Client == "httpclient" ? null : endpoint);
string wrkQueries = Path.Combine(work, "wrk-queries");
if (options.Client == "wrk")
{
    Directory.CreateDirectory(wrkQueries);
    for (int i = 0; i < queries.Length; i++)
    {
        File.WriteAllBytes(Path.Combine(wrkQueries, $"{i}.png"), queries[i]);
    }
}

using var server = Process.Start(new ProcessStartInfo(options.Imgret,
    ["serve", "--index", index, "--gallery", gallery, "--urls", url, "--api-key-file", keyFile, "--queue-limit", "4096",
     "--max-concurrent", options.Workers.ToString(CultureInfo.InvariantCulture)])
{
    RedirectStandardOutput = true,
    RedirectStandardError = true,
})!;
server.OutputDataReceived += (_, _) => { };
server.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("server: " + e.Data); };
server.BeginOutputReadLine();
server.BeginErrorReadLine();
try
{
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024 }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
    await WaitHealthy(http);
    string key = File.ReadAllText(keyFile);
    Console.WriteLine($"imgret serve pid {server.Id} at {url}: {info.Count} images; {queries.Length} query images; {options.Clients} clients ({options.Client}); {Environment.ProcessorCount} cores.");
    if (options.Client == "wrk" && options.InsertPercent > 0)
    {
        throw new ArgumentException("--client wrk sends searches only; use --client raw for a mix with --insert-percent.");
    }
    Task<Phase> HttpLoop(int seconds, bool warmUp) => options.Client == "wrk"
        ? WrkLoop(options, url, wrkQueries, queries.Length, seconds, server.Id)
        : ClosedLoop(http, searches, key, options with { Seconds = seconds, InsertPercent = warmUp ? 0 : options.InsertPercent }, server.Id);

    // Both sides warm up first (tiered JIT and PGO reach their final code): the server under the closed loop, then the
    // in-process index in this process (the server idle meanwhile).
    await HttpLoop(options.Warmup, warmUp: true);
    using var local = new InProcessSearch(index, info.ModelPath!, gallery, queries, options.Threads, options.Workers);
    local.WarmUp(options.Warmup);

    // Then paired slices: an HTTP closed loop of seconds/slices, then the same number of searches in process, and again.
    // Alternating puts both sides in the same minutes of a shared VM, whose speed drifts by tens of per cent over a
    // run; each slice pair is also a ratio of its own.
    var max = new Phase();
    var inProcess = new InProcessTotals();
    var sliceRatios = new List<double>();
    int sliceSeconds = options.Seconds / options.Slices;   // ≥ 1: Args checks --slices ≤ --seconds
    for (int slice = 0; slice < options.Slices; slice++)
    {
        Phase http1 = await HttpLoop(sliceSeconds, warmUp: false);
        InProcessTotals local1 = local.Run(http1.Searches);
        max.Absorb(http1);
        inProcess.Add(local1);
        sliceRatios.Add(http1.SearchesPerSecond / (local1.Searches / local1.Seconds));
        Console.WriteLine($"slice {slice + 1}/{options.Slices}: HTTP {http1.SearchesPerSecond:F0}/s, in process {local1.Searches / local1.Seconds:F0}/s: {sliceRatios[^1]:P0}");
    }
    Print("HTTP, closed loop (max)", max);
    double half = max.SearchesPerSecond / 2;
    Phase paced = await OpenLoop(http, searches, half, Math.Max(5, options.Seconds / 2), options.Clients, server.Id);
    Print($"HTTP, open loop at {half:F0} searches/s (half of max)", paced);
    server.Kill(entireProcessTree: true);
    await server.WaitForExitAsync();

    Console.WriteLine($"In process: {inProcess.Searches} searches in {inProcess.Seconds:F2} s = {inProcess.Searches / inProcess.Seconds:F0}/s ({options.Workers} workers, as many as the server runs at once)");
    double ratio = max.SearchesPerSecond / (inProcess.Searches / inProcess.Seconds);
    double ratioCpu = (max.Searches / max.ServerCpuSeconds) / (inProcess.Searches / inProcess.CpuSeconds);
    double[] sorted = sliceRatios.Order().ToArray();
    double sliceMedian = (sorted[sorted.Length / 2] + sorted[(sorted.Length - 1) / 2]) / 2;
    Console.WriteLine($"HTTP / in-process search throughput: {ratio:P0} (slices {string.Join(" ", sliceRatios.Select(r => r.ToString("P0", CultureInfo.InvariantCulture)))}, median {sliceMedian:P0}); per CPU-second (server {max.Searches / max.ServerCpuSeconds:F0}/CPU-s, in process {inProcess.Searches / inProcess.CpuSeconds:F0}/CPU-s): {ratioCpu:P0}");
    Console.WriteLine($"CPU per search: server {1000 * max.ServerCpuSeconds / max.Searches:F3} ms, this load generator {1000 * max.ClientCpuSeconds / max.Searches:F3} ms (on the same cores), in process {1000 * inProcess.CpuSeconds / inProcess.Searches:F3} ms");
    Console.WriteLine(JsonSerializer.Serialize(new
    {
        clients = options.Clients,
        client = options.Client,
        seconds = options.Seconds,
        slices = options.Slices,
        warmup_seconds = options.Warmup,
        insert_percent = options.InsertPercent,
        http_searches_per_second = max.SearchesPerSecond,
        http_inserts_per_second = max.InsertsPerSecond,
        http_p50_ms = max.P(0.50), http_p95_ms = max.P(0.95), http_p99_ms = max.P(0.99),
        http_errors = max.Errors,
        half_rate = half, half_p50_ms = paced.P(0.50), half_p95_ms = paced.P(0.95), half_p99_ms = paced.P(0.99), half_errors = paced.Errors,
        rss_mb = max.RssMb, in_process_searches_per_second = inProcess.Searches / inProcess.Seconds, ratio, slice_ratios = sliceRatios, slice_ratio_median = sliceMedian,
        server_searches_per_cpu_second = max.Searches / max.ServerCpuSeconds, in_process_searches_per_cpu_second = inProcess.Searches / inProcess.CpuSeconds, ratio_cpu = ratioCpu,
        server_cpu_ms_per_search = 1000 * max.ServerCpuSeconds / max.Searches, client_cpu_ms_per_search = 1000 * max.ClientCpuSeconds / max.Searches,
        in_process_cpu_ms_per_search = 1000 * inProcess.CpuSeconds / inProcess.Searches,
    }));
}
finally
{
    if (!server.HasExited)
    {
        server.Kill(entireProcessTree: true);
    }
    Directory.Delete(work, recursive: true);
}

static async Task<Phase> ClosedLoop(HttpClient http, SearchRequests searches, string key, Args options, int serverPid)
{
    var phase = new Phase();
    var stop = Stopwatch.StartNew();
    var deadline = TimeSpan.FromSeconds(options.Seconds);
    using var sampler = phase.SampleMemory(serverPid);
    double cpu0 = Phase.ProcessCpuSeconds(serverPid);
    TimeSpan clientCpu0 = Environment.CpuUsage.TotalTime;
    int next = 0;
    await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(async client =>
    {
        var random = new Random(client);
        using RawHttpConnection? raw = await searches.OpenAsync();
        while (stop.Elapsed < deadline)
        {
            int query = Interlocked.Increment(ref next) % searches.Images.Length;
            bool insert = random.Next(100) < options.InsertPercent;
            await phase.Send(http, raw, searches, query, insert, key);
        }
    }));
    phase.Seconds = stop.Elapsed.TotalSeconds;
    phase.ServerCpuSeconds = Phase.ProcessCpuSeconds(serverPid) - cpu0;
    phase.ClientCpuSeconds = (Environment.CpuUsage.TotalTime - clientCpu0).TotalSeconds;
    return phase;
}

static async Task<Phase> WrkLoop(Args options, string url, string queryFolder, int queryCount, int seconds, int serverPid)
{
    string script = Path.Combine(AppContext.BaseDirectory, "search.lua");
    var phase = new Phase();
    using var sampler = phase.SampleMemory(serverPid);
    double cpu0 = Phase.ProcessCpuSeconds(serverPid);
    double children0 = Phase.ReapedChildrenCpuSeconds();
    using var wrk = Process.Start(new ProcessStartInfo(options.Wrk,
        ["-t1", $"-c{options.Clients}", $"-d{seconds}s", "--timeout", "30s", "-s", script, url + "/api/search?k=10", "--", queryFolder, queryCount.ToString(CultureInfo.InvariantCulture)])
    {
        RedirectStandardOutput = true,
    }) ?? throw new InvalidOperationException($"Cannot start {options.Wrk}.");
    string output = await wrk.StandardOutput.ReadToEndAsync();
    await wrk.WaitForExitAsync();
    phase.ServerCpuSeconds = Phase.ProcessCpuSeconds(serverPid) - cpu0;
    phase.ClientCpuSeconds = Phase.ReapedChildrenCpuSeconds() - children0;   // wrk's, once reaped (the server still runs)
    string line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'))
        ?? throw new InvalidOperationException($"wrk printed no summary (exit code {wrk.ExitCode}):\n{output}");
    using JsonDocument summary = JsonDocument.Parse(line);
    JsonElement r = summary.RootElement;
    int Int(string name) => r.GetProperty(name).GetInt32();
    phase.SetSummary(Int("requests"), r.GetProperty("duration_us").GetInt64() / 1e6,
        Int("errors_connect") + Int("errors_read") + Int("errors_write") + Int("errors_status") + Int("errors_timeout"),
        new() { [0.50] = Int("p50_us") / 1000.0, [0.95] = Int("p95_us") / 1000.0, [0.99] = Int("p99_us") / 1000.0 });
    return phase;
}

static async Task<Phase> OpenLoop(HttpClient http, SearchRequests searches, double rate, int seconds, int connections, int serverPid)
{
    // A request takes an idle connection or opens one. The pool starts with as many open connections as the closed
    // loop had clients: started empty, the first second's requests each opened a connection at the full rate, and
    // connecting while searches queue made more requests wait and open more — a pile-up of the generator's making
    // (seen as p99 of 200–700 ms and the server's memory jumping by ~20 MB in that second, in 3 runs).
    var pool = new ConcurrentBag<RawHttpConnection>();
    for (int c = 0; c < connections; c++)
    {
        if (await searches.OpenAsync() is RawHttpConnection open)
        {
            pool.Add(open);
        }
    }
    var phase = new Phase();
    using var sampler = phase.SampleMemory(serverPid);
    var stop = Stopwatch.StartNew();
    var sent = new List<Task>();
    async Task SendPooled(int query)
    {
        RawHttpConnection? raw = pool.TryTake(out RawHttpConnection? idle) ? idle : await searches.OpenAsync();
        await phase.Send(http, raw, searches, query, false, "");
        if (raw is not null)
        {
            pool.Add(raw);
        }
    }
    long count = (long)(rate * seconds);
    for (long i = 0; i < count; i++)
    {
        TimeSpan due = TimeSpan.FromSeconds(i / rate);
        if (due > stop.Elapsed)
        {
            await Task.Delay(due - stop.Elapsed);
        }
        sent.Add(SendPooled((int)(i % searches.Images.Length)));
    }
    await Task.WhenAll(sent);
    foreach (RawHttpConnection connection in pool)
    {
        connection.Dispose();
    }
    phase.Seconds = stop.Elapsed.TotalSeconds;
    return phase;
}

static async Task WaitHealthy(HttpClient http)
{
    for (int i = 0; i < 600; i++)
    {
        try
        {
            if ((await http.GetAsync("/healthz")).IsSuccessStatusCode)
            {
                return;
            }
        }
        catch (HttpRequestException)
        {
        }
        await Task.Delay(100);
    }
    throw new TimeoutException("imgret serve did not become healthy within 60 s.");
}

static void Print(string name, Phase p) => Console.WriteLine(
    $"{name}: {p.Searches} searches in {p.Seconds:F1} s = {p.SearchesPerSecond:F0}/s, {p.Inserts} inserts ({p.InsertsPerSecond:F1}/s); " +
    $"search latency p50 {p.P(0.5):F1} ms, p95 {p.P(0.95):F1} ms, p99 {p.P(0.99):F1} ms; errors {p.Errors}; server RSS MB {string.Join(" ", p.RssMb.Select(m => m.ToString("F0", CultureInfo.InvariantCulture)))}");

static void Copy(string from, string to)
{
    foreach (string file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
    {
        string target = Path.Combine(to, Path.GetRelativePath(from, file));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(file, target);
    }
}

/// <summary>ImageSearchIndex.Search on the query bytes, in this process, with as many workers as the server runs at once.</summary>
internal sealed class InProcessSearch(string indexDir, string model, string gallery, byte[][] queries, int threads, int workers) : IDisposable
{
    private readonly ImageSearchIndex _index = ImageSearchIndex.Open(indexDir, model, gallery, new ImageEmbedderOptions { IntraOpNumThreads = threads });
    private int _next;

    /// <summary>Searches for as long as the HTTP side warmed up (tiered JIT reaches its final code).</summary>
    public void WarmUp(int seconds)
    {
        var watch = Stopwatch.StartNew();
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            for (int i = w; watch.Elapsed < TimeSpan.FromSeconds(seconds); i += workers)
            {
                _index.Search(queries[i % queries.Length], 10);
            }
        });
    }

    /// <summary>Exactly <paramref name="count"/> searches, continuing through the query images where the last run stopped.</summary>
    public InProcessTotals Run(int count)
    {
        int start = _next, done = -1;
        TimeSpan cpu0 = Environment.CpuUsage.TotalTime;
        var watch = Stopwatch.StartNew();
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref done)) < count)
            {
                _index.Search(queries[(start + i) % queries.Length], 10);
            }
        });
        _next = (start + count) % queries.Length;
        return new InProcessTotals { Searches = count, Seconds = watch.Elapsed.TotalSeconds, CpuSeconds = (Environment.CpuUsage.TotalTime - cpu0).TotalSeconds };
    }

    public void Dispose() => _index.Dispose();
}

internal sealed class InProcessTotals
{
    public int Searches { get; set; }
    public double Seconds { get; set; }
    public double CpuSeconds { get; set; }

    public void Add(InProcessTotals other) => (Searches, Seconds, CpuSeconds) = (Searches + other.Searches, Seconds + other.Seconds, CpuSeconds + other.CpuSeconds);
}

internal sealed class Phase
{
    private readonly List<double> _latencies = [];
    private int _inserts;
    private int _errors;

    public double Seconds { get; set; }
    public double ServerCpuSeconds { get; set; }
    public double ClientCpuSeconds { get; set; }
    private int? _summaryCount;
    private Dictionary<double, double>? _summaryPercentiles;

    public int Searches { get { lock (_latencies) { return _summaryCount ?? _latencies.Count; } } }
    public int Inserts => _inserts;
    public int Errors => _errors;

    /// <summary>Totals measured by an external generator (wrk) instead of this program's own clients.</summary>
    public void SetSummary(int searches, double seconds, int errors, Dictionary<double, double> percentiles)
    {
        (_summaryCount, Seconds, _errors, _summaryPercentiles) = (searches, seconds, errors, percentiles);
    }
    public List<double> RssMb { get; } = [];

    /// <summary>Adds another phase's searches, latencies, time, CPU and memory samples to this one (slices of one closed loop).</summary>
    public void Absorb(Phase other)
    {
        lock (_latencies)
        {
            if (other._summaryPercentiles is not null)
            {
                // wrk reports percentiles, not samples: a sliced wrk run keeps the slices' worst percentiles.
                _summaryPercentiles ??= [];
                foreach ((double q, double ms) in other._summaryPercentiles)
                {
                    _summaryPercentiles[q] = Math.Max(ms, _summaryPercentiles.GetValueOrDefault(q));
                }
                _summaryCount = (_summaryCount ?? 0) + other.Searches;
            }
            _latencies.AddRange(other._latencies);
        }
        _inserts += other._inserts;
        _errors += other._errors;
        Seconds += other.Seconds;
        ServerCpuSeconds += other.ServerCpuSeconds;
        ClientCpuSeconds += other.ClientCpuSeconds;
        RssMb.AddRange(other.RssMb);
    }
    public double SearchesPerSecond => Searches / Seconds;
    public double InsertsPerSecond => Inserts / Seconds;

    public double P(double q)
    {
        if (_summaryPercentiles is not null)
        {
            return _summaryPercentiles.TryGetValue(q, out double ms) ? ms : double.NaN;
        }
        lock (_latencies)
        {
            if (_latencies.Count == 0)
            {
                return double.NaN;
            }
            var sorted = _latencies.Order().ToArray();
            return sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        }
    }

    public async Task Send(HttpClient http, RawHttpConnection? raw, SearchRequests searches, int query, bool insert, string key)
    {
        var watch = Stopwatch.StartNew();
        if (raw is not null && !insert)
        {
            int status;
            try
            {
                status = await raw.SendAsync(searches.Raw[query]);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                status = 0;
            }
            if (status != 200)
            {
                Interlocked.Increment(ref _errors);
                return;
            }
            lock (_latencies)
            {
                _latencies.Add(watch.Elapsed.TotalMilliseconds);
            }
            return;
        }
        byte[] image = searches.Images[query];
        using var request = new HttpRequestMessage(HttpMethod.Post, insert ? "/api/images" : "/api/search?k=10");
        var content = new ByteArrayContent(image);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        if (insert)
        {
            request.Headers.Add("X-Api-Key", key);
            request.Content = new MultipartFormDataContent { { content, "image", "load.png" }, { new StringContent("load"), "label" } };
        }
        else
        {
            request.Content = content;
        }
        try
        {
            using HttpResponseMessage response = await http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            if (!response.IsSuccessStatusCode)
            {
                Interlocked.Increment(ref _errors);
                return;
            }
        }
        catch (HttpRequestException)
        {
            Interlocked.Increment(ref _errors);
            return;
        }
        if (insert)
        {
            Interlocked.Increment(ref _inserts);
            return;
        }
        lock (_latencies)
        {
            _latencies.Add(watch.Elapsed.TotalMilliseconds);
        }
    }

    /// <summary>User + system CPU time of a process, from /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).</summary>
    public static double ProcessCpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    /// <summary>User + system CPU time of this process's exited and reaped children (getrusage(RUSAGE_CHILDREN)).</summary>
    public static double ReapedChildrenCpuSeconds()
    {
        var usage = new long[18];   // struct rusage: ru_utime and ru_stime (timeval: seconds, microseconds), then 14 longs
        if (GetRUsage(-1, usage) != 0)
        {
            throw new InvalidOperationException("getrusage(RUSAGE_CHILDREN) failed.");
        }
        return usage[0] + usage[1] / 1e6 + usage[2] + usage[3] / 1e6;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRUsage(int who, long[] usage);

    public IDisposable SampleMemory(int pid) => new Timer(_ =>
    {
        try
        {
            string line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            double kb = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            lock (RssMb)
            {
                RssMb.Add(kb / 1024);
            }
        }
        catch (IOException)
        {
        }
    }, null, TimeSpan.Zero, TimeSpan.FromSeconds(1));
}

/// <summary>The query images, each also as a prepared raw HTTP request; <c>Server</c> is null when HttpClient sends searches.</summary>
internal sealed record SearchRequests(byte[][] Images, byte[][] Raw, IPEndPoint? Server)
{
    public async Task<RawHttpConnection?> OpenAsync() => Server is null ? null : await RawHttpConnection.OpenAsync(Server);
}

internal sealed record Args(string Imgret, string Index, int Seconds, int Clients, int InsertPercent, int Threads, int Workers, int Warmup, string Client, string Wrk, int Slices)
{
    public static Args Parse(string[] args)
    {
        string? Get(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        int Int(string name, int fallback) => Get(name) is string v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var parsed = new Args(Get("--imgret") ?? throw new ArgumentException("--imgret PATH (the built imgret) is required."),
            Get("--index") ?? throw new ArgumentException("--index DIR (e.g. from imgret demo --index-out) is required."),
            Int("--seconds", 60), Int("--clients", 32), Int("--insert-percent", 0), Int("--threads", 1),
            Int("--workers", Math.Max(2, 2 * Environment.ProcessorCount)),   // imgret serve's default --max-concurrent
            Int("--warmup", 45), Get("--client") ?? "raw", Get("--wrk") ?? "wrk", Int("--slices", 6));
        if (parsed.Clients is < 1 or > 1024 || parsed.Seconds is < 1 or > 600 || parsed.InsertPercent is < 0 or > 100 || parsed.Warmup is < 1 or > 600 || parsed.Slices < 1 || parsed.Slices > parsed.Seconds || parsed.Client is not ("raw" or "httpclient" or "wrk"))
        {
            throw new ArgumentException("--clients 1..1024, --seconds 1..600, --insert-percent 0..100, --warmup 1..600, --slices 1..seconds, --client raw|httpclient|wrk.");
        }
        return parsed;
    }
}

internal static class Extensions
{
    public static T[] Shuffle<T>(this T[] items, int seed)
    {
        new Random(seed).Shuffle(items);
        return items;
    }
}
