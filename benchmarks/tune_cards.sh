#!/usr/bin/env bash
# Issue 18: the recommended solver settings of every bundled generator, chosen on validation
# images (train split) by `ganinverse tune` and written to its card. Resumable: each folder under
# benchmarks/results/tune/ records its search (weights.json); rerunning a finished command only
# rereads it. Without WRITE_CARD=1 the cards are not touched (run it from a copy of the package,
# then once more from the checkout with WRITE_CARD=1: the searches are read back, nothing reruns).
# Needs MNIST, FashionMNIST and celeba64 under /tmp/data (see benchmarks/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
R=benchmarks/results/tune
CARD=()
[[ "${WRITE_CARD:-0}" == 1 ]] && CARD=(--write-card --bundled-card)
t() { echo "== $(date +%H:%M:%S) $1"; ganinverse tune --generator "$1" "${@:2}" --device cpu \
  --no-progress --out "$R/$1" "${CARD[@]}"; }

# the README's generator: 7 λ_z x steps 300 or 1000 (normal init: the uniform init was never
# chosen in an earlier search of 7 λ_z x 2 inits, commit d13359f) at six m, 20 validation images;
# then the 3 best per m (and the first choice) re-scored on 100 validation images
t mnist-wgangp --dataset mnist --data-root /tmp/data --m 10,25,50,100,250,750 --noise-std 0.1 \
  --n-val 20 --init-grid normal --steps-grid 300,1000 --refine-top 3 --refine-n-val 100
# the others: 5 λ_z x 2 inits at four m (1000 steps), 10 validation images, one stage
SMALL=(--lambda-z-grid 1,0.3,0.1,0.01,0.001 --steps 1000 --n-val 10 --noise-std 0.1 --refine-top 0)
t digits --dataset digits --m 10,25,100,400 "${SMALL[@]}"
t mnist-dcgan --dataset mnist --data-root /tmp/data --m 10,25,100,400 "${SMALL[@]}"
t mnist-wgangp-15k --dataset mnist --data-root /tmp/data --m 10,25,100,400 "${SMALL[@]}"
t mnist-vae --dataset mnist --data-root /tmp/data --m 10,25,100,400 "${SMALL[@]}"
t mnist-vae-100ep --dataset mnist --data-root /tmp/data --m 10,25,100,400 "${SMALL[@]}"
t fashion-mnist-wgangp --dataset fashion-mnist --data-root /tmp/data --m 10,25,100,400 "${SMALL[@]}"
# faces: the CelebA engine (lr 0.1, 500 steps), 3 λ_z x 2 inits at three m, 4 validation faces
t celeba64-dcgan --dataset celeba64 --data-root /tmp/data/celeba64 --m 100,500,2500 \
  --lambda-z-grid 0.01,0.001,0.0001 --steps 500 --n-val 4 --noise-std 0.01 --refine-top 0
# the GPU-trained faces generator (session 33): the same search on the 4 faces held out of its
# training (5900-5903; it trained on faces 0-5899)
t celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 --m 100,500,2500 \
  --lambda-z-grid 0.01,0.001,0.0001 --steps 500 --n-val 4 --val-start 5900 --noise-std 0.01 \
  --refine-top 0
# the ngf-64 GAN trained on the CPU (session 38): the same search on the same held-out faces
t celeba64-gan64f --dataset celeba64 --data-root /tmp/data/celeba64 --m 100,500,2500 \
  --lambda-z-grid 0.01,0.001,0.0001 --steps 500 --n-val 4 --val-start 5900 --noise-std 0.01 \
  --refine-top 0
