#!/usr/bin/env python3
"""Threads on a busy machine: bnlab's default thread count against --threads 1, with a
CPU-bound neighbour process on one core.

Issue 15's target: with a competing CPU-bound process, the default is never more than 1.2x
slower than --threads 1. The neighbour is a plain Python busy loop (one core); each setting
trains mnist-cnn (bn, batch 128) for a fixed number of steps through the bnlab CLI, several
times, alternating, and the median wall times are compared. Run it on an otherwise quiet
machine: other load would count as more neighbours.

    /usr/bin/python3 bench/busy_machine.py --build build
"""
import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time


def burn():
    while True:
        pass


def train_seconds(bnlab, out, threads, steps):
    cmd = [bnlab, "train", "--model", "mnist-cnn", "--norm", "bn", "--limit", str(128 * steps), "--test-limit", "100",
           "--steps", str(steps), "--eval-every", str(steps), "--out", out, "--force"]
    if threads:
        cmd += ["--threads", str(threads)]
    start = time.perf_counter()
    text = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    seconds = time.perf_counter() - start
    used = next((line.split(", ")[-1] for line in text.splitlines() if line.startswith("training ")), "?")
    return seconds, used


def measure(bnlab, steps=60, repeats=3):
    """{'default': (median s, threads line), '1': ...} with one busy neighbour running."""
    neighbour = multiprocessing.Process(target=burn, daemon=True)
    neighbour.start()
    time.sleep(0.5)  # let the scheduler see it
    times = {"default": [], "1": []}
    used = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(repeats):
                for setting in ("default", "1"):
                    s, u = train_seconds(bnlab, os.path.join(tmp, "run"), None if setting == "default" else 1, steps)
                    times[setting].append(s)
                    used[setting] = u
    finally:
        neighbour.terminate()
        neighbour.join()
    return {k: (statistics.median(v), used[k]) for k, v in times.items()}


def report_lines(result, repeats=3):
    default, one = result["default"], result["1"]
    ratio = default[0] / one[0]
    return ratio, [
        "## Threads on a busy machine",
        "",
        "mnist-cnn bn, batch 128, through `bnlab train`, with a CPU-bound Python loop running on one core "
        f"(bench/busy_machine.py; median of {repeats} run{'s' if repeats > 1 else ''} each, alternating).",
        "",
        "| threads | wall time | threads bnlab used |",
        "|---|---|---|",
        f"| default (no --threads) | {default[0]:.2f} s | {default[1]} |",
        f"| --threads 1 | {one[0]:.2f} s | {one[1]} |",
        "",
        f"Default / --threads 1: {ratio:.2f}x (target: <= 1.2x).",
        "",
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--steps", type=int, default=60)
    args = p.parse_args()
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: load average {load:.2f} before the neighbour starts: other load counts as neighbours too",
              file=sys.stderr)
    ratio, lines = report_lines(measure(os.path.join(args.build, "bnlab"), args.steps))
    print("\n".join(lines))
    return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    sys.exit(main())
