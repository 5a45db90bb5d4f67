#!/usr/bin/python3
"""Generates the MAT-file fixtures used by MatFileReaderTests and Oxford102FlowersTests.

Run from this folder with Debian's python3-scipy (tested with scipy 1.10.1, numpy 1.24.2):

    /usr/bin/python3 make_mat_fixtures.py

Most files are written by scipy.io.savemat, an independent Level 5 writer. Two files scipy cannot
write are built by hand with `struct` below and then read back with scipy.io.loadmat to prove they
are valid: a big-endian ('MI') file, and a MATLAB-style file whose double matrix is stored as
miUINT8 inside a zlib-compressed element (what MATLAB does for small integer values, as in the real
imagelabels.mat). Expected values are asserted by the C# tests, so keep them in sync.
"""
import struct
import zlib

import numpy as np
import scipy.io as sio

# --- scipy.io.savemat ------------------------------------------------------------------------
# A miniature Oxford 102 Flowers: 12 images, labels in 1..102, 1-based ids split 4 / 3 / 5.
labels = np.array([[1, 1, 2, 2, 3, 3, 50, 50, 102, 102, 7, 7]], dtype=np.float64)
setid = {
    "trnid": np.array([[1, 3, 5, 7]], dtype=np.float64),
    "valid": np.array([[2, 4, 9]], dtype=np.float64),
    "tstid": np.array([[6, 8, 10, 11, 12]], dtype=np.float64),
}

for compressed, suffix in ((True, "compressed"), (False, "uncompressed")):
    sio.savemat(f"imagelabels_{suffix}.mat", {"labels": labels}, do_compression=compressed)
    sio.savemat(f"setid_{suffix}.mat", setid, do_compression=compressed)

# Column vectors (12x1 instead of 1x12) and the uint8 class.
sio.savemat("labels_column.mat", {"labels": labels.reshape(-1)}, oned_as="column", do_compression=False)
sio.savemat("labels_uint8.mat", {"labels": labels.astype(np.uint8)}, do_compression=True)

# Extra variables of other kinds, a 2-D matrix, a 4-byte name (small data element) and scalars.
sio.savemat(
    "mixed.mat",
    {
        "note": "hello",  # char array: listed, values not supported
        "grid": np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5,  # 3x4, column-major on disk
        "abcd": np.array([[7]], dtype=np.uint8),  # 1-byte data and 4-char name: small data elements
        "i16": np.array([[-3, 4, 32767]], dtype=np.int16),
        "f32": np.array([[1.5, -2.25]], dtype=np.float32),
        "cells": np.array([[1.0], "x"], dtype=object),  # cell array: listed only
        "empty": np.zeros((0, 0)),
        "labels": labels,
    },
    do_compression=False,
)
sio.savemat("mixed_compressed.mat", sio.loadmat("mixed.mat"), do_compression=True)


# --- hand-made files, verified with scipy.io.loadmat ----------------------------------------
def header(endian):
    text = b"MATLAB 5.0 MAT-file, hand-made by make_mat_fixtures.py"
    text = text.ljust(116, b" ")
    subsys = b"\x00" * 8
    return text + subsys + struct.pack(endian + "H", 0x0100) + struct.pack(endian + "H", 0x4D49)


def element(endian, mtype, payload):
    pad = (-len(payload)) % 8
    return struct.pack(endian + "II", mtype, len(payload)) + payload + b"\x00" * pad


def small_element(endian, mtype, payload):
    assert len(payload) <= 4
    if endian == "<":
        tag = struct.pack("<HH", mtype, len(payload))
    else:
        tag = struct.pack(">HH", len(payload), mtype)
    return tag + payload.ljust(4, b"\x00")


def matrix(endian, name, class_code, dims, data_type, data_bytes):
    flags = element(endian, 6, struct.pack(endian + "II", class_code, 0))
    dims_el = element(endian, 5, struct.pack(endian + "i" * len(dims), *dims))
    name_b = name.encode("ascii")
    name_el = small_element(endian, 1, name_b) if len(name_b) <= 4 else element(endian, 1, name_b)
    data_el = element(endian, data_type, data_bytes)
    return element(endian, 14, flags + dims_el + name_el + data_el)


# Big-endian: labels as 1x12 double, a 2x3 int32 'm' (small name element).
be = header(">")
be += matrix(">", "labels", 6, [1, 12], 9, struct.pack(">12d", *labels.ravel()))
be += matrix(">", "m", 12, [2, 3], 5, struct.pack(">6i", 1, 2, 3, 4, 5, -6))
with open("bigendian.mat", "wb") as f:
    f.write(be)

# MATLAB-style: class double stored as miUINT8, inside miCOMPRESSED (no padding after it).
ml = header("<")
inner = matrix("<", "labels", 6, [1, 12], 2, bytes(int(v) for v in labels.ravel()))
packed = zlib.compress(inner)
ml += struct.pack("<II", 15, len(packed)) + packed
with open("matlab_style.mat", "wb") as f:
    f.write(ml)

check = sio.loadmat("bigendian.mat")
assert np.array_equal(check["labels"], labels), check["labels"]
assert np.array_equal(check["m"], np.array([[1, 3, 5], [2, 4, -6]])), check["m"]
check = sio.loadmat("matlab_style.mat")
assert np.array_equal(check["labels"], labels), check["labels"]
for name in ("imagelabels_compressed", "setid_uncompressed", "labels_column", "mixed", "mixed_compressed"):
    sio.loadmat(name + ".mat")
print("fixtures written and verified")
