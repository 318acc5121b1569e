#!/usr/bin/env bash
# Session 33's best GPU recipe for the face generator, on the CPU: a GAN-loss DCGAN with
# ngf = ndf = 64, mirrored faces (--augment hflip), batch 64, faces 0-5899 (5900-5999 held out).
# On the GPU it matched celeba64-lsgan's held-out iagan+TV (25.71 against 25.76 dB) at 4,842
# steps, 30% of lsgan's, and its run was lost with that machine. One CPU thread trains it at
# ~0.84 s a step (--channels-last; 16.8 s for 20 steps on this 2-core machine), so ~4,300 steps
# an hour: the run is resumable and meant to span sessions (a save every 500 steps).
# `choose STEP` runs the held-out protocol of celeba64_gpu.sh choose on a snapshot.
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu_gan64f.sh train   # (background)
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu_gan64f.sh resume
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu_gan64f.sh choose 5000
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:?the folder holding celeba64.npz}
RUN=${RUN:-runs/celeba64-cpu-gan64f}
export OMP_NUM_THREADS=1
train=(--dataset celeba64 --data-root "$DATA" --n-train 5900 --latent-dim 100 --ngf 64 --ndf 64
  --loss gan --batch-size 64 --augment hflip --seed 0 --steps 40000 --save-every 500
  --sample-every 2000 --log-every 100 --channels-last --threads 1 --device cpu --no-progress
  --out "$RUN")
case "${1:-}" in
train) ganinverse-pretrain "${train[@]}" ;;
resume) ganinverse-pretrain "${train[@]}" --resume ;;
choose)
  step=${2:?the step of the last save of the run, e.g. 5000}
  snap="$RUN-snapshots/step$step"
  python benchmarks/pretrain/snapshot.py "$RUN" "$snap" "$step"
  ganinverse sweep --generator "$snap" --dataset celeba64 --data-root "$DATA" --split train \
    --start 5900 --m 500 --methods csgm,iagan --iagan-tv 0.3 --n-images 8 --batch-size 8 \
    --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 --restarts 10 \
    --prune-at 0.1,0.3 --device cpu --no-progress \
    --out "benchmarks/results/pretrain/celeba64_cpu_ft/$(basename "$RUN")/step$step" ;;
*) echo "usage: DATA=... $0 train|resume|choose STEP" >&2; exit 2 ;;
esac
