#!/usr/bin/env bash
# celeba64-lsgan fine-tuned on the CPU with mirrored faces (issue 16, session 35): the bundled
# generator and its discriminator (16,172 LSGAN steps on a GPU, faces 0-5899, no flip) trained
# on with `ganinverse-pretrain --init celeba64-lsgan --augment hflip`, one CPU thread (~0.33 s a
# step on this 2-core machine), saved every 1,000 steps; resumable (the same command with
# --resume continues bit for bit). `choose STEP` snapshots the run's generator and
# discriminator at its last save (STEP must be that save's step: the script checks) and runs
# the protocol that chose celeba64-lsgan (celeba64_gpu.sh choose): csgm and iagan+TV (λ_TV 0.3)
# at m = 500 on faces 5900-5907, held out of every run's training.
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu_ft.sh train   # (background)
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu_ft.sh resume
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu_ft.sh choose 5000
#   LR=0.00005 DATA=... bash benchmarks/pretrain/celeba64_cpu_ft.sh train   # (runs/celeba64-cpu-ft-lr0.00005)
# Compare with celeba64-lsgan on the same faces (25.76 dB; benchmarks/paired.py, per face):
#   python benchmarks/paired.py benchmarks/results/pretrain/celeba64_cpu_ft/celeba64-cpu-ft/step5000 iagan iagan \
#     --b-from benchmarks/results/pretrain/celeba64_gpu_choice/lsgan --metric psnr
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:?the folder holding celeba64.npz}
LR=${LR:-0.0002}  # (G's and D's Adam learning rate; the bundled run's 0.0002 by default)
RUN=${RUN:-runs/celeba64-cpu-ft$([ "$LR" = 0.0002 ] || echo "-lr$LR")}
export OMP_NUM_THREADS=1
train=(--dataset celeba64 --data-root "$DATA" --n-train 5900 --latent-dim 100 --ngf 32 --ndf 32
  --loss lsgan --batch-size 64 --init celeba64-lsgan --augment hflip --steps 30000 --lr "$LR"
  --save-every 1000 --sample-every 2000 --log-every 100 --threads 1 --device cpu --no-progress
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
