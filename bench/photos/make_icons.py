#!/usr/bin/python3
"""A real colour image collection with categories, from Debian icon-theme packages: the same freedesktop icon name
(e.g. "accessories-calculator", "utilities-terminal", "printer") drawn by many different icon themes. Each icon
name is a class; a theme is a style. The task: given a theme's icon, find the same concept drawn by other themes.

Queries: the icons of Papirus, breeze and Adwaita (papirus-icon-theme, breeze-icon-theme, adwaita-icon-theme).
Gallery: the icons of oxygen, elementary-xfce, Numix-Circle, Moka, mate, Faenza, gnome and nuoveXT2
(oxygen-icon-theme, elementary-xfce-icon-theme, numix-icon-theme-circle, moka-icon-theme, mate-icon-theme,
faenza-icon-theme, gnome-icon-theme, lxde-icon-theme). A name is kept when at least one query theme and at least four
gallery themes have it (full-colour icons only: no -symbolic, no 8-24 px sizes), among the application, device and
category icons (place, mime-type, action and status icons are mostly one folder, sheet or arrow shape with a small
emblem, so their names are near-duplicates of each other).

Each icon is rendered to a 128 x 128 PNG with its transparency kept (the decoder composites it onto white): SVGs by
rsvg-convert (librsvg2-bin), PNGs (the largest size the theme has) by Pillow, centred on a transparent square.
Writes OUT/queries/<name>/<theme>.png and OUT/gallery/<name>/<theme>.png, and OUT/README.txt. Deterministic.

Usage: make_icons.py OUT
Licences: the themes are GPL, LGPL or CC-BY-SA (see /usr/share/doc/<package>/copyright); the rendered files are for
local evaluation, not committed.
"""
import os
import subprocess
import sys
from collections import defaultdict

from PIL import Image

QUERY_THEMES = ["Papirus", "breeze", "Adwaita"]
GALLERY_THEMES = ["oxygen", "elementary-xfce", "Numix-Circle", "Moka", "mate", "Faenza", "gnome", "nuoveXT2"]
# Objects, not variations of one shape: application, device and category icons. Place, mime-type, action and status
# icons are mostly the same folder, sheet or arrow with a small emblem, which makes their names near-duplicates.
CONTEXTS = ("apps", "devices", "categories")
SIZE = 128


def icons_of(theme):
    """icon name -> (size rank, path) of the best full-colour file of that name in the theme."""
    best = {}
    root = f"/usr/share/icons/{theme}"
    for directory, _, files in os.walk(root, followlinks=True):
        parts = directory[len(root):].strip("/").split("/")
        if any("symbolic" in p for p in parts) or not any(c in parts for c in CONTEXTS):
            continue
        size = 10_000 if "scalable" in parts else max([int(p.split("x")[0]) for p in parts if p.split("x")[0].isdigit()] + [int(p) for p in parts if p.isdigit()] + [0])
        if 0 < size < 32:
            continue
        for f in files:
            name, ext = os.path.splitext(f)
            if ext not in (".svg", ".png") or name.endswith("-symbolic"):
                continue
            path = os.path.join(directory, f)
            if not os.path.exists(path):
                continue
            rank = (size, ext == ".svg")
            if name not in best or rank > best[name][0]:
                best[name] = (rank, path)
    return best


def render(source, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if source.endswith(".svg"):
        subprocess.run(["rsvg-convert", "-w", str(SIZE), "-h", str(SIZE), "--keep-aspect-ratio", "-o", target, source], check=True,
                       stderr=subprocess.DEVNULL)
    image = Image.open(target if source.endswith(".svg") else source).convert("RGBA")
    image.thumbnail((SIZE, SIZE), Image.LANCZOS)
    canvas = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    canvas.paste(image, ((SIZE - image.width) // 2, (SIZE - image.height) // 2))
    canvas.save(target)


def main():
    out = sys.argv[1]
    themes = {t: icons_of(t) for t in QUERY_THEMES + GALLERY_THEMES}
    names = sorted(n for n in set().union(*[set(v) for v in themes.values()])
                   if sum(n in themes[t] for t in QUERY_THEMES) >= 1 and sum(n in themes[t] for t in GALLERY_THEMES) >= 4)
    counts = defaultdict(int)
    for name in names:
        for role, group in (("queries", QUERY_THEMES), ("gallery", GALLERY_THEMES)):
            for theme in group:
                if name in themes[theme]:
                    try:
                        render(themes[theme][name][1], os.path.join(out, role, name, f"{theme}.png"))
                        counts[role] += 1
                    except (subprocess.CalledProcessError, OSError) as e:
                        print(f"skipped {themes[theme][name][1]}: {e}", file=sys.stderr)
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write(f"{len(names)} icon names; {counts['queries']} query icons ({', '.join(QUERY_THEMES)}); "
                f"{counts['gallery']} gallery icons ({', '.join(GALLERY_THEMES)}); {SIZE}x{SIZE} RGBA PNG. Made by bench/photos/make_icons.py.\n")
    print(open(os.path.join(out, "README.txt")).read(), end="")


if __name__ == "__main__":
    main()
