#!/usr/bin/env bash
# Packs the three libraries and the imgret tool into a local feed and uses them from outside the repository
# (so no Directory.Build.* or project references apply):
#   - a console app referencing only ImageRetrieval.ML embeds and searches a gallery (and its restore must not
#     bring ImageRetrieval.Datasets or ImageRetrieval.Training: the runtime package points at neither), and embeds
#     colour fixtures with the pretrained photo model (imagenet-resnet18, built from the packages into a fresh cache:
#     512-d, L2-normalised);
#   - a console app referencing ImageRetrieval.Training loads libtorch (its buildTransitive TorchSharp fix) and
#     finds the ImageNet ResNet-18 weights its package dependency put in the NuGet cache;
#   - the imgret tool, installed with `dotnet tool install`, runs the demo and a few training steps.
# Usage: build/pack-smoke/run.sh MODEL.onnx GALLERY_DIR QUERY_DIR
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
model="$(realpath "$1")"; gallery="$(realpath "$2")"; queries="$(realpath "$3")"
work="$(mktemp -d)"
feed="$work/feed"; mkdir -p "$feed"
# A unique pre-release version per run, so a stale copy in the NuGet cache is never picked up; removed from the
# cache again at the end.
base=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props" | head -1)
version="$base-smoke.$(date +%s)"
packages=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
trap 'rm -rf "$work" "$packages"/imageretrieval.*/"$version"' EXIT

for project in ImageRetrieval.ML ImageRetrieval.Datasets ImageRetrieval.Training ImageRetrieval.AspNetCore ImageRetrieval.Cli; do
  dotnet pack "$repo/src/$project/$project.csproj" -c Release -o "$feed" -nologo -v q -p:Version="$version"
done
ls -la "$feed"

# The scratch apps also need the packages' dependencies: use the user's default sources as well.
default_sources=$(dotnet nuget list source --format short 2>/dev/null | awk '$1 ~ /^E/ {print $2}')
sources=(--source "$feed"); for s in $default_sources; do sources+=(--source "$s"); done

make_app() { # name package
  local dir="$work/$1"; mkdir -p "$dir"
  cat > "$dir/$1.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
  <ItemGroup><PackageReference Include="$2" Version="$version" /></ItemGroup>
</Project>
XML
  dotnet restore "$dir" "${sources[@]}" -nologo -v q
}

make_app SearchConsumer ImageRetrieval.ML
if grep -q '"ImageRetrieval.Datasets\|"ImageRetrieval.Training' "$work/SearchConsumer/obj/project.assets.json"; then
  echo "FAIL: ImageRetrieval.ML depends on ImageRetrieval.Datasets or ImageRetrieval.Training"; exit 1
fi
cp "$repo/build/pack-smoke/Program.cs.txt" "$work/SearchConsumer/Program.cs"
# Colour images from the repository's fixtures for the pretrained photo model, built from the packages into a fresh cache.
photos=("$repo"/tests/fixtures/images/{orientation-upright.png,progressive.jpg,lossless.webp,palette.png})
IMAGERETRIEVAL_MODEL_CACHE="$work/model-cache" dotnet run --project "$work/SearchConsumer" --no-restore -- "$model" "$gallery" "${photos[@]}"

# The package README's quick start, exactly as written there (the first csharp block of src/ImageRetrieval.ML/PACKAGE.md).
make_app QuickStartFromReadme ImageRetrieval.ML
awk '/^```csharp$/{on=1; next} /^```$/{if(on) exit} on' "$repo/src/ImageRetrieval.ML/PACKAGE.md" > "$work/QuickStartFromReadme/Program.cs"
query_image=$(find "$queries" -name '*.png' | sort | head -1)
(cd "$work" && dotnet run --project "$work/QuickStartFromReadme" --no-restore -- "$model" "$gallery" "$query_image") | tee "$work/readme.txt"
grep -q '^Indexed [1-9]' "$work/readme.txt" && [ -f "$work/gallery.index/CURRENT" ] \
  || { echo "FAIL: the README quick start of ImageRetrieval.ML did not index, search and save"; exit 1; }
echo "PASS: the README quick start runs against the packed ImageRetrieval.ML"

# The package metadata users see: README, icon, project and repository URLs, symbols.
nupkg="$feed/ImageRetrieval.ML.$version.nupkg"
nuspec=$(/usr/bin/python3 -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("ImageRetrieval.ML.nuspec").decode())' "$nupkg")
for field in '<readme>PACKAGE.md</readme>' '<icon>icon.png</icon>' '<projectUrl>' '<repository type="git"'; do
  grep -q "$field" <<<"$nuspec" || { echo "FAIL: ImageRetrieval.ML.nuspec lacks $field"; exit 1; }
done
/usr/bin/python3 -c 'import sys, zipfile; sys.exit("icon.png" not in zipfile.ZipFile(sys.argv[1]).namelist())' "$nupkg" \
  || { echo "FAIL: no icon.png in the package"; exit 1; }
[ -f "$feed/ImageRetrieval.ML.$version.snupkg" ] || { echo "FAIL: no symbol package"; exit 1; }
echo "PASS: ImageRetrieval.ML carries its README, icon, URLs and a symbol package"

make_app TrainingConsumer ImageRetrieval.Training
cat > "$work/TrainingConsumer/Program.cs" <<'CS'
var x = TorchSharp.torch.ones(2, 2);
string weights = ImageRetrieval.Training.Networks.ResNet18Weights.RequirePackagedModel();
Console.WriteLine($"PASS: packed ImageRetrieval.Training loads libtorch (sum = {x.sum().item<float>()}) and finds {weights}");
CS
dotnet run --project "$work/TrainingConsumer" --no-restore

dotnet tool install ImageRetrieval.Cli --version "$version" --tool-path "$work/tools" --add-source "$feed" -v q
imgret="$work/tools/imgret"
"$imgret" demo --model "$model" --gallery "$gallery" --queries "$queries" --index-out "$work/demo-index" --html "$work/results.html" --json | tail -1 > "$work/demo.json"
grep -q '"p_at_1":1' "$work/demo.json" || { echo "FAIL: imgret demo from the installed tool: $(cat "$work/demo.json")"; exit 1; }
(cd "$work" && "$imgret" train --limit 200 --validation-limit 50 --epochs 1 -p 10 -k 5 --threads 1 --json | tail -1 > "$work/train.json")
grep -q '"epochs":1' "$work/train.json" || { echo "FAIL: imgret train from the installed tool: $(cat "$work/train.json")"; exit 1; }
"$imgret" serve --help > /dev/null || { echo "FAIL: imgret serve --help from the installed tool"; exit 1; }
echo "PASS: the installed imgret tool runs the demo ($(cat "$work/demo.json")) and trains (libtorch loads)"
