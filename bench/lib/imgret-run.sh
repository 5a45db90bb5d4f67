# Shared set-up of the bench scripts that drive imgret over exported image folders (bench/transfer, bench/unseen).
# Source it after setting `threads`: it sets `root` (the repository), `out` (OUT, or a temporary folder removed on
# exit), `data_args` (--data DATA when DATA is set), pins OMP/OpenBLAS threads, builds the CLI in Release and defines
# `imgret` (the built CLI) and `last_json` (the last JSON line of a command's output).
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ -n "${OUT:-}" ]]; then
    out=$OUT
    mkdir -p "$out"
else
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
data_args=()
if [[ -n "${DATA:-}" ]]; then
    data_args=(--data "$DATA")
fi
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=1

dotnet build -c Release "$root/src/ImageRetrieval.Cli" -warnaserror >/dev/null
imgret() { dotnet "$root/src/ImageRetrieval.Cli/bin/Release/net10.0/imgret.dll" "$@"; }
last_json() { grep '^{' | tail -n 1; }
