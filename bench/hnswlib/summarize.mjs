// Medians per configuration from compare.sh's JSON lines: node summarize.mjs /tmp/hnsw-compare.jsonl
import fs from 'node:fs';
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const groups = {};
for (const r of rows) (groups[r.run] ??= []).push(r);
const out = {};
for (const [name, rs] of Object.entries(groups)) {
  const efs = rs[0].runs.map((x) => x.ef);
  out[name] = {
    n: rs.length,
    build_seconds: median(rs.map((r) => r.build_seconds)),
    build_seconds_all: rs.map((r) => r.build_seconds),
    build_cpu_seconds: median(rs.map((r) => r.build_cpu_seconds)),
    peak_memory_mb: median(rs.map((r) => r.peak_memory_mb)),
    index_memory_mb: rs[0].index_memory_mb, vectors_and_links_mb: rs[0].vectors_and_links_mb,
    runs: efs.map((ef) => ({ ef, recall_at_k: median(rs.map((r) => { const x = r.runs.find((y) => y.ef === ef); return x.recall_at_k ?? x.recall_at_10; })),
                             qps: median(rs.map((r) => r.runs.find((x) => x.ef === ef).qps)), qps_all: rs.map((r) => r.runs.find((x) => x.ef === ef).qps),
                             qps_cpu: median(rs.map((r) => r.runs.find((x) => x.ef === ef).qps_cpu)) })),
  };
}
console.log(JSON.stringify(out, null, 1));
