#!/usr/bin/env bash
# Side-by-side run: imgret ann-bench (ours, 1 and 2 build threads) and hnswlib-node (hnswlib 0.8, 1 thread)
# on the same files, interleaved, ROUNDS times. JSON lines go to $OUT; summarize.mjs prints medians.
# Usage: bench/hnswlib/compare.sh /tmp/fm-base.fvecs /tmp/fm-query.fvecs [rounds] [out.jsonl]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
BASE=$1; QUERY=$2; ROUNDS=${3:-3}; OUT=${4:-/tmp/hnsw-compare.jsonl}
EFS=10,20,40,80,160,320
IMGRET="$root/src/ImageRetrieval.Cli/bin/Release/net10.0/imgret"
GT="${GT:-/tmp/fm-gt.ivecs}"
[ -f "$GT" ] || "$IMGRET" ann-bench --base "$BASE" --query "$QUERY" --ef-search 10 --gt-out "$GT" --json | tail -1 >> "$OUT.gt"
# The two single-threaded runs execute at the same time, so both see the same machine load (the machine is shared);
# both report wall-clock and process CPU time. The 2-thread build runs alone afterwards.
for r in $(seq 1 "$ROUNDS"); do
  "$IMGRET" ann-bench --base "$BASE" --query "$QUERY" --gt "$GT" --k 10 --metric l2 --m 16 --ef-construction 200 --ef-search $EFS --threads 1 --json | tail -1 | sed 's/^{/{"run":"ours-1t",/' >> "$OUT" &
  node "$here/ann-bench.mjs" --base "$BASE" --query "$QUERY" --gt "$GT" --k 10 --m 16 --ef-construction 200 --ef-search $EFS --json | tail -1 | sed 's/^{/{"run":"hnswlib-1t",/' >> "$OUT" &
  wait
  "$IMGRET" ann-bench --base "$BASE" --query "$QUERY" --gt "$GT" --k 10 --metric l2 --m 16 --ef-construction 200 --ef-search ${EFS2T:-10} --threads 2 --json | tail -1 | sed 's/^{/{"run":"ours-2t",/' >> "$OUT"
  echo "round $r done $(date -u +%H:%M:%S)" >&2
done
