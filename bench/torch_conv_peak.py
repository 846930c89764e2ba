#!/usr/bin/python3
"""How fast PyTorch's own convolutions (oneDNN) run on this CPU, in GFLOP/s, against the
large-square matmul (which goes through OpenBLAS, like bnlab's sgemm).

Explains PyTorch's fast rows in bench/results.md: oneDNN compiles AVX-512 kernels at run time,
while the OpenBLAS on these machines is pinned to its Haswell (AVX2) kernels by
OPENBLAS_CORETYPE, so a conv that oneDNN handles well can beat bnlab's sgemm bound.
Run: /usr/bin/python3 bench/torch_conv_peak.py (about 20 seconds, 2 threads).
"""
import time

import torch


def best_seconds(fn, repeat=5, windows=5):
    for _ in range(3):
        fn()
    best = float("inf")
    for _ in range(windows):
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


def main():
    torch.set_num_threads(2)
    with torch.no_grad():
        # cifar-cnn's conv shapes at batch 128: (channels in, channels out, image side)
        for c, f, side in [(32, 32, 32), (64, 64, 16), (128, 128, 8)]:
            x = torch.randn(128, c, side, side)
            conv = torch.nn.Conv2d(c, f, 3, padding=1, bias=False)
            flop = 2 * 128 * f * side * side * c * 9
            print(f"oneDNN conv forward, batch 128, {c}->{f} channels, {side}x{side}: "
                  f"{flop / best_seconds(lambda: conv(x)) / 1e9:.0f} GFLOP/s")
        a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
        print(f"matmul 2048^3 (OpenBLAS): {2 * 2048**3 / best_seconds(lambda: a @ b) / 1e9:.0f} GFLOP/s")


if __name__ == "__main__":
    main()
