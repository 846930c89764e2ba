#!/usr/bin/env python3
"""Data-parallel scaling: measured on this machine, estimated for clusters (issue 18).

For mnist-cnn, cifar-cnn and ResNet-20 (bn, batch 128 per node):
  1. measured here: 1 rank x 2 threads against 2 ranks x 1 thread (mpirun, --bn-sync all, the
     same global batch 128), images/s over the same steps, and whether the two loss curves agree
     (SyncBatchNorm makes 2 ranks compute the one-process step, up to float rounding);
  2. the allreduce volume per step and rank, from train.log's "data parallel" line;
  3. an estimate of the scaling efficiency on N nodes (weak scaling: 128 images per node per
     step, global batch 128 N): step time t = t_node + t_allreduce, with a ring allreduce of B
     bytes taking 2 (N-1)/N B / bandwidth + 2 (N-1) latency and no overlap with the backward pass
     (train/data_parallel.h says why), efficiency = t_node / t. t_node is this machine's measured
     1 rank x 2 threads step (2 cores per node), and that divided by 16 for a bigger node (a
     faster node spends a larger share of its step in the allreduce).

    /usr/bin/python3 bench/scaling.py --build build --data-dir ../shared/data > bench/scaling.md
"""
import argparse
import csv
import os
import re
import subprocess
import tempfile
import time

MODELS = [("mnist-cnn", "fashion-mnist"), ("cifar-cnn", "cifar10"), ("resnet20", "cifar10")]
NETWORKS = [("10 Gb/s Ethernet", 1.25e9, 50e-6), ("100 Gb/s InfiniBand", 12.5e9, 2e-6)]
NODES = [8, 64]
# This machine (measured), and a node 16x faster (a 32-core node at this machine's per-core speed: assumed).
NODE_SPEEDS = [("this machine (measured)", 1.0), ("16x faster (assumed)", 16.0)]
BATCH = 128


def train(bnlab, args, model, dataset, data_dir, out, threads, ranks, steps):
    cmd = [bnlab, "train", "--model", model, "--norm", "bn", "--dataset", dataset, "--batch", str(BATCH),
           "--steps", str(steps), "--eval-every", str(steps // 3), "--test-limit", "100", "--limit", str(BATCH * steps),
           "--threads", str(threads), "--bn-sync", "all", "--seed", "0", "--out", out, "--force"]
    if data_dir:
        cmd += ["--data-dir", data_dir]
    if ranks > 1:
        cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none"] + cmd
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env)
    log = open(os.path.join(out, "train.log")).read()
    with open(os.path.join(out, "metrics.csv")) as f:  # wall_seconds to the millisecond
        rows = [(int(r["step"]), float(r["train_loss"]), float(r["wall_seconds"])) for r in csv.DictReader(f)]
    traffic = re.search(r"allreduce per step and rank ([0-9.]+) MB", log)
    # images/s between the first and the last row (the first row's steps include the warm-up)
    (s0, _, t0), (s1, _, t1) = rows[0], rows[-1]
    return {"ips": (s1 - s0) * BATCH / (t1 - t0), "losses": [r[1] for r in rows],
            "mb": float(traffic.group(1)) if traffic else None}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--data-dir", default="")
    p.add_argument("--steps", type=int, default=30)
    a = p.parse_args()
    bnlab = os.path.join(a.build, "bnlab")
    start = time.time()
    load = open("/proc/loadavg").read().split()[:3]
    measured = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, dataset in MODELS:
            one = train(bnlab, a, model, dataset, a.data_dir, os.path.join(tmp, model + "-1"), 2, 1, a.steps)
            two = train(bnlab, a, model, dataset, a.data_dir, os.path.join(tmp, model + "-2"), 1, 2, a.steps)
            worst = max(abs(x - y) / max(abs(x), 1e-12) for x, y in zip(one["losses"], two["losses"]))
            measured.append((model, dataset, one, two, worst))

    print("# Data-parallel scaling: measured here, estimated for clusters\n")
    print(f"Written by `bench/scaling.py` ({time.strftime('%Y-%m-%d %H:%M')}, {time.time() - start:.0f} s, load "
          f"average {' '.join(load)} at the start: other processes on this 2-core machine slow every number below).\n")
    print(f"## Measured: 1 rank x 2 threads vs 2 ranks x 1 thread (mpirun, --bn-sync all, global batch {BATCH})\n")
    print("| model | 1 rank x 2 threads img/s | 2 ranks x 1 thread img/s | ratio | allreduce per step and rank | "
          "loss curves: largest relative difference |")
    print("|---|---:|---:|---:|---:|---:|")
    for model, _, one, two, worst in measured:
        print(f"| {model} | {one['ips']:,.0f} | {two['ips']:,.0f} | {two['ips'] / one['ips']:.2f}x | "
              f"{two['mb']:.3f} MB | {worst:.1e} |")
    print(f"\n## Estimated: weak scaling, {BATCH} images per node per step\n")
    print("Ring allreduce of the measured bytes: 2 (N-1)/N B / bandwidth + 2 (N-1) latency, not overlapped with "
          "the backward pass; node step time = this machine's 1 rank x 2 threads step. Efficiency = node step / "
          "(node step + allreduce).\n")
    header = "| model | node | node step | " + " | ".join(f"{name}, {n} nodes" for name, _, _ in NETWORKS for n in NODES) + " |"
    print(header)
    print("|---|---|---:|" + "---:|" * (len(NETWORKS) * len(NODES)))
    for model, _, one, two, _ in measured:
        for node, speedup in NODE_SPEEDS:
            t_node = BATCH / one["ips"] / speedup
            cells = []
            for _, bandwidth, latency in NETWORKS:
                for n in NODES:
                    t_ar = 2 * (n - 1) / n * two["mb"] * 1e6 / bandwidth + 2 * (n - 1) * latency
                    cells.append(f"{100 * t_node / (t_node + t_ar):.0f}% ({1e3 * t_ar:.1f} ms)")
            print(f"| {model} | {node} | {1e3 * t_node:.1f} ms | " + " | ".join(cells) + " |")
    print("\nThe allreduce time is in parentheses. The faster node's step is this machine's divided by its speed-up "
          "(assumed, not measured): the faster the node, the larger the allreduce's share. Latency dominates at 64 "
          "nodes for these small models (2 (N-1) hops of a ring); a tree or hierarchical allreduce (what MPI "
          "libraries choose for small messages) needs about 2 log2(N) hops instead.")


if __name__ == "__main__":
    main()
