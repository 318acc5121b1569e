#!/usr/bin/env bash
# Issue 14's reruns of the headline results with the final code (per-identity seeds, the Lasso's
# duality-gap stopping rule, the masked data term), each into benchmarks/results/reruns/<name>.
# Resumable: rerun this script after a kill and every sweep/benchmark continues where it stopped.
# Cheapest first. Needs MNIST and celeba64 copied to /tmp/data (cp -r ../shared/data/{MNIST,celeba64} /tmp/data/).
# Then compare with the recorded folder, e.g.
#   python benchmarks/paired.py benchmarks/results/reruns/mnist_sweep_vae csgm csgm --metric mse \
#       --b-from benchmarks/results/mnist_sweep_vae
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
R=benchmarks/results/reruns
VAE_GRID="lambda_z=1,steps=300;lambda_z=0.3,steps=300;lambda_z=0.1,steps=300;lambda_z=0.01,steps=300;lambda_z=0.01,steps=1000;lambda_z=0.001,steps=1000"
MNIST=(--dataset mnist --data-root /tmp/data --n-images 300 --n-val 20 --noise-std 0.1 --lr 0.1 --prune-at 0.1,0.3 --device cpu --no-progress)

step() { echo "== $(date +%H:%M:%S) $1"; }

step mnist_sweep_vae
ganinverse sweep --generator mnist-vae --m 10,25,50,100,200,300,400,500,750 --methods csgm \
  --engine-grid "$VAE_GRID" --restarts 10 "${MNIST[@]}" --out $R/mnist_sweep_vae

step inpainting/mnist
python benchmarks/inpainting.py --generator mnist-dcgan --dataset mnist --data-root /tmp/data \
  --n 50 --train-n 10000 --steps 800 --restarts 2 --lr 0.1 --box 1 --tv-iters 1000 \
  --out $R/inpainting/mnist --cache /tmp/ganinverse-inpainting-cache-rerun/mnist

step mnist_sweep_vae_100ep
ganinverse sweep --generator mnist-vae-100ep --m 10,25,50,100,200,300,400,500,750 \
  --methods csgm,csgm-sparse --sparse-basis wavelet --sparse-l1-grid 1e-6,1e-5,1e-4,1e-3,1e-2,0.1 \
  --engine-grid "$VAE_GRID" --restarts 10 "${MNIST[@]}" --out $R/mnist_sweep_vae_100ep

step inpainting/celeba64
python benchmarks/inpainting.py --generator celeba64-dcgan --dataset celeba64 \
  --data-root /tmp/data/celeba64 --n 64 --train-n 6000 --masks center,random:0.8,half,pattern:0.25 \
  --steps 500 --restarts 2 --out $R/inpainting/celeba64 \
  --cache /tmp/ganinverse-inpainting-cache-rerun/celeba64
python benchmarks/inpainting.py --generator celeba64-dcgan --dataset celeba64 \
  --data-root /tmp/data/celeba64 --n 64 --train-n 6000 --masks grid:4 \
  --steps 500 --restarts 2 --out $R/inpainting/celeba64_grid \
  --cache /tmp/ganinverse-inpainting-cache-rerun/celeba64-grid

step mnist_sweep_vae_100ep_r30
ganinverse sweep --generator mnist-vae-100ep --m 25,50,10,100,200,300,400,500,750 \
  --methods csgm,csgm-sparse --sparse-basis wavelet --sparse-l1-grid 1e-6,1e-5,1e-4,1e-3,1e-2,0.1 \
  --engine-grid "lambda_z=0.3,steps=300;lambda_z=0.1,steps=300;lambda_z=0.03,steps=1000;lambda_z=0.01,steps=1000;lambda_z=0.003,steps=1000;lambda_z=0.001,steps=1000" \
  --restarts 30 "${MNIST[@]}" --out $R/mnist_sweep_vae_100ep_r30

step mnist_sweep_tuned
ganinverse sweep --generator mnist-wgangp --m 10,25,50,100,200,300,400,500,750 \
  --methods csgm,lasso,lasso-dct,lasso-wavelet \
  --engine-grid "lambda_z=0.3,steps=300;lambda_z=0.1,steps=300;lambda_z=0.01,steps=1000;lambda_z=0.001,steps=1000" \
  --restarts 10 "${MNIST[@]}" --out $R/mnist_sweep_tuned

step celeba_sweep_full
ganinverse sweep --generator celeba64-dcgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 10000,2500,5000,7500,1000,500,200,100,50,20 --methods csgm,csgm-sparse,lasso-dct,lasso-wavelet \
  --n-images 64 --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
  --restarts 10 --prune-at 0.1,0.3 --sparse-basis wavelet \
  --sparse-l1-grid 1e-7,1e-6,1e-5,1e-4,1e-3,1e-2,0.1,1 --lasso-lambdas 0.001,0.01,0.1,0.3,1,3,10 \
  --device cpu --no-progress --out $R/celeba_sweep_full
step done
