"""bnlab vs PyTorch on this machine: runs bench_sgemm, bench_train and torch_ref.py, writes results.md.

Run:  /usr/bin/python3 bench/compare.py --build build --out bench/results.md
(`make bench-compare` does this.) bnlab and PyTorch alternate model by model, so that a noisy
neighbour slows both rather than one. Each number is the best of several timing windows.
"""
import argparse
import datetime
import math
import os
import re
import subprocess
import sys
import time

import busy_machine

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = ["mlp", "mnist-cnn", "cifar-cnn"]
NORMS = ["none", "bn", "gn"]
BATCHES = [64, 128]
TORCH = "/usr/bin/python3"  # Debian's python3-torch; another python3 on PATH may lack it


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    sys.stderr.write(out)
    return out


def parse_rows(text):
    """{(kind, model, norm, batch, threads): [values...]} from bench_train / torch_ref output."""
    rows = {}
    for line in text.splitlines():
        f = line.split()
        if not f or f[0] not in ("train", "share", "infer", "latency", "rss"):
            continue
        key = (f[0], f[1], f[2], int(f[3]), int(f[4]))
        rows[key] = dict(kv.split("=") for kv in f[5:]) if f[0] == "share" else [float(v) for v in f[5:]]
    return rows


def machine(openblas, torch_version):
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = open("/proc/cpuinfo").read()
    simd = "AVX-512" if "avx512f" in flags else ("AVX2" if "avx2" in flags else "SSE")
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores visible ({simd} capable; bnlab's portable build uses no -march)",
        f"- OpenBLAS: {openblas} (OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})",
        f"- PyTorch: {torch_version} (Debian python3-torch)",
        f"- Date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
    ]


def geomean(values):
    values = [v for v in values if v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def fmt_rate(v):
    return f"{v:,.0f}" if v >= 10 else f"{v:.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--out", default=os.path.join(HERE, "results.md"))
    p.add_argument("--threads", default="2,1")
    p.add_argument("--windows", default="5", help="timing windows per row at 2+ threads")
    p.add_argument("--windows-1", default="3", help="timing windows per row at 1 thread (slower rows)")
    p.add_argument("--window-seconds", default="0.3")
    args = p.parse_args()
    started = time.time()
    load_at_start = os.getloadavg()[0]
    thread_counts = [int(t) for t in args.threads.split(",")]

    sgemm_text = run([os.path.join(args.build, "bench_sgemm"), "--threads", args.threads, "--windows", "3",
                      "--window-seconds", "0.2"])
    sgemm = parse_sgemm(sgemm_text)

    bn_rows, torch_rows = {}, {}
    openblas = torch_version = "?"
    for threads in thread_counts:
        timing = ["--windows", args.windows if threads > 1 else args.windows_1, "--window-seconds", args.window_seconds]
        for model in MODELS:
            common = ["--models", model, "--norms", ",".join(NORMS), "--batches", ",".join(map(str, BATCHES)),
                      "--threads", str(threads)] + timing
            out = run([os.path.join(args.build, "bench_train")] + common)
            openblas = re.search(r"OpenBLAS (\S+ \S+)", out).group(1).replace("OpenBLAS ", "")
            bn_rows.update(parse_rows(out))
            out = run([TORCH, os.path.join(HERE, "torch_ref.py")] + common)
            torch_version = re.search(r"PyTorch (\S+);", out).group(1)
            torch_rows.update(parse_rows(out))
    sgemm["cores_end"] = parse_sgemm(run([os.path.join(args.build, "bench_sgemm"), "--cores-only"]))["cores"]
    rss_args = ["--rss", "--models", "cifar-cnn", "--norms", "bn", "--batches", "128", "--threads", "2"]
    bn_rows.update(parse_rows(run([os.path.join(args.build, "bench_train")] + rss_args)))
    torch_rows.update(parse_rows(run([TORCH, os.path.join(HERE, "torch_ref.py")] + rss_args)))

    busy_ratio, busy_lines = busy_machine.report_lines(busy_machine.measure(os.path.join(args.build, "bnlab")))

    minutes = (time.time() - started) / 60
    text = report(bn_rows, torch_rows, sgemm, machine(openblas, torch_version), thread_counts, minutes,
                  load_at_start)
    text += "\n" + "\n".join(busy_lines) + \
        f"\nCheck: default threads with a busy neighbour <= 1.2x --threads 1: {'met' if busy_ratio <= 1.2 else 'MISSED'}\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(f"wrote {args.out} ({minutes:.1f} min)", file=sys.stderr)


def parse_sgemm(text):
    """peak GFLOP/s per thread count, shape rows, training MFLOP per image per model."""
    result = {"peak": {}, "shapes": [], "mflop": {}, "cores": None, "fma": {}, "sgemm": None}
    for line in text.splitlines():
        f = line.split()
        if not f:
            continue
        if line.startswith("# bench_sgemm; sgemm: "):
            result["sgemm"] = line.split("sgemm: ", 1)[1].split(";")[0]
        elif f[0] == "fma" and f[3] != "n/a":
            result["fma"][(f[1], int(f[2]))] = float(f[3])
        elif f[0] == "cores":
            result["cores"] = (int(f[1]), float(f[2]))
        elif f[0] == "peak":
            result["peak"][int(f[1])] = float(f[2])
        elif f[0] == "gemm":
            result["shapes"].append(f[1:])
        elif f[0] == "flops":
            result["mflop"][f[1]] = float(f[2])
    return result


def report(bn, th, sgemm, machine_lines, thread_counts, minutes, load_at_start):
    L = ["# bnlab vs PyTorch: training and inference speed on this machine", "",
         "Written by `make bench-compare` (bench/compare.py); rerun it to refresh. Images/s are the best of",
         "several timing windows after a warm-up; ratio = bnlab / PyTorch (> 1: bnlab is faster);",
         "spread = median window / best window - 1 (bnlab's stability).", ""]
    L += machine_lines
    L.append(f"- Whole comparison took {minutes:.1f} min; load average {load_at_start:.2f} at start, "
             f"{os.getloadavg()[0]:.2f} at the end (the machine is shared: see spread)")
    if sgemm["cores"] and sgemm.get("cores_end"):
        n = sgemm["cores"][0]
        L.append(f"- Free cores: a compute loop ran {sgemm['cores'][1]:.2f}x (at the start) and "
                 f"{sgemm['cores_end'][1]:.2f}x (before the RSS runs) faster on {n} threads than on 1 "
                 f"({n:.2f} = all {n} cores free; lower means other processes held a core and every "
                 f"{n}-thread number below, bnlab's and PyTorch's, is low too)")
    L.append("")
    checks = []  # (target, measured, met)

    def ratio_table(kind, title, batches, unit_rate=True):
        L.append(f"## {title}")
        L.append("")
        L.append("| model | norm | batch | threads | bnlab img/s | PyTorch img/s | ratio | bnlab spread |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|")
        ratios = {}
        for threads in thread_counts:
            for model in MODELS:
                for norm in NORMS:
                    for batch in batches:
                        key = (kind, model, norm, batch, threads)
                        if key not in bn or key not in th:
                            continue
                        b, t = bn[key][1], th[key][1]
                        ratios[key] = b / t
                        L.append(f"| {model} | {norm} | {batch} | {threads} | {fmt_rate(b)} | {fmt_rate(t)} | "
                                 f"**{b / t:.2f}x** | {100 * bn[key][2]:.0f}% |")
        L.append("")
        return ratios

    train = ratio_table("train", "Training step (forward, loss, backward, SGD momentum 0.9)", BATCHES)
    infer = ratio_table("infer", "Inference, batch 256 (eval mode, no tape)", [256])
    latency = ratio_table("latency", "Inference latency, batch 1 (images/s = 1000 / ms)", [1])

    def cnn(ratios, threads=2):
        return {k: v for k, v in ratios.items() if k[1] in ("mnist-cnn", "cifar-cnn") and k[4] == threads}

    for name, ratios in (("training", train), ("inference (batch 256)", infer)):
        r = cnn(ratios)
        if r:
            worst = min(r, key=r.get)
            checks.append((f"{name}: every mnist-cnn/cifar-cnn row >= 1.5x PyTorch (2 threads)",
                           f"min {r[worst]:.2f}x ({worst[1]} {worst[2]} batch {worst[3]})", r[worst] >= 1.5))
            g = geomean(r.values())
            checks.append((f"{name}: geometric mean over those rows >= 2x", f"{g:.2f}x", g >= 2.0))
    spreads = [v[2] for k, v in bn.items() if k[0] == "train" and k[4] == 2]
    if spreads:
        checks.append(("bnlab spread over timing windows <= 10% (training, 2 threads)",
                       f"max {100 * max(spreads):.0f}%, median {100 * sorted(spreads)[len(spreads) // 2]:.0f}%",
                       max(spreads) <= 0.10))

    peak2 = sgemm["peak"].get(2)
    key = ("train", "cifar-cnn", "bn", 128, 2)
    if peak2 and key in bn and "cifar-cnn" in sgemm["mflop"]:
        bound = peak2 * 1e3 / sgemm["mflop"]["cifar-cnn"]
        frac = bn[key][1] / bound
        checks.append(("cifar-cnn bn batch 128 >= 50% of the sgemm bound",
                       f"{bn[key][1]:.0f} img/s = {100 * frac:.0f}% of {bound:.0f} img/s "
                       f"({sgemm['mflop']['cifar-cnn']:.0f} MFLOP/image at {peak2:.0f} GFLOP/s)", frac >= 0.5))

    bn_shares, ratios_bn_none = [], []
    for model in ("mnist-cnn", "cifar-cnn"):
        for batch in BATCHES:
            s = bn.get(("share", model, "bn", batch, 2))
            if s:
                bn_shares.append((float(s.get("bn", 0)), f"{model} b{batch}"))
            a, b = bn.get(("train", model, "bn", batch, 2)), bn.get(("train", model, "none", batch, 2))
            if a and b:
                ratios_bn_none.append((a[0] / b[0], f"{model} b{batch}"))
    if bn_shares:
        worst = max(bn_shares)
        checks.append(("BatchNorm forward + backward <= 10% of a bn training step",
                       f"max {worst[0]:.1f}% ({worst[1]})", worst[0] <= 10))
    if ratios_bn_none:
        worst = max(ratios_bn_none)
        checks.append(("bn step <= 1.15x none step", f"max {worst[0]:.2f}x ({worst[1]})", worst[0] <= 1.15))

    rss_key = ("rss", "cifar-cnn", "bn", 128, 2)
    if rss_key in bn and rss_key in th:
        checks.append(("peak RSS of a cifar-cnn batch-128 training run <= PyTorch's",
                       f"{bn[rss_key][0]:.0f} MiB vs {th[rss_key][0]:.0f} MiB", bn[rss_key][0] <= th[rss_key][0]))
    fresh = [v[3] for k, v in bn.items() if k[0] == "train"]
    if fresh:
        checks.append(("no allocation in the steady-state training step (MemoryPool fresh buffers per step)",
                       f"max {max(fresh):.0f} over {len(fresh)} rows", max(fresh) == 0))
    if 1 in thread_counts and 2 in thread_counts:
        ups = []
        for norm in NORMS:
            for batch in BATCHES:
                a, b = bn.get(("train", "cifar-cnn", norm, batch, 2)), bn.get(("train", "cifar-cnn", norm, batch, 1))
                if a and b:
                    ups.append((a[1] / b[1], f"{norm} b{batch}"))
        if ups:
            worst = min(ups)
            checks.append(("2-thread speed-up >= 1.7x on cifar-cnn (training)",
                           f"min {worst[0]:.2f}x ({worst[1]}), mean {sum(u for u, _ in ups) / len(ups):.2f}x",
                           worst[0] >= 1.7))

    L.insert(L.index("## Training step (forward, loss, backward, SGD momentum 0.9)"), "")
    head = ["## Targets (issue 7)", "", "| target | measured | |", "|---|---|---|"]
    head += [f"| {t} | {m} | {'met' if ok else '**missed**'} |" for t, m, ok in checks]
    head.append("")
    at = L.index("## Training step (forward, loss, backward, SGD momentum 0.9)")
    L[at:at] = head

    L += ["## Where a bnlab training step goes (built-in profiler, % of the step, 2 threads)", "",
          "conv = conv2d, bn = batch_norm, gn = group_norm, pool = max_pool2d, act = relu/sigmoid, "
          "linear = linear, loss = cross_entropy, optim = zero_grad + SGD step, data = waiting for the "
          "DataLoader, other = tape bookkeeping and freeing.", ""]
    kinds = ["conv", "bn", "gn", "pool", "act", "linear", "loss", "optim", "data", "other"]
    L.append("| model | norm | batch | ms/step | " + " | ".join(kinds) + " |")
    L.append("|---|---|---:|---:|" + "---:|" * len(kinds))
    for model in MODELS:
        for norm in NORMS:
            for batch in BATCHES:
                s, t = bn.get(("share", model, norm, batch, 2)), bn.get(("train", model, norm, batch, 2))
                if s and t:
                    L.append(f"| {model} | {norm} | {batch} | {t[0]:.1f} | " +
                             " | ".join(s.get(k, "") for k in kinds) + " |")
    L.append("")

    if sgemm["shapes"]:
        L += ["## sgemm at the shapes bnlab's models produce (bench_sgemm)", "",
              "Each conv2d runs three products per image (core/ops/conv.cpp): forward W (F,K) x cols (K,P), "
              "weight gradient dY (F,P) x cols^T (P,K), column gradient W^T (K,F) x dY (F,P); K = C*3*3, "
              "P = output pixels. One thread per image, so each product runs single-threaded; linear layers "
              "split their rows over the threads when the product is large enough. The fraction is of the "
              "large-square peak on the threads the product runs on.", ""]
        peaks = ", ".join(f"{t} thread{'s' if t > 1 else ''}: {g:.1f} GFLOP/s" for t, g in sorted(sgemm["peak"].items()))
        L.append(f"sgemm kernels: {sgemm['sgemm']}. Large-square sgemm peak (2048^3): {peaks}.")
        if sgemm["fma"]:
            L.append("Register-only FMA peak (the cores' arithmetic limit): " + ", ".join(
                f"{isa} {t} thread{'s' if t > 1 else ''}: {g:.1f} GFLOP/s" for (isa, t), g in sorted(sgemm["fma"].items()))
                + ".")
        L.append("")
        L.append("| model | layer | product | M | N | K | GFLOP/s | of peak |")
        L.append("|---|---|---|---:|---:|---:|---:|---:|")
        for f in sgemm["shapes"]:
            L.append(f"| {f[0]} | {f[1]} | {f[2]} | {f[3]} | {f[4]} | {f[5]} | {float(f[6]):.1f} | "
                     f"{100 * float(f[7]):.0f}% |")
        L.append("")
        L.append("Training FLOP per image (forward + both backward products, no input gradient for the first "
                 "layer): " + ", ".join(f"{m} {v:.1f} MFLOP" for m, v in sgemm["mflop"].items()) + ".")
        L.append("")
    notes = os.path.join(HERE, "results_notes.md")
    if os.path.exists(notes):
        L += [open(notes).read().rstrip()]
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
