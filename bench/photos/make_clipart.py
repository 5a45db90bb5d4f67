#!/usr/bin/python3
"""A real colour image collection with categories, from Debian's openclipart-png (the Open Clip Art Library 0.18 as
PNG, in category folders such as animals/birds, food/fruit, transportation/roadsigns, signs_and_symbols/weather).
A class is the folder a file is in (its path under /usr/share/openclipart/png); the task: given a drawing, find other
drawings of its category, drawn by other artists.

Exactly how:
- Candidates: every *.png under /usr/share/openclipart/png, except the folder 'unsorted' (not a category) and files
  whose declared size is over 64 megapixels (not decoded; counted in README.txt).
- Rendering: Pillow opens the file, converts it to RGBA (palette and grey files with their transparency), scales it
  with Lanczos so its longer side is SIZE = 128 (up or down, aspect kept), centres it on a SIZE x SIZE square and
  composites it onto white; saved as an RGB PNG (no alpha left for the decoder to treat).
- Duplicates: two keys per file, the SHA-256 of the file's bytes and the SHA-256 of the rendered pixels. A key seen in
  more than one class drops every file carrying it, from every class (the same drawing filed under two categories
  must not count as a match, nor as a miss); within one class only the first file (by path) of a key is kept.
- Classes: folders with at least MIN_PER_CLASS = 20 files left after that. At most MAX_PER_CLASS = 40 per class
  (a seeded sample, seed 16, of the sorted names), so shapes/stars (1,378 files) does not dominate.
- Split: per class, a seeded shuffle; the first quarter (10 of 40) are queries, the rest the gallery.

Writes OUT/queries/<class>/<file>.png and OUT/gallery/<class>/<file>.png, where <class> is the folder path with '/'
replaced by '__', and OUT/README.txt with the counts. Deterministic.

Usage: make_clipart.py OUT            (apt-get install openclipart-png python3-pil)
Licence: the Open Clip Art Library is public domain (see /usr/share/doc/openclipart-png/copyright); the rendered
files are for local evaluation, not committed.
"""
import hashlib
import io
import os
import random
import sys
from collections import defaultdict

from PIL import Image

ROOT = "/usr/share/openclipart/png"
EXCLUDED = ("unsorted",)
SIZE = 128
MIN_PER_CLASS = 20
MAX_PER_CLASS = 40
MAX_PIXELS = 64 * 1024 * 1024
SEED = 16

Image.MAX_IMAGE_PIXELS = None  # the size is checked below before decoding


def render(path):
    """The file drawn on a white SIZE x SIZE square (RGB), or None when it is too large to decode."""
    with Image.open(path) as image:
        if image.width * image.height > MAX_PIXELS:
            return None
        rgba = image.convert("RGBA")
    scale = SIZE / max(rgba.width, rgba.height)
    size = (max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale)))
    rgba = rgba.resize(size, Image.LANCZOS)
    square = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 255))
    square.alpha_composite(rgba, ((SIZE - size[0]) // 2, (SIZE - size[1]) // 2))
    return square.convert("RGB")


def main(out):
    files = defaultdict(list)
    for directory, _, names in os.walk(ROOT):
        category = os.path.relpath(directory, ROOT)
        if category == "." or category.split("/")[0] in EXCLUDED:
            continue
        files[category] += [os.path.join(directory, n) for n in sorted(names) if n.lower().endswith(".png")]

    rendered = {}
    keys = {}
    too_large = unreadable = 0
    for category in sorted(files):
        for path in files[category]:
            try:
                picture = render(path)
            except (OSError, ValueError):
                unreadable += 1
                continue
            if picture is None:
                too_large += 1
                continue
            with open(path, "rb") as f:
                file_key = "f" + hashlib.sha256(f.read()).hexdigest()
            pixel_key = "p" + hashlib.sha256(picture.tobytes()).hexdigest()
            rendered[path] = picture
            keys[path] = (category, file_key, pixel_key)

    classes_of = defaultdict(set)
    for category, file_key, pixel_key in keys.values():
        classes_of[file_key].add(category)
        classes_of[pixel_key].add(category)
    kept = defaultdict(list)
    seen = set()
    cross_class = within_class = 0
    for path in sorted(keys):
        category, file_key, pixel_key = keys[path]
        if len(classes_of[file_key]) > 1 or len(classes_of[pixel_key]) > 1:
            cross_class += 1
            continue
        if file_key in seen or pixel_key in seen:
            within_class += 1
            continue
        seen.update((file_key, pixel_key))
        kept[category].append(path)

    rng = random.Random(SEED)
    counts = {"queries": 0, "gallery": 0}
    classes = []
    for category in sorted(kept):
        paths = kept[category]
        if len(paths) < MIN_PER_CLASS:
            continue
        paths = sorted(rng.sample(paths, MAX_PER_CLASS)) if len(paths) > MAX_PER_CLASS else paths
        rng.shuffle(paths)
        queries = len(paths) // 4
        label = category.replace("/", "__")
        classes.append(f"{label} ({queries} + {len(paths) - queries})")
        for i, path in enumerate(paths):
            part = "queries" if i < queries else "gallery"
            folder = os.path.join(out, part, label)
            os.makedirs(folder, exist_ok=True)
            rendered[path].save(os.path.join(folder, os.path.basename(path)), optimize=False)
            counts[part] += 1

    summary = (
        f"openclipart-png from {ROOT}: {sum(len(v) for v in files.values())} candidate files in {len(files)} folders "
        f"(excluding {', '.join(EXCLUDED)}); {too_large} over {MAX_PIXELS // (1024 * 1024)} megapixels and {unreadable} "
        f"unreadable left out; {cross_class} files dropped as identical (bytes or rendered pixels) to a file of another "
        f"class, {within_class} as duplicates within their class; {len(classes)} classes with at least {MIN_PER_CLASS} "
        f"files (at most {MAX_PER_CLASS} each, seed {SEED}): {counts['queries']} queries, {counts['gallery']} gallery "
        f"images, rendered at {SIZE} x {SIZE} on white.\nclasses (queries + gallery):\n" + "\n".join(classes) + "\n")
    with open(os.path.join(out, "README.txt"), "w") as f:
        f.write(summary)
    print(summary)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
