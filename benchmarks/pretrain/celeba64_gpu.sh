#!/usr/bin/env bash
# celeba64-lsgan: three 64x64 face generators trained side by side on one GPU (an NVIDIA H200
# here: GAN, LSGAN and WGAN-GP, all DCGAN ngf = ndf = 32, z = 100, batch 64), each stopped by
# SIGTERM after $SECONDS_EACH seconds (the trainer saves its checkpoint and generator.* at that
# step boundary; --resume continues it), on the first 5,900 faces of celeba64.npz: faces
# 5900-5999 are held out to choose among them (the second half of this script, on the CPU).
#   DATA=/tmp/data/celeba64 SECONDS_EACH=470 bash benchmarks/pretrain/celeba64_gpu.sh train
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_gpu.sh choose
# Recorded run (2026-12-04): 470 s each on one H200 gave gan 16,146, lsgan 16,172 and wgan-gp
# 2,594 generator steps (12,970 critic steps); the choice is benchmarks/results/pretrain/
# celeba64_gpu_choice (iagan+TV at m = 500 on the 8 held-out faces, PSNR dB: lsgan 25.76,
# gan 25.58, wgan-gp 24.62; celeba64-dcgan, which trained on those faces, 25.33), and lsgan was
# bundled with benchmarks/pretrain/bundle.py --run runs/celeba64-gpu/lsgan --name celeba64-lsgan.
# Second round (2026-12-04, session 33; `train-hflip` / `choose-hflip`): four DCGANs with
# --augment hflip side by side for 500 s each (lsgan ngf 32; lsgan ngf 64, batch 64 and 128; gan
# ngf 64): 4,549-4,842 generator steps each, a third of the first round's, as the four processes
# time-share the one GPU and two of them are 4x the network. Held-out iagan+TV, m = 500: gan64f
# 25.71 (csgm 22.61), lsgan64f 24.13, lsgan64fb128 22.30, lsgan32f 21.77: none above lsgan's 25.76;
# gan64f, a third of the steps, level with it. Next: gan ngf 64 + hflip alone on the GPU.
#   RUNS=runs/celeba64-gpu2 DATA=/tmp/data/celeba64 SECONDS_EACH=500 bash $0 train-hflip
#   (next: RUN_ONLY=gan64f RUNS=runs/celeba64-gpu3 ... SECONDS_EACH=520 bash $0 train-hflip)
#   RUNS=runs/celeba64-gpu2 DATA=/tmp/data/celeba64 bash $0 choose-hflip
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:?the folder holding celeba64.npz}
RUNS=${RUNS:-runs/celeba64-gpu}
case "${1:-}" in
train)
  common=(--dataset celeba64 --data-root "$DATA" --n-train 5900 --latent-dim 100 --ngf 32 --ndf 32
    --batch-size 64 --steps 200000 --save-every 5000 --sample-every 5000 --log-every 100
    --device cuda --no-progress --seed 0)
  mkdir -p "$RUNS"
  pids=()
  for loss in gan wgan-gp lsgan; do
    timeout -s TERM "${SECONDS_EACH:-470}" python -m pretrain "${common[@]}" --loss "$loss" \
      --out "$RUNS/$loss" > "$RUNS/$loss.log" 2>&1 &
    pids+=($!)
  done
  failed=0
  for i in 0 1 2; do  # (124: stopped by the timeout's SIGTERM, checkpoint saved: the plan)
    rc=0; wait "${pids[$i]}" || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ]; then
      echo "run $i failed (exit $rc): see $RUNS/*.log" >&2; failed=1
    fi
  done
  exit $failed ;;
train-hflip)  # the second round (see the top): four runs, each by its flags
  common=(--dataset celeba64 --data-root "$DATA" --n-train 5900 --latent-dim 100 --steps 400000
    --save-every 5000 --sample-every 5000 --log-every 100 --device cuda --no-progress --seed 0
    --augment hflip)
  declare -A RUN=(
    [lsgan32f]="--loss lsgan --ngf 32 --ndf 32 --batch-size 64"
    [lsgan64f]="--loss lsgan --ngf 64 --ndf 64 --batch-size 64"
    [lsgan64fb128]="--loss lsgan --ngf 64 --ndf 64 --batch-size 128"
    [gan64f]="--loss gan --ngf 64 --ndf 64 --batch-size 64"
  )
  # RUN_ONLY=gan64f: that run alone (the next round: one process has the GPU to itself)
  if [ -n "${RUN_ONLY:-}" ]; then names=("$RUN_ONLY"); else names=("${!RUN[@]}"); fi
  for r in "${names[@]}"; do
    [ -n "${RUN[$r]:-}" ] || { echo "RUN_ONLY: no run named $r (${!RUN[*]})" >&2; exit 2; }
  done
  mkdir -p "$RUNS"
  pids=()
  for r in "${names[@]}"; do
    # shellcheck disable=SC2086  # (the flags of a run split into words on purpose)
    timeout -s TERM "${SECONDS_EACH:-500}" python -m pretrain "${common[@]}" ${RUN[$r]} \
      --out "$RUNS/$r" > "$RUNS/$r.log" 2>&1 &
    pids+=($!)
  done
  failed=0
  for pid in "${pids[@]}"; do
    rc=0; wait "$pid" || rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ]; then
      echo "a run failed (exit $rc): see $RUNS/*.log" >&2; failed=1
    fi
  done
  exit $failed ;;
choose-hflip)  # as choose, for the second round's runs
  export OMP_NUM_THREADS=1
  for r in lsgan32f lsgan64f lsgan64fb128 gan64f; do
    ganinverse sweep --generator "$RUNS/$r" --dataset celeba64 --data-root "$DATA" --split train \
      --start 5900 --m 500 --methods csgm,iagan --iagan-tv 0.3 --n-images 8 --batch-size 8 \
      --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 --restarts 10 \
      --prune-at 0.1,0.3 --device cpu --no-progress \
      --out "benchmarks/results/pretrain/celeba64_gpu_choice/$r"
  done ;;
choose)  # csgm and iagan (TV 0.3) at m = 500 on held-out faces 5900-5907, as the faces_tv sweep
  export OMP_NUM_THREADS=1
  for g in "$RUNS/gan" "$RUNS/wgan-gp" "$RUNS/lsgan" celeba64-dcgan; do
    ganinverse sweep --generator "$g" --dataset celeba64 --data-root "$DATA" --split train \
      --start 5900 --m 500 --methods csgm,iagan --iagan-tv 0.3 --n-images 8 --batch-size 8 \
      --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 --restarts 10 \
      --prune-at 0.1,0.3 --device cpu --no-progress \
      --out "benchmarks/results/pretrain/celeba64_gpu_choice/$(basename "$g")"
  done ;;
*) echo "usage: DATA=... $0 train|choose|train-hflip|choose-hflip" >&2; exit 2 ;;
esac
