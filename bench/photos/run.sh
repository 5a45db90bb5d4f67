#!/usr/bin/env bash
# Indexing throughput on real-size photographs, side by side in one run, same files: imgret bench-embed with the
# imagenet-resnet18 model (ours, batched, and ML.NET's own LoadImages -> ResizeImages -> ExtractPixels -> ApplyOnnxModel
# chain with the same model) against the seed's PyTorch stack (bench/photos/pytorch_embed.py: PIL, Resize 256,
# CenterCrop 224, Normalize, torchvision ResNet-18, batch 64, 2 threads), ROUNDS rounds alternating A, B, C; medians.
#
#   bench/photos/make_photos.py /tmp/photos-bench/jpeg 330      # the photographs (see the script for how they are made)
#   ROUNDS=3 OUT=/tmp/photos-bench/results bench/photos/run.sh /tmp/photos-bench/jpeg
#
# Settings (environment): ROUNDS=3, DECODE_THREADS=2, INTRA_OP_THREADS=2 (ours: ONNX Runtime and decode workers),
# MLNET_LIMIT=40 (ML.NET's chain is measured on the first 40 files per round: its rate is images/s either way),
# TORCH_WORKERS=2 (DataLoader decode processes; 0, 1 and 2 were tried, 2 was fastest), TORCH_THREADS=2.
# Needs: a Release build of imgret (dotnet build -c Release src/ImageRetrieval.Cli), Debian python3-torch,
# python3-torchvision, python3-pil, libopenblas0-pthread.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
images="${1:?usage: run.sh IMAGE_DIR}"
rounds="${ROUNDS:-3}"; out="${OUT:-/tmp/photos-bench/results}"; mkdir -p "$out"
imgret="$repo/src/ImageRetrieval.Cli/bin/Release/net10.0/imgret"
export OPENBLAS_NUM_THREADS=1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p') x $(nproc), $(free -g | awk '/Mem:/ {print $2}') GB; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/machine.txt"
for round in $(seq 1 "$rounds"); do
  "$imgret" bench-embed --model imagenet-resnet18 --images "$images" --runs 1 --mlnet-limit "${MLNET_LIMIT:-40}" \
      --decode-threads "${DECODE_THREADS:-2}" --intra-op-threads "${INTRA_OP_THREADS:-2}" --batch-size 64 --json | tail -1 > "$out/ours-$round.json"
  /usr/bin/python3 "$repo/bench/photos/pytorch_embed.py" "$images" --threads "${TORCH_THREADS:-2}" --workers "${TORCH_WORKERS:-2}" --runs 1 > "$out/torch-$round.json"
  /usr/bin/python3 "$repo/bench/photos/pytorch_embed.py" "$images" --threads "${TORCH_THREADS:-2}" --workers "${TORCH_WORKERS:-2}" --runs 1 --draft > "$out/torch-draft-$round.json"
  echo "round $round done; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
load = lambda name: [json.load(open(f"{out}/{name}-{r}.json")) for r in range(1, rounds + 1)]
ours, torch, draft = load("ours"), load("torch"), load("torch-draft")
med = lambda xs: statistics.median(xs)
result = {
    "images": ours[0]["images"], "rounds": rounds,
    "ours_images_per_second": med([o["batched_images_per_second"] for o in ours]),
    "mlnet_chain_images_per_second": med([o["mlnet_images_per_second"] for o in ours]),
    "pytorch_images_per_second": med([t["images_per_second"] for t in torch]),
    "pytorch_draft_images_per_second": med([t["images_per_second"] for t in draft]),
    "ours_vs_pytorch": med([o["batched_images_per_second"] / t["images_per_second"] for o, t in zip(ours, torch)]),
    "ours_vs_pytorch_draft": med([o["batched_images_per_second"] / t["images_per_second"] for o, t in zip(ours, draft)]),
    "ours_vs_mlnet_chain": med([o["speedup_vs_mlnet"] for o in ours]),
    "compute_only_images_per_second": med([o["compute_only_images_per_second"] for o in ours]),
    "decode_only_images_per_second": med([o["decode_only_images_per_second"] for o in ours]),
    "per_round": [{"ours": o["batched_images_per_second"], "mlnet": o["mlnet_images_per_second"], "pytorch": t["images_per_second"], "pytorch_draft": d["images_per_second"]}
                  for o, t, d in zip(ours, torch, draft)],
}
json.dump(result, open(f"{out}/summary.json", "w"))
print(json.dumps(result))
PY
