"""PyTorch reference timings for bench/bench_train: the same models, the same rows.

Run with Debian's python3-torch:  /usr/bin/python3 bench/torch_ref.py [options]
(`make bench-compare` runs it next to bench_train and writes bench/results.md.)

The models are bnlab's model zoo (models/zoo.h) rebuilt in torch.nn, layer for layer:
convs 3x3 padding 1, pools 2x2, a transform feeding a norm has no bias, bn = BatchNorm2d/1d,
gn = GroupNorm(4, C), ln = GroupNorm(1, C) after convs and LayerNorm after linears; resnet20 is
He et al.'s CIFAR ResNet-20 with option-A shortcuts as bnlab builds it (layers/residual.h; the
same parameter count, 269,722 with a norm, 269,034 without). A training
step is zero_grad, forward, cross-entropy, backward, SGD(lr 0.01, momentum 0.9) on a batch
taken from 8 pre-made random batches (bnlab's bench also pays for its DataLoader; PyTorch's
does not). Timing: the best of several windows after a warm-up, like bench/timing.h.
Rows (whitespace-separated, as bench_train prints them):
  train   MODEL NORM BATCH THREADS  ms/step   images/s  spread
  infer   MODEL NORM 256   THREADS  ms/batch  images/s  spread
  latency MODEL NORM 1     THREADS  ms/image  images/s  spread
  rss     MODEL NORM BATCH THREADS  peak-MiB            (--rss: 20 steps, alone in the process)
"""
import argparse
import math
import time

import torch
import torch.nn as nn


def input_of(model):
    """bench_train's inputs: CIFAR-sized for cifar-cnn and resnet20, MNIST-sized otherwise."""
    return (3, 32, 32) if model in ("cifar-cnn", "resnet20") else (1, 28, 28)


def make_norm(norm, channels, spatial, gn_groups=4):
    """The module bnlab's `norm` layer becomes after a conv (spatial) or a linear; None for none."""
    if norm == "bn":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if norm == "ln":
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    if norm == "gn":
        return nn.GroupNorm(gn_groups, channels)
    return None


def conv_norm(cin, cout, norm, gn_groups, stride=1):
    """conv<cout>s<stride>-norm: a 3x3 conv, padding 1, without a bias when a norm follows."""
    layers = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=norm == "none")]
    norm_layer = make_norm(norm, cout, True, gn_groups)
    return layers + ([norm_layer] if norm_layer is not None else [])


class Residual(nn.Module):
    """bnlab's Residual (layers/residual.h): body(x) + x[:, :, ::stride, ::stride] with zero
    channels padded on both sides (extra // 2 before, the rest after): He et al.'s option A."""

    def __init__(self, body, stride, extra):
        super().__init__()
        self.body, self.stride, self.before, self.after = body, stride, extra // 2, extra - extra // 2

    def forward(self, x):
        shortcut = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.before + self.after:
            shortcut = nn.functional.pad(shortcut, (0, 0, 0, 0, self.before, self.after))
        return self.body(x) + shortcut


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def basic_block(cin, cout, stride, norm, gn_groups):
    """bnlab's basic<cout>s<stride>: res(conv-norm-relu-conv-norm)-relu (models/zoo.cpp)."""
    body = nn.Sequential(*conv_norm(cin, cout, norm, gn_groups, stride), nn.ReLU(),
                         *conv_norm(cout, cout, norm, gn_groups))
    return [Residual(body, stride, cout - cin), nn.ReLU()]


def resnet20(norm, gn_groups):
    """conv16-norm-act, basic16 x3, basic32s2 + basic32 x2, basic64s2 + basic64 x2, gap, fc."""
    layers = conv_norm(3, 16, norm, gn_groups) + [nn.ReLU()]
    cin = 16
    for width in (16, 32, 64):
        for i in range(3):
            stride = 2 if width > 16 and i == 0 else 1
            layers += basic_block(cin, width, stride, norm, gn_groups)
            cin = width
    layers += [GlobalAvgPool(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def build(arch, norm, gn_groups=4):
    """bnlab's make_model(arch, norm) in torch.nn (norm before the activation)."""
    if arch == "resnet20":
        return resnet20(norm, gn_groups)
    has_norm = norm != "none"
    layers = []

    def add_norm(channels, spatial):
        norm_layer = make_norm(norm, channels, spatial, gn_groups)
        if norm_layer is not None:
            layers.append(norm_layer)

    def conv_block(cin, cout):
        layers.append(nn.Conv2d(cin, cout, 3, padding=1, bias=not has_norm))
        add_norm(cout, True)
        layers.append(nn.ReLU())

    def linear_block(fin, fout, activation):
        layers.append(nn.Linear(fin, fout, bias=not has_norm))
        add_norm(fout, False)
        layers.append(activation)

    c, h, w = input_of(arch)
    if arch == "mlp":
        layers.append(nn.Flatten())
        width = c * h * w
        for _ in range(3):
            linear_block(width, 100, nn.Sigmoid())
            width = 100
        layers.append(nn.Linear(width, 10))
    elif arch == "mnist-cnn":
        conv_block(c, 32)
        layers.append(nn.MaxPool2d(2))
        conv_block(32, 64)
        layers.append(nn.MaxPool2d(2))
        layers.append(nn.Flatten())
        linear_block(64 * (h // 4) * (w // 4), 128, nn.ReLU())
        layers.append(nn.Linear(128, 10))
    elif arch == "cifar-cnn":
        conv_block(c, 32)
        conv_block(32, 32)
        layers.append(nn.MaxPool2d(2))
        conv_block(32, 64)
        conv_block(64, 64)
        layers.append(nn.MaxPool2d(2))
        conv_block(64, 128)
        layers.append(nn.MaxPool2d(2))
        layers.append(nn.Flatten())
        layers.append(nn.Linear(128 * (h // 8) * (w // 8), 10))
    else:
        raise SystemExit(f"unknown model {arch}")
    return nn.Sequential(*layers)


def time_windows(f, windows, window_seconds, warmup_seconds=0.3, after_warmup=lambda: None):
    """Seconds per call: (best window, median window)."""
    start, calls, last = time.perf_counter(), 0, 0.0
    while calls < 2 or time.perf_counter() - start < warmup_seconds:
        t0 = time.perf_counter()
        f()
        last = time.perf_counter() - t0
        calls += 1
    per_window = max(1, math.ceil(window_seconds / max(last, 1e-9)))
    after_warmup()
    results = []
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(per_window):
            f()
        results.append((time.perf_counter() - t0) / per_window)
    results.sort()
    return results[0], results[len(results) // 2]


class TrainingRun:
    def __init__(self, arch, norm, batch):
        torch.manual_seed(1)
        self.model = build(arch, norm)
        self.model.train()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.loss_fn = nn.CrossEntropyLoss()
        self.batches = [(torch.randn(batch, *input_of(arch)), torch.randint(0, 10, (batch,))) for _ in range(8)]
        self.index = 0

    def step(self):
        x, y = self.batches[self.index % len(self.batches)]
        self.index += 1
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        if not math.isfinite(loss.item()):
            raise SystemExit("torch_ref: the training loss diverged")


def prefix(arch, norm, batch, threads):
    return f"{arch:<10} {norm:<5} {batch:>5} {threads:>3}"


def bench_training(arch, norm, batch, threads, args):
    run = TrainingRun(arch, norm, batch)
    best, median = time_windows(run.step, args.windows, args.window_seconds)
    print(f"train   {prefix(arch, norm, batch, threads)}  {best * 1e3:9.3f} {batch / best:9.0f} {median / best - 1:6.3f}",
          flush=True)


def bench_inference(arch, norm, threads, args):
    torch.manual_seed(1)
    model = build(arch, norm).eval()
    for batch, kind in ((256, "infer"), (1, "latency")):
        x = torch.randn(batch, *input_of(arch))
        with torch.no_grad():
            best, median = time_windows(lambda: model(x), args.windows, args.window_seconds)
        print(f"{kind:<7} {prefix(arch, norm, batch, threads)}  {best * 1e3:9.3f} {batch / best:9.0f} "
              f"{median / best - 1:6.3f}", flush=True)


def peak_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="mlp,mnist-cnn,cifar-cnn")
    p.add_argument("--norms", default="none,bn,gn")
    p.add_argument("--batches", default="64,128")
    p.add_argument("--threads", default=str(torch.get_num_threads()))
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--window-seconds", type=float, default=0.3)
    p.add_argument("--no-train", action="store_true")
    p.add_argument("--no-inference", action="store_true")
    p.add_argument("--rss", action="store_true", help="only: peak RSS of 20 training steps of the first row")
    args = p.parse_args()
    models, norms = args.models.split(","), args.norms.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]

    if args.rss:
        torch.set_num_threads(thread_counts[0])
        run = TrainingRun(models[0], norms[0], batches[0])
        for _ in range(20):
            run.step()
        print(f"rss     {prefix(models[0], norms[0], batches[0], thread_counts[0])}  {peak_rss_mib():9.1f}")
        return
    print(f"# torch_ref; PyTorch {torch.__version__}; windows {args.windows} x >= {args.window_seconds:.2f} s")
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for arch in models:
            for norm in norms:
                if not args.no_train:
                    for batch in batches:
                        bench_training(arch, norm, batch, threads, args)
                if not args.no_inference:
                    bench_inference(arch, norm, threads, args)


if __name__ == "__main__":
    main()
