#!/usr/bin/env bash
# Transfer to RGB Fashion-MNIST (issue 8): how well does ImageNet ResNet-18 retrieve Fashion-MNIST
# rendered as RGB, without and with a short fine-tune, against raw pixels and against the small
# network trained from scratch on the same images for the same time?
#
#   bench/transfer/run.sh
#   SIZE=64 GALLERY_LIMIT=500 QUERY_LIMIT=100 FINETUNE_SECONDS=20 THREADS=1 bench/transfer/run.sh   # smoke run
#
# Data. `imgret export-images` writes the first GALLERY_LIMIT training images and the first QUERY_LIMIT
# test images as grey 28x28 PNGs, one folder per class. The training folder is the gallery of every
# row and the training set of (c) and (d); the test folder holds the queries. With --channels 3
# --size SIZE the folder loader (ImageDecoder, IsoCrop) upsamples each PNG bilinearly to SIZE x SIZE
# and replicates the grey plane to R, G and B.
#
# Rows (every metric: queries against the gallery by exact search, P@1 and MAP@R as imgret eval reports):
#   (a) raw-pixels   imgret eval --raw-pixels --channels 1 --size 28: the original pixels, Euclidean.
#   (b) imagenet     imgret eval --pretrained-features --size SIZE: the 512 pooled features of ML.NET's
#                    ImageNet ResNet-18 (L2-normalised), no training at all.
#   (c) resnet18-ft  imgret train --arch resnet18 --pretrained --unfreeze-stages UNFREEZE_STAGES (default 1:
#                    the head and layer4 train, conv1..layer3 stay frozen, batch norm in eval mode),
#                    Adam FINETUNE_LR (default 1e-4), --time-budget FINETUNE_SECONDS; then imgret eval.
#                    Freezing all but the last stage keeps the ImageNet features the short budget cannot
#                    re-learn, skips most of the backward pass (faster steps) and keeps BN statistics
#                    from drifting on grey images.
#   (d) small        imgret train --arch SMALL_ARCH (default convnet) on the same folders at its native
#                    SMALL_CHANNELS x SMALL_SIZE (default 1 x 28), 64-d, Adam 2e-3, same time budget; then eval.
# (c) and (d) use the trainer's defaults otherwise (64-d, P x K = 10 x 25, batch-all, margin 0.2,
# flip + 2-px shift), no learning-rate steps (--lr-step 0: epochs are short) and no evaluation during
# training (--eval-every 0), so the whole budget trains. Training images/s is the train command's
# images_per_second (training time only).
#
# Environment (default):
#   SIZE (64)  GALLERY_LIMIT (10000)  QUERY_LIMIT (2000)  FINETUNE_SECONDS (600)  THREADS (2)
#   UNFREEZE_STAGES (1)  FINETUNE_LR (1e-4)  SMALL_ARCH (convnet)  SMALL_SIZE (28)  SMALL_CHANNELS (1)
#   DATA (Fashion-MNIST folder; default: $IMAGERETRIEVAL_DATA, then /usr/share/datasets/fashion-mnist)
#   OUT (keep images, checkpoints and JSON here; default: a temporary folder removed at exit)
#
# Output: one JSON line per row (row, method, p_at_1, map_at_r, recall_at_1/5/10, query_count,
# gallery_count, train_images_per_second, train_seconds), then the same as a Markdown table.
set -euo pipefail
size=${SIZE:-64}
gallery_limit=${GALLERY_LIMIT:-10000}
query_limit=${QUERY_LIMIT:-2000}
budget=${FINETUNE_SECONDS:-600}
threads=${THREADS:-2}
unfreeze=${UNFREEZE_STAGES:-1}
finetune_lr=${FINETUNE_LR:-1e-4}
small_arch=${SMALL_ARCH:-convnet}
small_size=${SMALL_SIZE:-28}
small_channels=${SMALL_CHANNELS:-1}
# shellcheck source=../lib/imgret-run.sh
source "$(dirname "$0")/../lib/imgret-run.sh"

echo "transfer: size $size, gallery $gallery_limit, queries $query_limit, budget ${budget}s, threads $threads, out $out" >&2
rm -rf "$out/gallery" "$out/queries"
imgret export-images "${data_args[@]}" --split train --count "$gallery_limit" --out "$out/gallery" >&2
imgret export-images "${data_args[@]}" --split test --count "$query_limit" --out "$out/queries" >&2
folders=(--gallery "$out/gallery" --queries "$out/queries" --threads "$threads" --json)
common=(--dataset folder --train-dir "$out/gallery" --epochs 1000000 --lr-step 0 --eval-every 0 --time-budget "$budget" --threads "$threads" --json)

echo "(a) raw pixels" >&2
imgret eval --raw-pixels --channels 1 --size 28 "${folders[@]}" | last_json > "$out/a-eval.json"
echo "(b) ImageNet ResNet-18 features, no training" >&2
imgret eval --pretrained-features --size "$size" "${folders[@]}" | last_json > "$out/b-eval.json"
echo "(c) ResNet-18 fine-tune, ${budget}s" >&2
imgret train --arch resnet18 --pretrained --unfreeze-stages "$unfreeze" --lr "$finetune_lr" --channels 3 --size "$size" \
    --checkpoint "$out/c.ckpt" "${common[@]}" | last_json > "$out/c-train.json"
imgret eval --checkpoint "$out/c.ckpt" "${folders[@]}" | last_json > "$out/c-eval.json"
echo "(d) $small_arch from scratch, ${budget}s" >&2
# Pinned to the recipe of the published row (64-d, Adam 2e-3 cosine, no instance term): a folder run now defaults
# to the folder recipe of issue 15 (128-d, 5e-4, instance term).
imgret train --arch "$small_arch" --channels "$small_channels" --size "$small_size" --embedding-dim 64 --lr 2e-3 --instance-weight 0 \
    --checkpoint "$out/d.ckpt" "${common[@]}" | last_json > "$out/d-train.json"
imgret eval --checkpoint "$out/d.ckpt" "${folders[@]}" | last_json > "$out/d-eval.json"

/usr/bin/python3 - "$out" "$size" "$budget" "$unfreeze" "$small_arch" "$small_channels" "$small_size" <<'PY'
import json, os, sys
out, size, budget, unfreeze, small, small_c, small_s = sys.argv[1:]
rows = [
    ("a", f"raw pixels (1x28x28, Euclidean)", None),
    ("b", f"ImageNet ResNet-18 features, no training ({size}x{size} RGB, 512-d)", None),
    ("c", f"ResNet-18 ImageNet, fine-tuned {budget}s (head + last {unfreeze} stage(s), {size}x{size} RGB)", "c"),
    ("d", f"{small} from scratch, {budget}s ({small_c}x{small_s}x{small_s})", "d"),
]
lines = []
for row, method, trained in rows:
    e = json.load(open(os.path.join(out, f"{row}-eval.json")))
    t = json.load(open(os.path.join(out, f"{trained}-train.json"))) if trained else {}
    line = {
        "row": row, "method": method,
        "p_at_1": e["p_at_1"], "map_at_r": e["map_at_r"],
        "recall_at_1": e["recall_at_1"], "recall_at_5": e["recall_at_5"], "recall_at_10": e["recall_at_10"],
        "query_count": e["query_count"], "gallery_count": e["gallery_count"],
        "train_images_per_second": t.get("images_per_second"), "train_seconds": t.get("train_seconds"),
    }
    lines.append(line)
    print(json.dumps(line))
print()
print("| row | method | P@1 | MAP@R | training images/s |")
print("|---|---|---:|---:|---:|")
for l in lines:
    ips = "" if l["train_images_per_second"] is None else f"{l['train_images_per_second']:.1f}"
    print(f"| ({l['row']}) | {l['method']} | {l['p_at_1']:.4f} | {l['map_at_r']:.4f} | {ips} |")
print(f"\n{lines[0]['query_count']} queries against {lines[0]['gallery_count']} gallery images.")
PY
