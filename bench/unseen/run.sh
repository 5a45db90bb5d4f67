#!/usr/bin/env bash
# Unseen classes (issue 15): does a model trained on some classes retrieve classes it never saw better than raw pixels?
# The standard metric-learning split ("A Metric Learning Reality Check", Musgrave et al. 2020) on Fashion-MNIST as folders:
# train on classes 5-9, retrieve among classes 0-4.
#
#   bench/unseen/run.sh
#   TRAIN_ARGS="--lr 2e-4 --embedding-dim 128" bench/unseen/run.sh          # another recipe
#   BUDGET=20 THREADS=1 PER_CLASS=300 bench/unseen/run.sh                    # smoke run
#
# Data (imgret export-images --classes): the training folder holds the Fashion-MNIST *training* images of classes 5-9
# (sandal, shirt, sneaker, bag, ankle boot; 6,000 each) as 28x28 grey PNGs. The unseen gallery holds the training images
# of classes 0-4 (t-shirt/top, trouser, pullover, dress, coat), the unseen queries their *test* images (1,000 each).
# PER_CLASS caps every folder's images per class.
#
# Rows (queries against the gallery by exact search, as imgret eval reports them):
#   raw-pixels  imgret eval --raw-pixels --channels 1 --size 28: the pixels themselves, Euclidean.
#   trained     imgret train --dataset folder --train-dir TRAIN with the defaults (input size and channels inferred from
#               the folder) plus TRAIN_ARGS, --time-budget BUDGET --threads THREADS, then imgret eval of its checkpoint.
# Each row is evaluated on the unseen classes (the protocol) and, for reference, on the seen classes (their test images
# against their training images).
#
# Environment (default): BUDGET (300)  THREADS (2)  PER_CLASS (all)  TRAIN_ARGS ()  SEED (1)
#   DATA (Fashion-MNIST folder; default: $IMAGERETRIEVAL_DATA, then /usr/share/datasets/fashion-mnist)
#   OUT (keep images, checkpoints and JSON here; default: a temporary folder removed at exit)
# Output: one JSON line per row and split, then a Markdown table.
set -euo pipefail
budget=${BUDGET:-300}
threads=${THREADS:-2}
per_class=${PER_CLASS:-2147483647}
seed=${SEED:-1}
read -r -a train_args <<< "${TRAIN_ARGS:-}"
# shellcheck source=../lib/imgret-run.sh
source "$(dirname "$0")/../lib/imgret-run.sh"

echo "unseen: budget ${budget}s, threads $threads, per class $per_class, train args '${train_args[*]}', out $out" >&2
rm -rf "$out/seen-train" "$out/seen-test" "$out/unseen-gallery" "$out/unseen-queries"
imgret export-images "${data_args[@]}" --split train --classes 5-9 --per-class "$per_class" --out "$out/seen-train" >&2
imgret export-images "${data_args[@]}" --split test --classes 5-9 --per-class "$per_class" --out "$out/seen-test" >&2
imgret export-images "${data_args[@]}" --split train --classes 0-4 --per-class "$per_class" --out "$out/unseen-gallery" >&2
imgret export-images "${data_args[@]}" --split test --classes 0-4 --per-class "$per_class" --out "$out/unseen-queries" >&2
unseen=(--gallery "$out/unseen-gallery" --queries "$out/unseen-queries" --threads "$threads" --json)
seen=(--gallery "$out/seen-train" --queries "$out/seen-test" --threads "$threads" --json)

echo "raw pixels" >&2
imgret eval --raw-pixels --channels 1 --size 28 "${unseen[@]}" | last_json > "$out/raw-unseen.json"
imgret eval --raw-pixels --channels 1 --size 28 "${seen[@]}" | last_json > "$out/raw-seen.json"
echo "trained, ${budget}s" >&2
imgret train --dataset folder --train-dir "$out/seen-train" --time-budget "$budget" --threads "$threads" --seed "$seed" \
    --checkpoint "$out/trained.ckpt" --json "${train_args[@]}" | last_json > "$out/trained-train.json"
imgret eval --checkpoint "$out/trained.ckpt" "${unseen[@]}" | last_json > "$out/trained-unseen.json"
imgret eval --checkpoint "$out/trained.ckpt" "${seen[@]}" | last_json > "$out/trained-seen.json"

/usr/bin/python3 - "$out" "$budget" "$threads" "${train_args[*]}" <<'PY'
import json, os, sys
out, budget, threads, args = sys.argv[1:]
t = json.load(open(os.path.join(out, "trained-train.json")))
rows = []
for row in ("raw", "trained"):
    for split in ("unseen", "seen"):
        e = json.load(open(os.path.join(out, f"{row}-{split}.json")))
        line = {"row": row, "split": split, "p_at_1": e["p_at_1"], "map_at_r": e["map_at_r"], "recall_at_10": e["recall_at_10"],
                "query_count": e["query_count"], "gallery_count": e["gallery_count"]}
        if row == "trained":
            line.update({k: t.get(k) for k in ("epochs", "train_seconds", "images_per_second", "input_size", "input_channels",
                                               "embedding_dimension", "validation", "stopped_early", "spread", "wrong_order_fraction")})
            line["train_args"] = args
        rows.append(line)
        print(json.dumps(line))
get = {(r["row"], r["split"]): r for r in rows}
print()
print("| model | unseen P@1 | unseen MAP@R | seen P@1 | seen MAP@R |")
print("|---|---:|---:|---:|---:|")
for row, name in (("raw", "raw pixels (1x28x28, Euclidean)"),
                  ("trained", f"trained {budget} s on {threads} threads, {t['epochs']} epochs, {t['input_channels']}x{t['input_size']}x{t['input_size']}, {t['embedding_dimension']}-d {args}".rstrip())):
    u, s = get[(row, "unseen")], get[(row, "seen")]
    print(f"| {name} | {u['p_at_1']:.4f} | {u['map_at_r']:.4f} | {s['p_at_1']:.4f} | {s['map_at_r']:.4f} |")
u, r = get[("trained", "unseen")], get[("raw", "unseen")]
print(f"\nGoal (issue 15): unseen MAP@R >= raw + 0.10 ({r['map_at_r'] + 0.10:.4f}): {'met' if u['map_at_r'] >= r['map_at_r'] + 0.10 else 'NOT met'}; "
      f"unseen P@1 >= raw ({r['p_at_1']:.4f}): {'met' if u['p_at_1'] >= r['p_at_1'] else 'NOT met'}.")
print(f"{u['query_count']} unseen queries against {u['gallery_count']} unseen gallery images.")
PY
