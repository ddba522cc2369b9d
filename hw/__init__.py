"""Amaranth components of the sdproc Stable Diffusion processor, one sub-package per block."""
