#!/usr/bin/env bash
# The scaling benchmark of issue 20: for each size and dimension, on the same generated data in one run and one after
# the other (never concurrently), build and sweep ef with
#   ours   imgret ann-bench --dtype f32 | f16 | i8 (i8 also re-ranked with the original floats: reranked_runs)
#   USearch 2.26.6 (bench/AnnScaling usearch, its C API) with f32 | f16 | i8 storage
#   hnswlib 0.6.2 (Debian's libhnswlib-dev header, our harness bench/hnswlib/hnswlib_bench.cpp, g++ -O3 -march=native)
# all with M = 16, efConstruction = 200, k = 10, squared L2, BUILD_THREADS build threads, queries on one thread.
# Each line of $OUT is one process's JSON, tagged with "run". Peak RSS is per process (each holds the dataset too).
#
# Usage: bench/scaling/run.sh OUT.jsonl "100000:128 100000:512 300000:128 100000:128:unit" [BUILD_THREADS] [VARIANTS]
#   VARIANTS (default all): any of ours-f32 ours-f16 ours-i8 usearch-f32 usearch-f16 usearch-i8 hnswlib-f32
# Data goes to ${DATA:-/tmp/quant-data} (1M × 512-d is 2 GB); generated once per size and dimension:
#   1,000 clusters, centres N(0,1) per coordinate, per-cluster spread U(0.3, 0.7), 1,000 queries from the same mixture,
#   exact top-100 ground truth by brute force (bench/AnnScaling gen).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
OUT=$1; SIZES=$2; THREADS=${3:-1}
VARIANTS=${4:-"ours-f32 ours-f16 ours-i8 usearch-f32 usearch-f16 usearch-i8 hnswlib-f32"}
DATA=${DATA:-/tmp/quant-data}
EFS=${EFS:-10,12,16,20,24,32,40,48,64,96,128,192,256}
QS=${MIN_QUERY_SECONDS:-1}   # each ef's query set is repeated for at least this long (process CPU time is tick-grained)
export MIN_QUERY_SECONDS=$QS
mkdir -p "$DATA"
# Binaries are copied to $BIN first, so that rebuilding the checkout while a long run goes on cannot change them mid-run.
BIN=${BIN:-$(mktemp -d /tmp/ann-scaling-bin.XXXX)}
if [ ! -x "$BIN/cli/imgret" ]; then
  dotnet build -c Release "$root/src/ImageRetrieval.Cli" -v q -nologo >/dev/null
  dotnet build -c Release "$root/bench/AnnScaling" -v q -nologo >/dev/null
  cp -r "$root/src/ImageRetrieval.Cli/bin/Release/net10.0" "$BIN/cli"
  cp -r "$root/bench/AnnScaling/bin/Release/net10.0" "$BIN/scaling"
  # hnswlib 0.6.2 headers: apt-get install libhnswlib-dev
  g++ -O3 -march=native -DNDEBUG -std=c++17 -pthread "$root/bench/hnswlib/hnswlib_bench.cpp" -o "$BIN/hnswlib-bench"
fi
IMGRET="$BIN/cli/imgret"
SCALING="$BIN/scaling/AnnScaling"
HNSWLIB="$BIN/hnswlib-bench"
tag() { sed "s/^{/{\"run\":\"$1\",\"size\":$2,\"dim\":$3,\"data\":\"${kind:-clustered}\",/"; }
for sd in $SIZES; do
  # SIZE:DIM, or SIZE:DIM:unit for the same mixture scaled to unit vectors (where USearch's int8 belongs: it normalises).
  IFS=: read -r n dim kind <<< "$sd"; kind=${kind:-}
  p="$DATA/c$dim-$n${kind:+-$kind}"
  [ -f "$p.gt.ivecs" ] || "$SCALING" gen --n "$n" --dim "$dim" --queries 1000 --out "$p" ${kind:+--$kind}
  for v in $VARIANTS; do
    echo "$(date -u +%H:%M:%S) $n x $dim $v" >&2
    case $v in
      ours-i8) "$IMGRET" ann-bench --base "$p.base.fvecs" --query "$p.query.fvecs" --gt "$p.gt.ivecs" --k 10 --m 16 --ef-construction 200 \
                 --ef-search "$EFS" --threads "$THREADS" --dtype i8 --rerank 1000 --min-query-seconds "$QS" --json | tail -1 | tag "$v" "$n" "$dim" >> "$OUT" ;;
      ours-*)  "$IMGRET" ann-bench --base "$p.base.fvecs" --query "$p.query.fvecs" --gt "$p.gt.ivecs" --k 10 --m 16 --ef-construction 200 \
                 --ef-search "$EFS" --threads "$THREADS" --dtype "${v#ours-}" --min-query-seconds "$QS" --json | tail -1 | tag "$v" "$n" "$dim" >> "$OUT" ;;
      usearch-*) "$SCALING" usearch --base "$p.base.fvecs" --query "$p.query.fvecs" --gt "$p.gt.ivecs" --k 10 --m 16 --ef-construction 200 \
                 --ef-search "$EFS" --threads "$THREADS" --dtype "${v#usearch-}" --min-query-seconds "$QS" | tail -1 | tag "$v" "$n" "$dim" >> "$OUT" ;;
      hnswlib-f32) "$HNSWLIB" "$p.base.fvecs" "$p.query.fvecs" "$p.gt.ivecs" 16 200 "$EFS" "$THREADS" 10 | tail -1 | tag "$v" "$n" "$dim" >> "$OUT" ;;
    esac
  done
done
echo "$(date -u +%H:%M:%S) done" >&2
