// Side of the scaling benchmark (bench/scaling/run.sh): hnswlib's C++ header (Debian's libhnswlib-dev, hnswlib 0.6.2)
// compiled here with the machine's SIMD flags, measured like `imgret ann-bench`: build time (wall and process CPU),
// recall@k and single-threaded queries/s for each ef, peak RSS, one JSON line on stdout. This harness is ours; hnswlib
// itself is not in the repository.
//
//   g++ -O3 -march=native -DNDEBUG -std=c++17 -pthread bench/hnswlib/hnswlib_bench.cpp -o /tmp/quant-hnswlib-bench
//   /tmp/quant-hnswlib-bench BASE.fvecs QUERY.fvecs GT.ivecs M EF_CONSTRUCTION EF1,EF2,... THREADS [K] [INDEX_FILE]
// With INDEX_FILE: load it if it exists (no build), else build and save it (for profiling the search alone).
// SEED=S (environment): hnswlib's random_seed for the level draw (default 42), to compare graphs of several builds.
#include <hnswlib/hnswlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <atomic>
#include <vector>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

template <typename T>
static std::vector<T> read_vecs(const char* path, int& dim) {
    std::ifstream in(path, std::ios::binary);
    if (!in) { fprintf(stderr, "cannot open %s\n", path); exit(1); }
    std::vector<T> out;
    int d = 0;
    while (in.read(reinterpret_cast<char*>(&d), 4)) {
        size_t at = out.size();
        out.resize(at + d);
        in.read(reinterpret_cast<char*>(out.data() + at), sizeof(T) * d);
        dim = d;
    }
    return out;
}

static double cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static long rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    long pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * sysconf(_SC_PAGESIZE);
}

int main(int argc, char** argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: %s BASE QUERY GT M EFC EF1,EF2,... THREADS [K]\n", argv[0]);
        return 2;
    }
    int dim = 0, qdim = 0, gdim = 0;
    std::vector<float> base = read_vecs<float>(argv[1], dim);
    std::vector<float> queries = read_vecs<float>(argv[2], qdim);
    std::vector<int> gt = read_vecs<int>(argv[3], gdim);
    int m = atoi(argv[4]), efc = atoi(argv[5]), threads = atoi(argv[7]);
    int k = argc > 8 ? atoi(argv[8]) : 10;
    std::vector<int> efs;
    {
        std::stringstream ss(argv[6]);
        std::string item;
        while (std::getline(ss, item, ',')) efs.push_back(atoi(item.c_str()));
    }
    size_t n = base.size() / dim, nq = queries.size() / dim;
    long rss0 = rss_bytes();

    hnswlib::L2Space space(dim);
    const char* saved = argc > 9 ? argv[9] : nullptr;
    bool load = saved && std::ifstream(saved).good();
    size_t seed = getenv("SEED") ? strtoull(getenv("SEED"), nullptr, 10) : 42;
    auto* index = load ? new hnswlib::HierarchicalNSW<float>(&space, saved) : new hnswlib::HierarchicalNSW<float>(&space, n, m, efc, seed);
    double cpu0 = cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    if (load) {
    } else if (threads <= 1) {
        for (size_t i = 0; i < n; i++) index->addPoint(base.data() + i * dim, i);
    } else {
        // hnswlib's own parallel pattern (python bindings' ParallelFor): the first point alone, then threads share a counter.
        index->addPoint(base.data(), 0);
        std::atomic<size_t> next(1);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; t++)
            pool.emplace_back([&] {
                for (size_t i; (i = next.fetch_add(1)) < n;) index->addPoint(base.data() + i * dim, i);
            });
        for (auto& th : pool) th.join();
    }
    double build = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double build_cpu = cpu_seconds() - cpu0;
    long rss_built = rss_bytes();
    if (saved && !load) index->saveIndex(saved);

    // Warm-up, then one pass per ef on one thread.
    index->setEf(efs[0]);
    for (size_t i = 0; i < std::min<size_t>(nq, 500); i++) index->searchKnn(queries.data() + i * dim, k);
    std::ostringstream runs;
    // MIN_QUERY_SECONDS=S: repeat the query set per ef until S seconds have passed (steadier timing; recall from pass 1).
    double min_seconds = getenv("MIN_QUERY_SECONDS") ? atof(getenv("MIN_QUERY_SECONDS")) : 0;
    for (size_t e = 0; e < efs.size(); e++) {
        index->setEf(efs[e]);
        std::vector<long> results(nq * k, -1);
        double c0 = cpu_seconds();
        auto w0 = std::chrono::steady_clock::now();
        int passes = 0;
        do {
            for (size_t i = 0; i < nq; i++) {
                auto top = index->searchKnn(queries.data() + i * dim, k);
                int j = (int)top.size() - 1;
                while (!top.empty()) { long id = (long)top.top().second; if (passes == 0) results[i * k + j] = id; j--; top.pop(); }
            }
            passes++;
        } while (std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count() < min_seconds);
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count() / passes;
        double cpu = (cpu_seconds() - c0) / passes;
        long hit = 0;
        for (size_t i = 0; i < nq; i++)
            for (int j = 0; j < k; j++)
                for (int t = 0; t < k; t++)
                    if (results[i * k + j] == gt[i * gdim + t]) { hit++; break; }
        char buf[256];
        snprintf(buf, sizeof buf, "%s{\"ef\":%d,\"recall_at_10\":%.4f,\"qps\":%.1f,\"qps_cpu\":%.1f}", e ? "," : "", efs[e],
                 (double)hit / (nq * k), nq / secs, nq / cpu);
        runs << buf;
    }
    rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double data_mb = (base.size() + queries.size()) * 4.0 / 1048576.0;
    // hnswlib's own allocation: level-0 block (max_elements × size_data_per_element) + upper-layer link lists.
    double level0_mb = (double)index->max_elements_ * index->size_data_per_element_ / 1048576.0;
    printf("{\"library\":\"hnswlib-cpp\",\"base_count\":%zu,\"query_count\":%zu,\"dimension\":%d,\"k\":%d,\"metric\":\"l2\",\"m\":%d,"
           "\"ef_construction\":%d,\"seed\":%zu,\"build_threads\":%d,\"build_seconds\":%.3f,\"build_cpu_seconds\":%.3f,\"runs\":[%s],"
           "\"peak_memory_mb\":%.1f,\"index_memory_mb\":%.1f,\"index_rss_delta_mb\":%.1f,\"dataset_mb\":%.1f,\"dtype\":\"f32\"}\n",
           n, nq, dim, k, m, efc, seed, threads, build, build_cpu, runs.str().c_str(), usage.ru_maxrss / 1024.0, level0_mb,
           (rss_built - rss0) / 1048576.0, data_mb);
    delete index;
    return 0;
}
