#!/usr/bin/env bash
# The search loop against hnswlib on saved indexes, the two running AT THE SAME TIME (same machine load, same minutes):
# ours = `AnnScaling search-mapped --load` (HnswIndex.Load, then a timed ef sweep), hnswlib = bench/hnswlib/hnswlib_bench.cpp
# with its saved index (loaded, not built). Both on one thread, each ef's query set repeated for MIN_QUERY_SECONDS, both
# report queries per CPU-second. ROUNDS rounds; one JSON line per side and round in OUT, tagged with "run" and "round",
# plus the load average before and after each round.
#
# Usage: bench/scaling/search-side-by-side.sh OUT.jsonl PREFIX OURS.hnsw HNSWLIB.index [ROUNDS] [EFS]
#   PREFIX = the data set of bench/scaling/run.sh (PREFIX.base.fvecs, .query.fvecs, .gt.ivecs)
#   OURS.hnsw: e.g. `imgret ann-bench ... --threads 1 --save OURS.hnsw`; HNSWLIB.index: written by hnswlib-bench's INDEX_FILE
#   argument on its first run. BIN (optional) = a folder with scaling/AnnScaling and hnswlib-bench built as run.sh builds them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
OUT=$1; P=$2; OURS=$3; THEIRS=$4; ROUNDS=${5:-2}; EFS=${6:-16,20,24,32,40,48,64,96,128}
export MIN_QUERY_SECONDS=${MIN_QUERY_SECONDS:-1}
BIN=${BIN:-$(mktemp -d /tmp/ann-side-bin.XXXX)}
if [ ! -x "$BIN/scaling/AnnScaling" ]; then
  dotnet build -c Release "$root/bench/AnnScaling" -v q -nologo >/dev/null
  cp -r "$root/bench/AnnScaling/bin/Release/net10.0" "$BIN/scaling"
  g++ -O3 -march=native -DNDEBUG -std=c++17 -pthread "$root/bench/hnswlib/hnswlib_bench.cpp" -o "$BIN/hnswlib-bench"
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
for r in $(seq 1 "$ROUNDS"); do
  before=$(load)
  "$BIN/scaling/AnnScaling" search-mapped --load --index "$OURS" --query "$P.query.fvecs" --gt "$P.gt.ivecs" --ef-search "$EFS" \
      --min-query-seconds "$MIN_QUERY_SECONDS" > "$OUT.ours.$r" &
  "$BIN/hnswlib-bench" "$P.base.fvecs" "$P.query.fvecs" "$P.gt.ivecs" 16 200 "$EFS" 1 10 "$THEIRS" > "$OUT.hnswlib.$r" &
  wait
  after=$(load)
  for side in ours hnswlib; do
    tail -1 "$OUT.$side.$r" | sed "s/^{/{\"run\":\"$side\",\"round\":$r,\"load_before\":\"$before\",\"load_after\":\"$after\",/" >> "$OUT"
    rm -f "$OUT.$side.$r"
  done
  echo "$(date -u +%H:%M:%S) round $r done (load $before -> $after)" >&2
done
