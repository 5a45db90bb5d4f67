// Side-by-side reference for `imgret ann-bench`: hnswlib 0.8 (C++, through hnswlib-node) on the same .fvecs/.ivecs files.
// Usage: node ann-bench.mjs --base B.fvecs --query Q.fvecs --gt GT.ivecs [--k 10] [--m 16] [--ef-construction 200]
//        [--ef-search 10,20,40,80,160,320] [--limit-base N] [--limit-query N] [--json]
// Build is single-threaded (hnswlib-node exposes addPoint only); queries are single-threaded.
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { HierarchicalNSW } = require('hnswlib-node');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : def; };
const flag = (name) => args.includes(name);

function readVecs(path, limit, Type) {
  const buf = fs.readFileSync(path);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dim = dv.getInt32(0, true);
  const row = 4 + dim * 4;
  const count = Math.min(buf.byteLength / row, limit);
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const v = new Array(dim);
    for (let j = 0; j < dim; j++) v[j] = Type === 'f' ? dv.getFloat32(i * row + 4 + j * 4, true) : dv.getInt32(i * row + 4 + j * 4, true);
    out[i] = v;
  }
  return { dim, rows: out };
}

const k = +opt('--k', 10), M = +opt('--m', 16), efC = +opt('--ef-construction', 200);
const efs = opt('--ef-search', '10,20,40,80,160,320').split(',').map(Number);
const base = readVecs(opt('--base'), +opt('--limit-base', Infinity), 'f');
const query = readVecs(opt('--query'), +opt('--limit-query', Infinity), 'f');
const gt = readVecs(opt('--gt'), query.rows.length, 'i');
const nb = base.rows.length, nq = query.rows.length, dim = base.dim;
const log = (s) => { if (!flag('--json')) console.log(s); };

const index = new HierarchicalNSW('l2', dim);
index.initIndex(nb, M, efC, 100);
const cpuSeconds = (c) => { const u = process.cpuUsage(c); return (u.user + u.system) / 1e6; };
let t = process.hrtime.bigint();
let c0 = process.cpuUsage();
for (let i = 0; i < nb; i++) index.addPoint(base.rows[i], i);
const buildSeconds = Number(process.hrtime.bigint() - t) / 1e9;
const buildCpuSeconds = cpuSeconds(c0);
log(`hnswlib-node: built ${nb} x ${dim}-d in ${buildSeconds.toFixed(2)} s (${buildCpuSeconds.toFixed(2)} s CPU) (M=${M}, efC=${efC}, 1 thread)`);

index.setEf(efs[0]);
for (let i = 0; i < Math.min(nq, 500); i++) index.searchKnn(query.rows[i], k);
const runs = [];
for (const ef of efs) {
  index.setEf(ef);
  const results = new Array(nq);
  t = process.hrtime.bigint();
  c0 = process.cpuUsage();
  for (let i = 0; i < nq; i++) results[i] = index.searchKnn(query.rows[i], k).neighbors;
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const cpu = cpuSeconds(c0);
  let found = 0;
  for (let i = 0; i < nq; i++) {
    const truth = new Set(gt.rows[i].slice(0, k));
    for (const id of results[i]) if (truth.has(id)) found++;
  }
  const recall = found / (nq * k), qps = nq / seconds;
  // The same keys as imgret ann-bench: recall_at_k at the k used, recall_at_10 only when k = 10.
  runs.push({ ef, recall_at_k: +recall.toFixed(4), ...(k === 10 ? { recall_at_10: +recall.toFixed(4) } : {}), qps: +qps.toFixed(1), qps_cpu: +(nq / cpu).toFixed(1) });
  log(`ef=${ef}\trecall@${k}=${recall.toFixed(4)}\t${qps.toFixed(0)} queries/s\t${(nq / cpu).toFixed(0)} queries/CPU-s`);
}
const peakMb = process.resourceUsage().maxRSS / 1024;
log(`peak RSS ${peakMb.toFixed(0)} MB (includes base/query held as JS arrays)`);
if (flag('--json')) console.log(JSON.stringify({ library: 'hnswlib-node', base_count: nb, query_count: nq, dimension: dim, k, m: M, ef_construction: efC, build_threads: 1, build_seconds: +buildSeconds.toFixed(3), build_cpu_seconds: +buildCpuSeconds.toFixed(3), runs, peak_memory_mb: +peakMb.toFixed(1) }));
