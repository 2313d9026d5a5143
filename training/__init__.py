"""Training: the torch side of remaster (never imported by ``remaster_core``).

- ``model``: the enhancement generator G (ProSR-style dense compression units behind a space-to-depth),
  its presets (``paper``, ``lite``) and its receptive field.
- ``discriminator``: the SRGAN-like patch discriminator D for the least-squares GAN stage.
- ``losses``: FFT-L1 (stage 1), plain L1 (the ablation), the least-squares GAN losses, the VGG
  perceptual loss; every loss honours the alignment masks.
- ``vgg``: VGG19 feature extractor, weights read from a local torchvision state dict (no download).
- ``checkpoint``: safetensors checkpoints (model, discriminator, optimizer state) with atomic writes;
  pickles and foreign files are refused.
"""
