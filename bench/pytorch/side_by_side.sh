#!/usr/bin/env bash
# Issue 19: TorchSharp (imgret train) against PyTorch, side by side in one run: the sides alternate within
# each round (the order rotates from round to round), same thread settings, OMP_NUM_THREADS and
# OPENBLAS_NUM_THREADS set explicitly for both; prints every run and the medians' ratios, per wall-clock second
# and per CPU-second of the process (the steadier of the two when other jobs share the cores).
#
#   bench/pytorch/side_by_side.sh classic [ROUNDS] [EPOCHS] [LIMIT]
#       the goal command of issue 19 (imgret train --arch classic --miner random --batch 64 ..., default
#       shift-flip augmentation), the same with --augment none (like with like), and classic_recipe.py (the
#       recipe as written: Dataset + DataLoader, 3 forward passes, nn.TripletMarginLoss, no augmentation);
#       one epoch of all 60,000 training images each (LIMIT trains every side on the first LIMIT images only, for
#       shorter rounds on a loaded machine); compared on triplets per second of training.
#   bench/pytorch/side_by_side.sh batch-all [ROUNDS] [EPOCHS] [LIMIT]
#       imgret train's default recipe (classic network, batch-all, 10 x 25, margin 0.2, Adam 2e-3 cosine) with
#       --augment none, against batch_all_recipe.py (the same recipe in PyTorch, vectorised: one distance matrix
#       per batch, no augmentation); compared on images per second of training.
#
# Environment: THREADS (default 2); WAIT_POLICY (default PASSIVE: OMP_WAIT_POLICY for every side, which imgret
# would otherwise set for itself and PyTorch would not; "unset" leaves it unset); OUT (directory for the JSON
# lines; default a new temporary directory); IMGRET (an imgret.dll to run instead of building
# src/ImageRetrieval.Cli); BEFORE (another imgret.dll, e.g. an older commit's build, run as a further side).
# Needs Debian's python3-torch (run with /usr/bin/python3) and libopenblas0-pthread.
set -euo pipefail
mode=${1:?usage: side_by_side.sh classic|batch-all [ROUNDS] [EPOCHS] [LIMIT]}
rounds=${2:-3}
epochs=${3:-1}
limit=${4:-60000}
threads=${THREADS:-2}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-$(mktemp -d)}
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -z ${IMGRET:-} ]]; then
    dotnet build -c Release "$root/src/ImageRetrieval.Cli" -warnaserror >/dev/null
    IMGRET=$root/src/ImageRetrieval.Cli/bin/Release/net10.0/imgret.dll
fi
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1
if [[ ${WAIT_POLICY:-PASSIVE} == unset ]]; then unset OMP_WAIT_POLICY; else export OMP_WAIT_POLICY=${WAIT_POLICY:-PASSIVE}; fi

run() {  # run NAME: one run of one side, its JSON line appended to $out/NAME.jsonl
    local name=$1 line dll=$IMGRET
    if [[ $name == before-* ]]; then dll=$BEFORE; name=${name#before-}; fi
    case $name in
        torchsharp)
            line=$(dotnet "$dll" train --dataset fashion-mnist --arch classic --miner random --embedding-dim 64 --margin 1.0 \
                --batch 64 --lr 0.001 --epochs "$epochs" --limit "$limit" --threads "$threads" --seed 1 --out "$work/m.onnx" --json \
                --checkpoint "$work/m.ckpt" | tail -n 1) ;;
        torchsharp-no-augment)
            line=$(dotnet "$dll" train --dataset fashion-mnist --arch classic --miner random --embedding-dim 64 --margin 1.0 \
                --batch 64 --lr 0.001 --epochs "$epochs" --limit "$limit" --threads "$threads" --seed 1 --out "$work/m.onnx" --json \
                --checkpoint "$work/m.ckpt" --augment none | tail -n 1) ;;
        pytorch)
            line=$(/usr/bin/python3 "$root/bench/pytorch/classic_recipe.py" --epochs "$epochs" --limit "$limit" --threads "$threads" --seed 1 | tail -n 1) ;;
        torchsharp-batch-all)
            line=$(dotnet "$dll" train --dataset fashion-mnist --epochs "$epochs" --limit "$limit" --augment none --threads "$threads" \
                --seed 1 --eval-every 0 --json --checkpoint "$work/b.ckpt" | tail -n 1) ;;
        pytorch-batch-all)
            line=$(/usr/bin/python3 "$root/bench/pytorch/batch_all_recipe.py" --epochs "$epochs" --limit "$limit" --threads "$threads" \
                --seed 1 | tail -n 1) ;;
    esac
    rm -f "$work"/*.ckpt "$work"/*.onnx
    [[ $dll == "$IMGRET" ]] || name=before-$name
    echo "$line" >> "$out/$name.jsonl"
    echo "$(date -u +%H:%M:%S) $name: $line"
}

if [[ $mode == classic ]]; then
    sides=(torchsharp torchsharp-no-augment pytorch ${BEFORE:+before-torchsharp before-torchsharp-no-augment})
else
    sides=(torchsharp-batch-all pytorch-batch-all ${BEFORE:+before-torchsharp-batch-all})
fi
echo "mode $mode, OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, $rounds round(s), $threads thread(s), $(nproc --all) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg); results in $out"
for ((round = 0; round < rounds; round++)); do
    for ((i = 0; i < ${#sides[@]}; i++)); do
        run "${sides[(i + round) % ${#sides[@]}]}"
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

/usr/bin/python3 - "$mode" "$out" <<'PY'
import json, os, statistics, sys
mode, out = sys.argv[1], sys.argv[2]
def load(name):
    return [json.loads(line) for line in open(f"{out}/{name}.jsonl")]
def sides(name):
    return [(name, load(name))] + ([("before: " + name, load("before-" + name))] if os.path.exists(f"{out}/before-{name}.jsonl") else [])
def med(rows, key):
    return statistics.median(r[key] for r in rows)
if mode == "classic":
    torch_ = load("pytorch")
    t = med(torch_, "triplets_per_second")
    for label, rows in sides("torchsharp") + sides("torchsharp-no-augment"):
        o = med(rows, "triplets_per_second")
        oc, tc = med(rows, "images_per_cpu_second") / 3, med(torch_, "images_per_cpu_second") / 3
        print(f"TorchSharp {label}: {o:.0f} triplets/s vs PyTorch as written {t:.0f} = {o / t:.2f}x; "
              f"per CPU-second {oc:.0f} vs {tc:.0f} = {oc / tc:.2f}x "
              f"(runs: {[round(r['triplets_per_second']) for r in rows]} vs {[round(r['triplets_per_second']) for r in torch_]}); "
              f"P@1 {med(rows, 'p_at_1'):.4f} vs {med(torch_, 'p_at_1'):.4f}, MAP@R {med(rows, 'map_at_r'):.4f} vs {med(torch_, 'map_at_r'):.4f}")
else:
    torch_ = load("pytorch-batch-all")
    t = med(torch_, "images_per_second")
    for label, ours in sides("torchsharp-batch-all"):
        o = med(ours, "images_per_second")
        oc, tc = med(ours, "images_per_cpu_second"), med(torch_, "images_per_cpu_second")
        print(f"TorchSharp {label} (default recipe, --augment none): {o:.0f} images/s vs PyTorch vectorised batch-all {t:.0f} = {o / t:.2f}x; "
              f"per CPU-second {oc:.0f} vs {tc:.0f} = {oc / tc:.2f}x "
              f"(runs: {[round(r['images_per_second']) for r in ours]} vs {[round(r['images_per_second']) for r in torch_]}); "
              f"P@1 {med(ours, 'p_at_1'):.4f} vs {med(torch_, 'p_at_1'):.4f}, MAP@R {med(ours, 'map_at_r'):.4f} vs {med(torch_, 'map_at_r'):.4f}")
PY
