"""ganinverse: a pretrained GAN as the prior for inverse problems in imaging."""

__version__ = "0.1.0"
