#!/usr/bin/python3
"""PyTorch twin of bnlab's twin runs: `twin.py DIR` repeats every run of DIR/protocol.json.

`bnlab claims twin-run --out DIR` wrote DIR/protocol.json (every run: model as torch.nn
constructors, lr, momentum, batch, steps, evaluation schedule, seed, divergence rule; the data
split and normalization), DIR/runs/<run>/init.safetensors (initial weights under
torch.nn.Sequential's state_dict names) and DIR/runs/<run>/order.bin (int64 little-endian: the
training-set index of every sample of every step). This script trains each run from exactly
those weights, on exactly those batches, with plain torch.optim.SGD, evaluates in eval mode on
the same schedule, applies the same divergence rule, and writes DIR/pytorch.json in the format
of DIR/bnlab.json. `bnlab claims twin-report DIR` compares the two.

Only torch, numpy and the standard library: the IDX format is parsed here, safetensors by
tests/fixtures/safetensors_io.py.
Run it with Debian's python3-torch (/usr/bin/python3).
"""
import ast
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np


def protocol_threads():
    """The thread count of DIR/protocol.json (argv[1]), or None when there is none to read."""
    try:
        with open(f"{sys.argv[1]}/protocol.json") as f:
            return int(json.load(f)["threads"])
    except (IndexError, OSError, ValueError, KeyError):
        return None


# OpenMP and Debian's OpenBLAS read their thread counts when they load: torch.set_num_threads alone
# leaves idle OpenMP threads spinning (3-4x slower steps on a busy 2-core machine). Set them first.
if protocol_threads() is not None:
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(protocol_threads())

import torch  # noqa: E402 (after the thread settings)
import torch.nn.functional as F  # noqa: E402

# The project's hand-written safetensors reader (8-byte little-endian header length, JSON
# header, raw little-endian data), shared with the parity fixture scripts.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures"))
import safetensors_io  # noqa: E402

EVAL_BATCH = 500  # bnlab evaluates in batches of 500 (train/evaluate.h)
LAYERS = {"Flatten", "Linear", "ReLU", "BatchNorm1d", "LayerNorm", "GroupNorm"}


def read_idx(path):
    """An IDX file (optionally gzip-compressed) as a numpy uint8 array of its shape."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read_split(files):
    """(images (N,1,H,W) uint8, labels (N,) int64) from a split's IDX files."""
    arrays = [read_idx(f) for f in files]
    images = next(a for a in arrays if a.ndim == 3)
    labels = next(a for a in arrays if a.ndim == 1)
    return images[:, None, :, :], labels.astype(np.int64)


def normalize(pixels, mean, std):
    """bnlab's loader: float32(pixel) * float32(1/(255 std)) + float32(-mean/std) (data/loader.h)."""
    scale = np.float32(1.0 / (255.0 * std))
    offset = np.float32(-mean / std)
    return torch.from_numpy(pixels.astype(np.float32) * scale + offset)


def load_data(spec):
    """Training subset, validation tail and test images, normalized as bnlab does (one channel)."""
    train_images, train_labels = read_split(spec["train_files"])
    test_images, test_labels = read_split(spec["test_files"])
    if len(train_labels) != spec["full_train_size"]:
        sys.exit(f"training split has {len(train_labels)} images, protocol.json says {spec['full_train_size']}")
    mean, std = spec["mean"][0], spec["std"][0]

    def cut(images, labels, part):
        first, count = spec[part]["first"], spec[part]["count"]
        return normalize(images[first:first + count], mean, std), torch.from_numpy(labels[first:first + count])

    return {"train": cut(train_images, train_labels, "train"),
            "validation": cut(train_images, train_labels, "validation"),
            "test": cut(test_images, test_labels, "test")}


def make_layer(text):
    """One torch.nn layer from bnlab's description of it, e.g. "Linear(784, 100, bias=False)"."""
    call = ast.parse(text, mode="eval").body
    if isinstance(call, ast.Name):
        call = ast.Call(func=call, args=[], keywords=[])
    name = call.func.id
    if name not in LAYERS:
        sys.exit(f"protocol.json: unexpected layer {text!r}")
    args = [ast.literal_eval(a) for a in call.args]
    kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    return getattr(torch.nn, name)(*args, **kwargs)


def evaluate(model, images, labels):
    """(mean cross-entropy, accuracy) in eval mode, in batches as bnlab evaluates."""
    model.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for first in range(0, len(labels), EVAL_BATCH):
            logits = model(images[first:first + EVAL_BATCH])
            y = labels[first:first + EVAL_BATCH]
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(dim=1) == y).sum().item()
    model.train()
    return loss_sum / len(labels), correct / len(labels)


def train(run, data, folder):
    model = torch.nn.Sequential(*[make_layer(text) for text in run["layers"]])
    model.load_state_dict(safetensors_io.load(f"{folder}/{run['init']}"), strict=True)
    model.train()
    order = torch.from_numpy(np.fromfile(f"{folder}/{run['order']}", dtype="<i8").astype(np.int64))
    batch, steps = run["batch"], run["steps"]
    if len(order) != batch * steps:
        sys.exit(f"{run['order']}: {len(order)} indices, expected {batch} x {steps}")
    optimizer = torch.optim.SGD(model.parameters(), lr=run["lr"], momentum=run["momentum"])
    train_images, train_labels = data["train"]
    rule = run["divergence"]
    out = {"rows": [], "losses": [], "validation_accuracy": None, "test_accuracy": None, "diverged": False,
           "divergence": "", "steps": 0}
    start = time.perf_counter()
    for step in range(1, steps + 1):
        index = order[(step - 1) * batch:step * batch]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(train_images[index]), train_labels[index])
        value = loss.item()
        if not math.isfinite(value):  # bnlab's Trainer stops here, before the update
            out["diverged"], out["divergence"] = True, f"non-finite loss at step {step}"
            break
        loss.backward()
        optimizer.step()
        out["losses"].append(value)
        out["steps"] = step
        losses = out["losses"]
        # sweep.h's DivergenceRule: from after_steps on, the mean of the last `window` losses above step 1's
        if rule and not out["diverged"] and step >= rule["after_steps"]:
            recent = losses[-rule["window"]:]
            if sum(recent) / len(recent) > losses[0]:
                out["diverged"] = True
                out["divergence"] = f"loss above its initial {losses[0]:.3f} from step {step} on"
        if step % run["eval_every"] == 0 or step == steps:
            validation_loss, accuracy = evaluate(model, *data["validation"])
            out["rows"].append({"step": step, "validation_loss": validation_loss, "validation_accuracy": accuracy})
            out["validation_accuracy"] = accuracy
    if out["divergence"].startswith("non-finite"):
        out["validation_accuracy"] = None
    else:
        out["test_accuracy"] = evaluate(model, *data["test"])[1]
    out["wall_seconds"] = time.perf_counter() - start
    return out


def finite_or_null(value):
    """`value` with every NaN or infinity replaced by None (JSON null, as bnlab.json writes them)."""
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_null(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: twin.py DIR   (DIR: written by bnlab claims twin-run)")
    folder = sys.argv[1]
    with open(f"{folder}/protocol.json") as f:
        protocol = json.load(f)
    torch.set_num_threads(protocol["threads"])
    start = time.perf_counter()
    data = load_data(protocol["data"])
    results = {"framework": "pytorch", "version": torch.__version__, "threads": protocol["threads"],
               "command": " ".join(["/usr/bin/python3"] + sys.argv), "claim_seconds": {}, "runs": {}}
    for run in protocol["runs"]:
        r = train(run, data, folder)
        results["runs"][run["name"]] = r
        claim = run["claim"]
        results["claim_seconds"][claim] = results["claim_seconds"].get(claim, 0.0) + r["wall_seconds"]
        accuracy = "n/a" if r["validation_accuracy"] is None else f"{100 * r['validation_accuracy']:.2f}%"
        print(f"  {run['name']}: step-1 loss {r['losses'][0] if r['losses'] else float('nan'):.6f}, validation "
              f"{accuracy}{', diverged: ' + r['divergence'] if r['diverged'] else ''} ({r['wall_seconds']:.1f}s)",
              flush=True)
    results["wall_seconds"] = time.perf_counter() - start
    with open(f"{folder}/pytorch.json.tmp", "w") as f:
        json.dump(finite_or_null(results), f, indent=1, allow_nan=False)
    os.replace(f"{folder}/pytorch.json.tmp", f"{folder}/pytorch.json")


if __name__ == "__main__":
    main()
