#!/usr/bin/env bash
# Issue 16's benchmarks: the methods that leave the range of G (iagan, ilo), the untrained priors
# (deep-decoder; dip on a subset), csgm-sparse with a DCT ν, CSGM's discriminator prior and the
# usual wavelet Lassos (lasso-wavelet-detail; lasso-wavelet-frame, a zero-padded db4 frame),
# beside the recorded CSGM rows. Each sweep uses the recorded folder's settings, so its csgm rows
# are those of the recorded folder image by image
# (rows depend only on image identity, m and the settings) and every comparison is paired.
# Resumable: rerun after a kill. Needs MNIST and celeba64 in /tmp/data (see reruns.sh), and the
# reruns of reruns.sh finished first (they share the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
R=benchmarks/results/beyond_range
step() { echo "== $(date +%H:%M:%S) $1"; }

step mnist  # mnist-wgangp (it has a critic), first 100 test images, the settings of mnist_sweep_tuned
ganinverse sweep --generator mnist-wgangp --discriminator mnist-wgangp --m 10,25,100,400,750 \
  --methods csgm,csgm-sparse,iagan,ilo,deep-decoder,lasso-dct,lasso-wavelet,lasso-wavelet-detail,lasso-wavelet-frame \
  --engine-grid "lambda_z=0.3,steps=300;lambda_z=0.1,steps=300;lambda_z=0.01,steps=1000;lambda_z=0.001,steps=1000" \
  --sparse-basis wavelet --sparse-l1-grid 1e-6,1e-5,1e-4,1e-3,1e-2,0.1 \
  --restarts 10 --dataset mnist --data-root /tmp/data --n-images 100 --n-val 20 --noise-std 0.1 \
  --lr 0.1 --prune-at 0.1,0.3 --device cpu --no-progress --out $R/mnist

step mnist-gaussian  # the gaussian method on the same 100 digits: the 60,000 training digits' moments
# (a learned Gaussian) and those of 10,000 samples of mnist-wgangp; seconds
python benchmarks/gaussian_images.py --dataset mnist --data-root /tmp/data --n 60000 \
  --out runs/mnist_train60000.safetensors
ganinverse sweep --generator mnist-wgangp --dataset mnist --data-root /tmp/data --m 10,25,100,400,750 \
  --methods gaussian --gaussian-images runs/mnist_train60000.safetensors --n-images 100 \
  --batch-size 100 --noise-std 0.1 --device cpu --no-progress --out $R/mnist_gaussian_data
ganinverse sweep --generator mnist-wgangp --dataset mnist --data-root /tmp/data --m 10,25,100,400,750 \
  --methods gaussian --n-images 100 --batch-size 100 --noise-std 0.1 --device cpu --no-progress \
  --out $R/mnist_gaussian_g

step faces-bp  # iagan with back-projection onto {x : Ax = y} (the paper's IA-BP, for low noise:
# σ = 0.01 here) on the same faces (the m where the Lasso leads first); its methods enter the target
# table as iagan+bp (benchmarks/beyond_range_targets.py ... benchmarks/results/beyond_range/faces_bp:bp)
ganinverse sweep --generator celeba64-dcgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 5000,500,10000,2500,1000 --methods iagan --iagan-back-projection true \
  --n-images 64 --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
  --restarts 10 --prune-at 0.1,0.3 --device cpu --no-progress --out $R/faces_bp

step faces  # the 64 CSGM test faces, the settings of celeba_sweep_full, six m values (20 and
# 100 were run first; the order only sets which m runs next: m = 500 is the target's)
ganinverse sweep --generator celeba64-dcgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500,2500,5000,10000,20,100 \
  --methods csgm,csgm-sparse,iagan,ilo,deep-decoder,lasso-dct,lasso-wavelet,lasso-wavelet-detail \
  --n-images 64 --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
  --restarts 10 --prune-at 0.1,0.3 --sparse-basis wavelet \
  --sparse-l1-grid 1e-7,1e-6,1e-5,1e-4,1e-3,1e-2,0.1,1 --lasso-lambdas 0.001,0.01,0.1,0.3,1,3,10 \
  --device cpu --no-progress --out $R/faces

step faces-tv  # iagan with the total-variation term (λ_TV = 0.3, chosen on 8 train faces by
# benchmarks/iagan_null_space.py) at m = 500 on the same faces
ganinverse sweep --generator celeba64-dcgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500 --methods csgm,iagan --iagan-tv 0.3 --n-images 64 --batch-size 8 --n-val 4 \
  --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 --restarts 10 --prune-at 0.1,0.3 \
  --device cpu --no-progress --out $R/faces_tv

step faces-frame  # lasso-wavelet-frame on the same 64 faces (first run on 16, then grown: it is
# the strongest Lasso at m = 500 and 2500 there; 3-4x lasso-wavelet-detail's cost per face, its
# λ search at m = 10000 took 2,479 s (weights.json), then 67 s per face; paired with the faces folder's rows by image)
ganinverse sweep --dataset celeba64 --data-root /tmp/data/celeba64 --m 20,100,500,2500,5000,10000 \
  --methods lasso-wavelet-frame --n-images 64 --batch-size 8 --n-val 4 --noise-std 0.01 \
  --lasso-lambdas 0.001,0.01,0.1,0.3,1,3,10 --device cpu --no-progress --out $R/faces_frame

dct_nu() {  # csgm + csgm-sparse with a DCT deviation at the m values $1, into the folder $2
  ganinverse sweep --generator celeba64-dcgan --dataset celeba64 --data-root /tmp/data/celeba64 \
    --m "$1" --methods csgm,csgm-sparse \
    --n-images 64 --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
    --restarts 10 --prune-at 0.1,0.3 --sparse-basis dct \
    --sparse-l1-grid 1e-7,1e-6,1e-5,1e-4,1e-3,1e-2,0.1,1 \
    --device cpu --no-progress --out "$2"
}

step faces-dct-nu  # csgm-sparse with a DCT deviation on the same faces (m = 10000 grew the folder
# last: csgm + csgm-sparse there cost 141 s per face by the rows' seconds (53 + 88.5, beside another job), 2.5 hours on one core)
dct_nu 2500,5000,10000 $R/faces_dct_nu

step faces-dct-nu-small  # the same at m = 500, 100, 20 (own folder: the one above ran beside it)
dct_nu 500,100,20 $R/faces_dct_nu_small

step faces-dip  # Deep Image Prior on the first 8 faces at m = 500 and 5000 (10-20x the cost)
ganinverse sweep --dataset celeba64 --data-root /tmp/data/celeba64 --m 500,5000 --methods dip \
  --untrained-steps-grid 50,100,250,500 --n-images 8 --batch-size 8 --n-val 4 --noise-std 0.01 \
  --device cpu --no-progress --out $R/faces_dip

step faces-lsgan  # the GPU-trained celeba64-lsgan (benchmarks/pretrain/celeba64_gpu.sh) at m = 500 on
# the same faces and settings: csgm and iagan, with and without the TV term (2 x 64 faces, about
# 20 min each on one core; run side by side). Enter the target table as :lsgan and :lsgan-tv.
for tv in 0 0.3; do
  ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
    --m 500 --methods csgm,iagan $([ $tv = 0 ] || echo --iagan-tv $tv) --n-images 64 \
    --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
    --restarts 10 --prune-at 0.1,0.3 --device cpu --no-progress \
    --out $R/faces_lsgan$([ $tv = 0 ] || echo _tv)
done
# the same with validation faces held out of celeba64-lsgan's training (train faces 5900-5903)
ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500 --methods csgm,iagan --iagan-tv 0.3 --n-images 64 --batch-size 8 --n-val 4 \
  --val-start 5900 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 --restarts 10 \
  --prune-at 0.1,0.3 --device cpu --no-progress --out $R/faces_lsgan_tv_heldout
step faces-lsgan-mirror  # iagan+TV averaged with its run on G's mirror image (--iagan-mirror true:
# F∘G, F the left-right flip, its own CSGM start; 2x the time), celeba64-lsgan at m = 500, the
# settings of faces_lsgan_tv (paired by face with it: about 10 min on one core)
ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500 --methods csgm,iagan --iagan-tv 0.3 --iagan-mirror true --iagan-steps-grid 5,10,20,30,50 \
  --n-images 64 \
  --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
  --restarts 10 --prune-at 0.1,0.3 --device cpu --no-progress --out $R/faces_lsgan_tv_mirror
step faces-gaussian  # the Gaussian prior's posterior mean (method gaussian, no search) on the 64 faces
# at every m, with the moments of the 5,900 training faces of celeba64-lsgan (a learned Gaussian:
# the baseline a reader asks for beside a GAN prior) and with those of 10,000 samples of
# celeba64-lsgan (a method of G alone); a few minutes each (paired with faces and the rest by face)
python benchmarks/gaussian_images.py --data-root /tmp/data/celeba64 --out runs/celeba64_train5900.safetensors
ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500,2500,100,10000,20,5000 --methods gaussian --gaussian-images runs/celeba64_train5900.safetensors \
  --n-images 64 --batch-size 64 --noise-std 0.01 --device cpu --no-progress --out $R/faces_gaussian_data
ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500,2500,100,10000,20,5000 --methods gaussian \
  --n-images 64 --batch-size 64 --noise-std 0.01 --device cpu --no-progress --out $R/faces_gaussian_g
step faces-lsgan-mirror-gaussian  # iagan+TV+mirror averaged with the Gaussian's x̂ (--iagan-gaussian-weight w,
# w chosen on the held-out faces 5900-5907, never test faces: 0.4 with the training faces' moments,
# 0.3 with G's; session 36 notes), the faces-lsgan-mirror settings with validation faces held out
# of the generator's and the Gaussian's training (--val-start 5900); about 20 min each on one core
for spec in data:0.4:--iagan-gaussian-images=runs/celeba64_train5900.safetensors g:0.3:; do
  IFS=: read -r name w images <<< "$spec"
  ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
    --m 500 --methods csgm,iagan --iagan-tv 0.3 --iagan-mirror true --iagan-steps-grid 30,50,80,120 \
    --iagan-gaussian-weight "$w" ${images:+"$images"} --n-images 64 --val-start 5900 \
    --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
    --restarts 10 --prune-at 0.1,0.3 --device cpu --no-progress \
    --out $R/faces_lsgan_tv_mirror_gaussian_${name}_steps
done  # (first run with the grid 5,10,20,30,50 into ..._$name: 50, its edge, chosen in both)
step faces-gaussian-mirror  # faces-gaussian with the samples' mirror images too (--gaussian-mirror
# true, session 37: chosen on the held-out faces 5900-5907 by benchmarks/gaussian_probe.py --mirror,
# never test faces); a few minutes each
python benchmarks/gaussian_images.py --data-root /tmp/data/celeba64 --out runs/celeba64_train5900.safetensors
ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500,2500,100,10000,20,5000 --methods gaussian --gaussian-mirror true \
  --n-images 64 --batch-size 64 --noise-std 0.01 --device cpu --no-progress --out $R/faces_gaussian_g_mirror
ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500,2500,100,10000,20,5000 --methods gaussian --gaussian-mirror true \
  --gaussian-images runs/celeba64_train5900.safetensors \
  --n-images 64 --batch-size 64 --noise-std 0.01 --device cpu --no-progress --out $R/faces_gaussian_data_mirror
step faces-lsgan-mirror-gaussian-mirror  # faces-lsgan-mirror-gaussian with G alone, its Gaussian's
# samples with their mirror images (--iagan-gaussian-mirror true), w = 0.35 chosen on the held-out
# faces 5900-5907 (benchmarks/gaussian_probe.py --mirror --weights 0.25,...,0.5); ~25 min on one core
ganinverse sweep --generator celeba64-lsgan --dataset celeba64 --data-root /tmp/data/celeba64 \
  --m 500 --methods csgm,iagan --iagan-tv 0.3 --iagan-mirror true --iagan-steps-grid 30,50,80,120 \
  --iagan-gaussian-weight 0.35 --iagan-gaussian-mirror true --n-images 64 --val-start 5900 \
  --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 --lr 0.1 --steps 500 \
  --restarts 10 --prune-at 0.1,0.3 --device cpu --no-progress \
  --out $R/faces_lsgan_tv_mirror_gaussian_gmirror_steps
step faces-gan64f-mirror-gaussian-mirror  # the same with G alone = the ngf-64 GAN trained on the CPU
# (celeba64_cpu.sh celeba64-cpu-gan64f, snapshot at 11,500 steps, bundled as celeba64-gan64f), w =
# 0.3 chosen on the held-out faces with this G (gaussian_probe.py --generator ... --mirror); ~30 min
ganinverse sweep --generator celeba64-gan64f --dataset celeba64 \
  --data-root /tmp/data/celeba64 --m 500 --methods csgm,iagan --iagan-tv 0.3 --iagan-mirror true \
  --iagan-steps-grid 30,50,80,120 --iagan-gaussian-weight 0.3 --iagan-gaussian-mirror true \
  --n-images 64 --val-start 5900 --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 \
  --lr 0.1 --steps 500 --restarts 10 --prune-at 0.1,0.3 --device cpu --no-progress \
  --out $R/faces_gan64f_tv_mirror_gaussian_gmirror_steps
step faces-gan64f-mirror-gaussian-mirror-fewer-steps  # the search above chose its smallest
# candidate (30 fine-tuning steps, marked † in its summary.md): the grid widened below it
ganinverse sweep --generator celeba64-gan64f --dataset celeba64 \
  --data-root /tmp/data/celeba64 --m 500 --methods csgm,iagan --iagan-tv 0.3 --iagan-mirror true \
  --iagan-steps-grid 5,10,20,30 --iagan-gaussian-weight 0.3 --iagan-gaussian-mirror true \
  --n-images 64 --val-start 5900 --batch-size 8 --n-val 4 --noise-std 0.01 --lambda-z 0.001 \
  --lr 0.1 --steps 500 --restarts 10 --prune-at 0.1,0.3 --device cpu --no-progress \
  --out $R/faces_gan64f_tv_mirror_gaussian_gmirror_fewer_steps
step face-inpainting  # all five masks on the 64 faces: yeh and iagan, both Poisson-blended, beside
# biharmonic and TV on the same masks (paired per face: the target is GAN − biharmonic > 0)
ganinverse sweep --generator celeba64-dcgan --discriminator celeba64-dcgan --dataset celeba64 \
  --data-root /tmp/data/celeba64 --operator inpainting \
  --mask center,random:0.8,half,pattern:0.25,grid:4 --methods yeh,csgm,iagan,biharmonic,tv,lasso-wavelet-detail,lasso-wavelet-frame \
  --iagan-blend true \
  --n-images 64 --batch-size 8 --n-val 4 --noise-std 0 --lr 0.1 --steps 500 --restarts 2 \
  --device cpu --no-progress --out $R/face_inpainting

step face-blend-choice  # iagan's blend per mask chosen on 8 *training* faces (100-107), not the test faces
python benchmarks/blend_choice.py --data-root /tmp/data/celeba64 \
  --masks random:0.8,grid:4,pattern:0.25,center,half --n 8 --start 100 | tee $R/face_blend_choice.txt

step face-inpainting-bh  # iagan with the chosen biharmonic blend (α = 0.5) on the masks where it won the
# choice; paired with face_inpainting's biharmonic rows (same faces, same masks: seeded by image and mask)
ganinverse sweep --generator celeba64-dcgan --dataset celeba64 \
  --data-root /tmp/data/celeba64 --operator inpainting \
  --mask random:0.8,pattern:0.25,grid:4 --methods iagan --iagan-blend biharmonic:0.5 \
  --n-images 64 --batch-size 8 --n-val 4 --noise-std 0 --lr 0.1 --steps 500 --restarts 2 \
  --device cpu --no-progress --out $R/face_inpainting_bh
for spec in center:poisson:0.75:center_p075 half:biharmonic:0.75:half_b075; do  # the blends chosen there
  IFS=: read -r mask interp alpha name <<< "$spec"
  ganinverse sweep --generator celeba64-dcgan --dataset celeba64 \
    --data-root /tmp/data/celeba64 --operator inpainting \
    --mask $mask --methods iagan --iagan-blend $interp:$alpha \
    --n-images 64 --batch-size 8 --n-val 4 --noise-std 0 --lr 0.1 --steps 500 --restarts 2 \
    --device cpu --no-progress --out $R/face_inpainting_$name
done
