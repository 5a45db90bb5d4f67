// Renumbers the nodes of a saved hnswlib 0.6 index breadth-first over layer 0 from its entry point, the order in which
// ImageRetrieval's HnswIndex.Save writes its own nodes, and saves the result as another hnswlib index (same graph,
// same labels, same format: hnswlib's loadIndex reads it). It answers one question of docs/benchmarks.md: how much of
// our lead over hnswlib on saved indexes is the node order, i.e. what hnswlib would gain if its users reordered.
//
//   g++ -O2 -std=c++17 bench/hnswlib/reorder_bfs.cpp -o reorder-bfs && ./reorder-bfs IN.hnswlib OUT.hnswlib
//
// Layout (hnswalg.h saveIndex): a 96-byte header; cur_element_count records of size_data_per_element bytes (layer-0
// list: a 4-byte header whose low 2 bytes are the count, then maxM0 ids; the vector; the 8-byte label); then for every
// element a uint32 byte size and its upper-layer lists (levels x (4 + 4 * maxM) bytes).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <vector>

template <typename T> static T read_pod(std::ifstream& in) { T v; in.read(reinterpret_cast<char*>(&v), sizeof v); return v; }
template <typename T> static void write_pod(std::ofstream& out, const T& v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); }

int main(int argc, char** argv) {
    if (argc != 3) { std::cerr << "usage: reorder-bfs IN.hnswlib OUT.hnswlib\n"; return 2; }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) { std::cerr << "cannot open " << argv[1] << "\n"; return 1; }
    auto offset_level0 = read_pod<size_t>(in), max_elements = read_pod<size_t>(in), count = read_pod<size_t>(in);
    auto size_per_element = read_pod<size_t>(in), label_offset = read_pod<size_t>(in), offset_data = read_pod<size_t>(in);
    auto max_level = read_pod<int>(in);
    auto entry = read_pod<uint32_t>(in);
    auto max_m = read_pod<size_t>(in), max_m0 = read_pod<size_t>(in), m = read_pod<size_t>(in);
    auto mult = read_pod<double>(in);
    auto ef_construction = read_pod<size_t>(in);
    std::vector<char> level0(count * size_per_element);
    in.read(level0.data(), static_cast<std::streamsize>(level0.size()));
    std::vector<std::vector<char>> upper(count);
    for (size_t i = 0; i < count; i++) {
        auto bytes = read_pod<uint32_t>(in);
        upper[i].resize(bytes);
        if (bytes) in.read(upper[i].data(), bytes);
    }
    if (!in) { std::cerr << "truncated file\n"; return 1; }

    auto list0 = [&](std::vector<char>& block, size_t id) { return reinterpret_cast<uint32_t*>(block.data() + id * size_per_element + offset_level0); };
    auto count_of = [](const uint32_t* list) { return static_cast<size_t>(*reinterpret_cast<const uint16_t*>(list)); };
    std::vector<uint32_t> order, rank(count, UINT32_MAX);
    order.reserve(count);
    auto walk = [&](uint32_t start) {
        size_t head = order.size();
        rank[start] = static_cast<uint32_t>(order.size());
        order.push_back(start);
        while (head < order.size()) {
            uint32_t* list = list0(level0, order[head++]);
            for (size_t j = 0; j < count_of(list); j++) {
                uint32_t next = list[1 + j];
                if (next < count && rank[next] == UINT32_MAX) { rank[next] = static_cast<uint32_t>(order.size()); order.push_back(next); }
            }
        }
    };
    if (count > 0) walk(entry);
    size_t reached = order.size();
    for (uint32_t id = 0; id < count; id++) if (rank[id] == UINT32_MAX) walk(id);

    std::vector<char> out0(level0.size());
    for (size_t i = 0; i < count; i++) {
        std::memcpy(out0.data() + i * size_per_element, level0.data() + order[i] * size_per_element, size_per_element);
        uint32_t* list = list0(out0, i);
        for (size_t j = 0; j < count_of(list); j++) list[1 + j] = rank[list[1 + j]];
    }
    size_t upper_stride = 4 + 4 * max_m;
    std::ofstream out(argv[2], std::ios::binary);
    write_pod(out, offset_level0); write_pod(out, max_elements); write_pod(out, count); write_pod(out, size_per_element);
    write_pod(out, label_offset); write_pod(out, offset_data); write_pod(out, max_level);
    write_pod(out, count > 0 ? rank[entry] : entry);
    write_pod(out, max_m); write_pod(out, max_m0); write_pod(out, m); write_pod(out, mult); write_pod(out, ef_construction);
    out.write(out0.data(), static_cast<std::streamsize>(out0.size()));
    for (size_t i = 0; i < count; i++) {
        std::vector<char> lists = upper[order[i]];
        for (size_t at = 0; at + upper_stride <= lists.size(); at += upper_stride) {
            auto* list = reinterpret_cast<uint32_t*>(lists.data() + at);
            for (size_t j = 0; j < count_of(list); j++) list[1 + j] = rank[list[1 + j]];
        }
        write_pod(out, static_cast<uint32_t>(lists.size()));
        if (!lists.empty()) out.write(lists.data(), static_cast<std::streamsize>(lists.size()));
    }
    if (!out) { std::cerr << "write failed\n"; return 1; }
    std::printf("{\"nodes\":%zu,\"reached_from_entry\":%zu}\n", count, reached);
    return 0;
}
