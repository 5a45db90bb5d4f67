#!/usr/bin/python3
"""Makes the photo benchmark set: N real-size JPEG photographs (8-12 megapixels) from the photographs that Debian's
plasma-workspace-wallpapers package ships (2560x1600 JPEGs), so that anyone can rebuild the same kind of files.

Each output: one of the eleven source photographs, a random crop of 55-100 % of its area at 4:3 or 3:2, a random
horizontal flip, scaled (Lanczos) to one of five camera sizes between 8.0 and 12.0 megapixels, brightness / colour
jittered by up to 8 %, Gaussian sensor-like noise (sigma 2.5 levels; without it the upscaled pictures compress far
better than camera files and decode faster than real photos would), saved as baseline JPEG, quality 90-95, 4:2:0
chroma subsampling, like a camera. One in six is a portrait shot stored sideways with an EXIF orientation tag
(6 or 8), as phones write them. Deterministic for a given seed.

Usage: make_photos.py OUT_DIR [COUNT=330] [SEED=16]
Licence of the sources: plasma-workspace-wallpapers is GPL/LGPL/CC-BY-SA per wallpaper (see
/usr/share/doc/plasma-workspace-wallpapers/copyright); the generated files are for local benchmarking, not committed.
"""
import os
import random
import sys

import numpy as np
from PIL import Image, ImageEnhance

SOURCES = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
           "OneStandsOut", "Path", "summer_1am"]
SIZES = [(4000, 3000), (3872, 2592), (3648, 2736), (3456, 2592), (3456, 2304)]  # 12.0, 10.0, 10.0, 9.0, 8.0 MP


def main():
    out = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 330
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 16)
    os.makedirs(out, exist_ok=True)
    photos = {name: Image.open(f"/usr/share/wallpapers/{name}/contents/images/2560x1600.jpg").convert("RGB") for name in SOURCES}
    for i in range(count):
        name = SOURCES[i % len(SOURCES)]
        src = photos[name]
        width, height = rng.choice(SIZES)
        aspect = width / height
        area = rng.uniform(0.55, 1.0) * src.width * src.height
        cw = min(src.width, int((area * aspect) ** 0.5))
        ch = min(src.height, int(cw / aspect))
        cw = int(ch * aspect)
        x, y = rng.randint(0, src.width - cw), rng.randint(0, src.height - ch)
        image = src.crop((x, y, x + cw, y + ch))
        if rng.random() < 0.5:
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        image = image.resize((width, height), Image.LANCZOS)
        image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.92, 1.08))
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.92, 1.08))
        pixels = np.asarray(image, dtype=np.float32)
        noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0.0, 2.5, pixels.shape).astype(np.float32)
        image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
        exif = Image.Exif()
        if i % 6 == 5:
            orientation = rng.choice([6, 8])
            # Stored sideways: shown upright after turning by the tag (6: 90 degrees clockwise, 8: counter-clockwise).
            image = image.transpose(Image.ROTATE_90 if orientation == 6 else Image.ROTATE_270)
            exif[0x0112] = orientation
        image.save(os.path.join(out, f"{i:04d}-{name}.jpg"), quality=rng.randint(90, 95), subsampling=2, exif=exif.tobytes())
        print(f"{i + 1}/{count}", end="\r", flush=True)
    print()


if __name__ == "__main__":
    main()
