#!/usr/bin/env bash
# Packs ImageRetrieval.ML and ImageRetrieval.Training into a local feed, installs them into a
# scratch console app outside the repository (so no Directory.Build.* or project references apply),
# runs an embedding + search with the packed library, and checks the answer. The Training package
# is also installed into a second scratch app to prove its buildTransitive TorchSharp fix makes
# libtorch load on this machine.
# Usage: build/pack-smoke/run.sh MODEL.onnx GALLERY_DIR
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
model="$(realpath "$1")"; gallery="$(realpath "$2")"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
feed="$work/feed"; mkdir -p "$feed"
# A unique pre-release version per run, so a stale copy in the NuGet cache is never picked up.
base=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props" | head -1)
version="$base-smoke.$(date +%s)"

dotnet pack "$repo/src/ImageRetrieval.ML/ImageRetrieval.ML.csproj" -c Release -o "$feed" -nologo -v q -p:Version="$version"
dotnet pack "$repo/src/ImageRetrieval.Training/ImageRetrieval.Training.csproj" -c Release -o "$feed" -nologo -v q -p:Version="$version"
ls "$feed"

# The scratch apps also need the packages' dependencies: use the user's default sources as well.
default_sources=$(dotnet nuget list source --format short 2>/dev/null | awk '$1 ~ /^E/ {print $2}')

make_app() { # name package
  local dir="$work/$1"; mkdir -p "$dir"
  cat > "$dir/$1.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
  <ItemGroup><PackageReference Include="$2" Version="$version" /></ItemGroup>
</Project>
XML
  local sources=(--source "$feed"); for s in $default_sources; do sources+=(--source "$s"); done
  dotnet restore "$dir" "${sources[@]}" -nologo -v q
}

make_app SearchConsumer ImageRetrieval.ML
cp "$repo/build/pack-smoke/Program.cs.txt" "$work/SearchConsumer/Program.cs"
dotnet run --project "$work/SearchConsumer" --no-restore -- "$model" "$gallery"

make_app TrainingConsumer ImageRetrieval.Training
cat > "$work/TrainingConsumer/Program.cs" <<'CS'
var x = TorchSharp.torch.ones(2, 2);
Console.WriteLine($"PASS: packed ImageRetrieval.Training loads libtorch (sum = {x.sum().item<float>()})");
CS
dotnet run --project "$work/TrainingConsumer" --no-restore
