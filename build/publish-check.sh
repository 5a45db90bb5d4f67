#!/usr/bin/env bash
# Publishes samples/QuickStart framework-dependent for each OS the runtime package supports and checks that ONNX
# Runtime's and SkiaSharp's native libraries for that OS are in the output (docs/platforms.md). It proves the packages
# resolve and lay out the right natives for Windows, macOS and Linux; only linux-x64 can run here.
# UseAppHost=false: no per-OS launcher pack to download (an app published with its launcher gets the same natives).
# Usage: build/publish-check.sh [RID...]   (default: win-x64 osx-arm64 linux-x64 linux-arm64)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rids=("$@"); [ ${#rids[@]} -gt 0 ] || rids=(win-x64 osx-arm64 linux-x64 linux-arm64)
status=0
for rid in "${rids[@]}"; do
  case "$rid" in
    win-*)   expected=(onnxruntime.dll libSkiaSharp.dll) ;;
    osx-*)   expected=(libonnxruntime.dylib libSkiaSharp.dylib) ;;
    linux-*) expected=(libonnxruntime.so libSkiaSharp.so) ;;
    *) echo "unknown runtime identifier $rid"; exit 2 ;;
  esac
  out="$work/$rid"
  dotnet publish "$repo/samples/QuickStart/QuickStart.csproj" -c Release -r "$rid" --self-contained false \
    -p:UseAppHost=false -o "$out" -nologo -v q > "$work/$rid.log" 2>&1 || { cat "$work/$rid.log"; echo "FAIL: publish -r $rid"; status=1; continue; }
  for native in "${expected[@]}"; do
    if [ -f "$out/$native" ]; then
      # And it is built for that OS and processor (ELF e_machine, PE machine, Mach-O CPU type or a universal binary).
      arch=$(/usr/bin/python3 - "$out/$native" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read(4096)
if b[:4] == b"\x7fELF":
    print({0x3E: "linux-x64", 0xB7: "linux-arm64"}.get(struct.unpack_from("<H", b, 18)[0], "elf-other"))
elif b[:2] == b"MZ":
    pe = struct.unpack_from("<I", b, 0x3C)[0]
    print({0x8664: "win-x64", 0xAA64: "win-arm64"}.get(struct.unpack_from("<H", b, pe + 4)[0], "pe-other"))
elif b[:4] == b"\xca\xfe\xba\xbe":
    print("osx-universal")
elif b[:4] == b"\xcf\xfa\xed\xfe":
    print({0x0100000C: "osx-arm64", 0x01000007: "osx-x64"}.get(struct.unpack_from("<I", b, 4)[0], "macho-other"))
else:
    print("unknown")
PY
)
      if [ "$arch" = "$rid" ] || { [ "$arch" = osx-universal ] && [[ "$rid" == osx-* ]]; }; then
        echo "PASS: $rid has $native ($arch, $(stat -c %s "$out/$native") bytes)"
      else
        echo "FAIL: $rid has $native, but it is built for $arch"; status=1
      fi
    else
      echo "FAIL: $rid lacks $native; natives found: $(cd "$out" && ls ./*.so ./*.dylib ./*.dll 2>/dev/null | grep -iv 'Microsoft\.\|System\.\|ImageRetrieval\|QuickStart\|SkiaSharp.dll\|Google\|Newtonsoft' | tr '\n' ' ')"
      status=1
    fi
  done
done
exit $status
