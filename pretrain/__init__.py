"""Pretraining of GAN priors: losses, optimisers, the (distributed) trainer, sample quality."""
