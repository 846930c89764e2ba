#!/bin/sh
# Data parallelism on this machine (train/data_parallel.h): 1 rank x T threads vs R ranks x 1
# thread on cifar-cnn, same global batch, same seeds.
#
#   bench/data_parallel.sh speed      a short run (40 steps, batch 128) of each layout: images/s
#                                     from train.log, and the allreduce bytes per step (~3 min)
#   bench/data_parallel.sh accuracy   3 seeds x {1 rank, 2 ranks bn-sync none, 2 ranks bn-sync all},
#                                     10 epochs each: the test accuracies to compare (hours on 2 cores)
#
# Environment: BUILD (default build), DATA (default ../shared/data, which holds cifar10/), OUT (default
# runs/data-parallel), RANKS (default 2), EPOCHS (accuracy, default 10).
set -eu
mode=${1:-speed}
BUILD=${BUILD:-build}
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/data-parallel}
RANKS=${RANKS:-2}
EPOCHS=${EPOCHS:-10}
bnlab=$BUILD/bnlab
# Open MPI refuses root unless told; --bind-to none lets each rank's threads use any core.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun="mpirun --oversubscribe --bind-to none -np $RANKS"
common="--dataset cifar10 --data-dir $DATA --partial --model cifar-cnn --norm bn --batch 128 --lr 0.05"

run() {  # run NAME LAUNCH... : train and print the last log lines
    name=$1; shift
    "$@" --out "$OUT/$name" > "$OUT/$name.out" 2>&1 || { cat "$OUT/$name.out"; exit 1; }
    echo "== $name"; grep -E "data parallel|^step|finished" "$OUT/$name/train.log" | tail -3
    # images/s over the training steps: the last row's step x global batch / its wall seconds
    # (taken before that row's evaluation)
    grep -E "^step" "$OUT/$name/train.log" | tail -1 |
        awk '{ steps = $2; secs = $NF; sub(/s$/, "", secs); printf "images/s: %.1f\n", steps * 128 / secs }'
}

mkdir -p "$OUT"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
case $mode in
speed)
    run speed-1rank-2threads $bnlab train $common --steps 40 --eval-every 40 --test-limit 500 --threads 2
    run speed-${RANKS}ranks-1thread-none $mpirun $bnlab train $common --steps 40 --eval-every 40 --test-limit 500 --threads 1 --bn-sync none
    run speed-${RANKS}ranks-1thread-all $mpirun $bnlab train $common --steps 40 --eval-every 40 --test-limit 500 --threads 1 --bn-sync all
    for m in mnist-cnn cifar-cnn small-cnn; do
        d=fashion-mnist; [ $m = cifar-cnn ] && d="cifar10 --data-dir $DATA --partial"
        $mpirun $bnlab train --dataset $d --model $m --norm bn --steps 1 --test-limit 10 --threads 1 --bn-sync all \
            --out "$OUT/bytes-$m" 2>&1 | grep -m1 "data parallel" | sed "s/^/$m: /"
    done ;;
accuracy)
    for seed in 0 1 2; do
        run acc-1rank-seed$seed $bnlab train $common --epochs $EPOCHS --seed $seed --threads 2
        run acc-${RANKS}ranks-none-seed$seed $mpirun $bnlab train $common --epochs $EPOCHS --seed $seed --threads 1 --bn-sync none
        run acc-${RANKS}ranks-all-seed$seed $mpirun $bnlab train $common --epochs $EPOCHS --seed $seed --threads 1 --bn-sync all
    done
    # Per layout: each seed's final test accuracy (train.log's "finished" line), mean and sample std.
    {
        echo "| layout | test accuracy, seeds 0 / 1 / 2 | mean ± std |"
        echo "|---|---|---|"
        for layout in 1rank ${RANKS}ranks-none ${RANKS}ranks-all; do
            for seed in 0 1 2; do
                sed -n 's/^finished .*test accuracy \([0-9.]*\).*/\1/p' "$OUT/acc-$layout-seed$seed/train.log"
            done | awk -v layout=$layout '{ a[NR] = 100 * $1; s += a[NR] }
                END { m = s / NR; for (i = 1; i <= NR; ++i) v += (a[i] - m) ^ 2
                      printf "| %s | %.2f / %.2f / %.2f | %.2f ± %.2f |\n", layout, a[1], a[2], a[3], m, sqrt(v / (NR - 1)) }'
        done
    } | tee "$OUT/accuracy.md" ;;
*) echo "usage: $0 speed|accuracy" >&2; exit 2 ;;
esac
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
