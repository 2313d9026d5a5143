"""Image quality measures of the demo's evaluation: PSNR and SSIM over a validity mask.

One implementation serves the whole project: ``remaster_core.look.fidelity`` (see its docstring for
the exact definitions). The demo scores the film pixels the broadcast picture covers (the telecine's
overscan crops the film's edges, and nothing can recover what the broadcast never saw).
"""

from __future__ import annotations

from remaster_core.look.fidelity import SSIM_SIGMA, SquaredError, psnr, ssim, ssim_mask

__all__ = ["SSIM_SIGMA", "SquaredError", "psnr", "ssim", "ssim_mask"]
