#!/usr/bin/env python3
"""Writes the seed corpora fuzz/corpus/<target>/ (small valid files and near misses).

Run with /usr/bin/python3 (Pillow for the JPEG/BMP seeds). The outputs are committed; the
hostile files of tests/fixtures/hostile/ are copied in as image seeds too.
"""
import gzip
import io
import json
import os
import shutil
import struct

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTILE = os.path.join(HERE, "..", "tests", "fixtures", "hostile")


def put(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def idx(dims, values):
    return struct.pack(">I", 0x0800 | len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values)


# IDX: 3-d images and 1-d labels, raw and gzip.
images = idx([2, 3, 2], range(12))
labels = idx([2], [1, 7])
put("idx", "images", images)
put("idx", "labels", labels)
put("idx", "images.gz", gzip.compress(images, mtime=0))
put("idx", "labels.gz", gzip.compress(labels, mtime=0))

# CIFAR: one CIFAR-10 record and one CIFAR-100 record (gzip too).
put("cifar", "cifar10.bin", bytes([3]) + bytes(i % 256 for i in range(3072)))
put("cifar", "cifar100.bin", bytes([4, 42]) + bytes((7 * i) % 256 for i in range(3072)))
put("cifar", "cifar10.bin.gz", gzip.compress(bytes([9]) + bytes(3072), mtime=0))

# Images: each format bnlab takes, small, plus the hostile fixtures.
def encoded(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()

grey = Image.frombytes("L", (5, 3), bytes(range(0, 150, 10)))
rgb = Image.frombytes("RGB", (3, 2), bytes(range(0, 180, 10)))
put("image", "grey.png", encoded(grey, "PNG"))
put("image", "rgb.png", encoded(rgb, "PNG"))
put("image", "palette.png", encoded(rgb.convert("P"), "PNG"))
put("image", "rgba.png", encoded(rgb.convert("RGBA"), "PNG"))
put("image", "grey.jpg", encoded(grey, "JPEG", quality=80))
put("image", "rgb.jpg", encoded(rgb.resize((16, 16)), "JPEG", quality=70))
put("image", "progressive.jpg", encoded(rgb.resize((16, 16)), "JPEG", quality=70, progressive=True))
put("image", "rgb.bmp", encoded(rgb, "BMP"))
put("image", "grey.pgm", b"P5\n5 3\n255\n" + grey.tobytes())
put("image", "rgb.ppm", b"P6\n# comment\n3 2\n255\n" + rgb.tobytes())
for name in ["palette_out_of_range.png", "pgm_zero_height.pgm", "pgm_huge_number.pgm", "truncated_hdr_named.png"]:
    shutil.copy(os.path.join(HOSTILE, name), os.path.join(HERE, "corpus", "image", name))

# JSON: a run config and a claim summary.
put("json", "config.json", json.dumps({"model": "mlp", "norm": "bn", "mlp_width": 16, "lr": 0.1, "epochs": 1}).encode())
put("json", "summary.json", json.dumps({"verdict": "holds", "key_result": "x", "wall_seconds": 12.5, "threads": 2,
                                         "profile": "quick"}).encode())

# safetensors: a tiny bnlab model file (mlp 4-3-2, one hidden layer, no norm; a state_dict
# named as bnlab's Sequential names it: 1 = hidden linear, 3 = output linear) and a plain file.
def safetensors(tensors, metadata=None):
    header, blobs, offset = {}, b"", 0
    for name, (shape, values) in sorted(tensors.items()):
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs += data
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blobs

config = {"activation": "", "augment": False, "batch_size": 8, "bn_eps": 1e-05, "bn_momentum": 0.1,
          "clip_grad_norm": 0.0, "data_dir": "", "dataset": "fashion-mnist", "dropout": 0.0, "epochs": 1,
          "eval_every": 10, "gn_groups": 4, "init": "default", "init_scale": 1.0, "lr": 0.05,
          "mlp_hidden_layers": 1, "mlp_width": 3, "model": "mlp", "norm": "none", "seed": 0}
tiny = {"1.weight": ([3, 4], [0.1 * i for i in range(12)]), "1.bias": ([3], [0.0, 0.1, -0.1]),
        "3.weight": ([2, 3], [0.5, -0.5, 0.25, 1.0, 0.0, -1.0]), "3.bias": ([2], [0.0, 0.0])}
put("safetensors", "tiny_mlp.safetensors",
    safetensors(tiny, {"format": "pt", "bnlab.config": json.dumps(config), "bnlab.input": "1,2,2",
                       "bnlab.classes": '["a","b"]', "bnlab.mean": "[0.5]", "bnlab.std": "[0.25]"}))
put("safetensors", "plain.safetensors", safetensors({"x": ([2, 2], [1.0, 2.0, 3.0, 4.0])}))
