#!/usr/bin/env bash
# Runs this project's loop in TorchSharp (imgret train) and its PyTorch mirror (classic_reference.py, this
# project's variant of the recipe: per-image augmentation in Python inside the timed loop) with the same
# settings, one after the other, and prints both JSON lines and the TorchSharp/PyTorch ratios.
# For the comparison against the recipe as written, and the vectorised batch-all, use side_by_side.sh.
#
#   bench/pytorch/compare.sh [EPOCHS] [LIMIT] [VALIDATION_LIMIT] [THREADS]
#   MINER=random bench/pytorch/compare.sh ...   # the classic recipe proper: whole-dataset random triplets,
#                                               # 64 triplets (192 images) per batch, margin 1.0, constant lr
#
# Needs Debian's python3-torch (use /usr/bin/python3) and libopenblas0-pthread.
set -euo pipefail
epochs=${1:-2}
limit=${2:-60000}
validation=${3:-10000}
threads=${4:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
miner=${MINER:-batch-all}
if [[ $miner == random ]]; then
    common=(--epochs "$epochs" --limit "$limit" --validation-limit "$validation" --dim 64 -p 8 -k 8 --lr 1e-3 --lr-step 0 --margin 1.0 --shift 2 --threads "$threads")
    schedule=(--lr-schedule step)
else
    common=(--epochs "$epochs" --limit "$limit" --validation-limit "$validation" --dim 64 -p 10 -k 25 --lr 1e-3 --lr-step 8 --lr-decay 0.1 --margin 0.2 --shift 2 --threads "$threads")
    schedule=(--lr-schedule step)
fi

dotnet build -c Release "$root/src/ImageRetrieval.Cli" -warnaserror >/dev/null
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=$threads
torchsharp=$(dotnet "$root/src/ImageRetrieval.Cli/bin/Release/net10.0/imgret.dll" train --arch classic --miner "$miner" \
    --eval-every 0 --checkpoint "$out/classic.ckpt" --json "${schedule[@]}" "${common[@]}" | tail -n 1)
pytorch=$(/usr/bin/python3 "$root/bench/pytorch/classic_reference.py" --miner "$miner" "${common[@]}" | tail -n 1)
echo "torchsharp: $torchsharp"
echo "pytorch:    $pytorch"
/usr/bin/python3 - "$torchsharp" "$pytorch" <<'PY'
import json, sys
t, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"TorchSharp/PyTorch training throughput (median epoch, images/s): {t['images_per_second']:.0f} / {p['images_per_second']:.0f} = {t['images_per_second'] / p['images_per_second']:.2f}")
print(f"TorchSharp/PyTorch images per CPU-second (median epoch; robust to other load on the machine): {t['images_per_cpu_second']:.0f} / {p['images_per_cpu_second']:.0f} = {t['images_per_cpu_second'] / p['images_per_cpu_second']:.2f}")
print(f"MAP@R: TorchSharp {t['map_at_r']:.4f}, PyTorch {p['map_at_r']:.4f} (ratio {t['map_at_r'] / p['map_at_r']:.3f}); P@1 {t['p_at_1']:.4f} vs {p['precision_at_1']:.4f}")
PY
