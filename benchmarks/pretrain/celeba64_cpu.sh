#!/usr/bin/env bash
# Face generators trained on the CPU (issue 16, session 35), one thread each, resumable across
# sessions; each judged by the held-out protocol that chose celeba64-lsgan (celeba64_gpu.sh
# choose: csgm and iagan+TV, λ_TV 0.3, at m = 500 on faces 5900-5907, held out of every run).
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu.sh RUN train    # (background)
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu.sh RUN resume
#   DATA=/tmp/data/celeba64 bash benchmarks/pretrain/celeba64_cpu.sh RUN choose STEP
# `choose STEP` snapshots the run's generator and discriminator at its last save (STEP must be
# that save's step: benchmarks/pretrain/snapshot.py checks) into runs/RUN-snapshots/stepSTEP
# and writes benchmarks/results/pretrain/celeba64_cpu_ft/RUN/stepSTEP. Compare per face with
# celeba64-lsgan (25.76 dB there):
#   python benchmarks/paired.py benchmarks/results/pretrain/celeba64_cpu_ft/RUN/stepSTEP iagan \
#     iagan --b-from benchmarks/results/pretrain/celeba64_gpu_choice/lsgan --metric psnr
# The runs (RUN):
#   celeba64-cpu-ft, celeba64-cpu-ft-lr0.00005: the bundled celeba64-lsgan (16,172 LSGAN steps
#     on a GPU, no flip) and its discriminator trained on with mirrored faces (`--init`), at the
#     bundled run's lr 2e-4 and at 5e-5; ~0.33 s a step. Probed at 2,000-5,467 steps: 0.12-0.25
#     dB below celeba64-lsgan on the held-out faces at every step (notes, session 35); stopped.
#   celeba64-cpu-gan64f: session 33's best GPU recipe (GAN loss, ngf = ndf = 64, mirrored
#     faces), level with celeba64-lsgan there at 4,842 steps; ~0.84 s a step with
#     --channels-last (16.8 s for 20 steps), a save every 500 steps; started 2026-12-05.
#     Probes (iagan+TV − celeba64-lsgan on the held-out faces): 2,000 steps −0.78 ± 0.33,
#     7,000 −0.31 ± 0.48, 11,500 +0.34 ± 0.33 (7/8; csgm +0.60 ± 0.17, 8/8): past it.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:?the folder holding celeba64.npz}
declare -A RUNS=(
  [celeba64-cpu-ft]="--loss lsgan --ngf 32 --ndf 32 --init celeba64-lsgan --lr 0.0002
    --steps 30000 --save-every 1000"
  [celeba64-cpu-ft-lr0.00005]="--loss lsgan --ngf 32 --ndf 32 --init celeba64-lsgan --lr 0.00005
    --steps 30000 --save-every 1000"
  [celeba64-cpu-gan64f]="--loss gan --ngf 64 --ndf 64 --seed 0 --steps 40000 --save-every 500
    --channels-last"
)
name=${1:-}
[ -n "${RUNS[$name]:-}" ] || { echo "usage: DATA=... $0 RUN train|resume|choose STEP; RUN: ${!RUNS[*]}" >&2; exit 2; }
run="runs/$name"
export OMP_NUM_THREADS=1
# shellcheck disable=SC2206  # (a run's flags split into words on purpose)
train=(--dataset celeba64 --data-root "$DATA" --n-train 5900 --latent-dim 100 --batch-size 64
  --augment hflip --sample-every 2000 --log-every 100 --threads 1 --device cpu --no-progress
  ${RUNS[$name]} --out "$run")
case "${2:-}" in
train) ganinverse-pretrain "${train[@]}" ;;
resume) ganinverse-pretrain "${train[@]}" --resume ;;
choose)
  step=${3:?the step of the last save of the run, e.g. 5000}
  snap="$run-snapshots/step$step"
  python benchmarks/pretrain/snapshot.py "$run" "$snap" "$step"
  ganinverse sweep --generator "$snap" --dataset celeba64 --data-root "$DATA" --split train \
    --start 5900 --m 500 --methods csgm,iagan --iagan-tv 0.3 --n-images 8 --batch-size 8 \
    --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 --restarts 10 \
    --prune-at 0.1,0.3 --device cpu --no-progress \
    --out "benchmarks/results/pretrain/celeba64_cpu_ft/$name/step$step" ;;
*) echo "usage: DATA=... $0 RUN train|resume|choose STEP" >&2; exit 2 ;;
esac
