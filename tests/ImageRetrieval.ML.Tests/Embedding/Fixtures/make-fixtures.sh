#!/bin/sh
# Regenerates the small image fixtures of the embedding bad-input tests with ImageMagick 6 (`convert`).
# Each is a 40x30 gradient; the point is the encoding, not the content.
set -eu
cd "$(dirname "$0")"
base="-size 40x30 gradient:red-blue"
convert $base -depth 16 -define png:bit-depth=16 -define png:color-type=2 rgb16.png        # 16-bit RGB PNG
convert $base -colors 16 -define png:color-type=3 palette.png                               # 8-bit palette PNG
convert $base -alpha set -channel A -evaluate set 50% +channel -define png:color-type=6 alpha.png  # RGBA PNG (16-bit), half transparent
convert $base -colorspace Gray -quality 90 grey.jpg                                         # 1-channel JPEG
convert $base -colorspace CMYK -quality 90 cmyk.jpg                                         # 4-channel CMYK JPEG
identify -format '%f %m %wx%h %[colorspace] depth=%z type=%[type]\n' rgb16.png palette.png alpha.png grey.jpg cmyk.jpg
