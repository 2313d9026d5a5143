"""Training: the torch side of remaster (``remaster_core`` never imports it at import time: only
inside the functions of the ``train`` and ``demo`` verbs, and the torch-free ``config`` to build the
``train`` verb's parser).

- ``model``: the enhancement generator G (ProSR-style dense compression units behind a space-to-depth),
  its presets (``paper``, ``lite``) and its receptive field.
- ``discriminator``: the SRGAN-like patch discriminator D for the least-squares GAN stage.
- ``losses``: FFT-L1 (stage 1), plain L1 (the ablation), the least-squares GAN losses, the VGG
  perceptual loss; every loss honours the alignment masks.
- ``vgg``: VGG19 feature extractor, weights read from a local torchvision state dict (no download).
- ``checkpoint``: safetensors checkpoints (model, discriminator, optimizer state) with atomic writes;
  pickles and foreign files are refused.
- ``architecture``: G's and D's configs and presets as plain data (no torch); ``config``: the training
  config, its presets' recipes and layered validation (no torch either).
- ``trainer``: the loop; ``state`` (what a step checkpoint holds), ``step``, ``stages`` (the losses of
  each stage, the GAN stage's start), ``schedule``, ``validation``, ``colour_init``, ``run_dir``,
  ``distributed`` (DDP), ``data``, ``logs``; ``cli``: ``python -m training.cli``.
"""
