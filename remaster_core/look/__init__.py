"""Film-look measures: does a render look like the film, not just lie close to it pixel by pixel?

PSNR and SSIM reward softness. A supervisor signs off a remaster by eye: grain that matches the stock,
detail where the film has it, nothing that crawls or flickers frame to frame. Each of those is measured
here as a render/reference ratio (1 = like the film), on the same places of both pictures, chosen from
the reference alone. numpy and OpenCV only.

Modules, one job each:

- ``fidelity``: PSNR and SSIM over a mask (the project's one implementation; the demo uses it);
- ``regions``: the settings (``LookParams``), the high-pass residual, flat and textured tiles;
- ``grain``: noise power spectrum in octave bands, and RMS against signal level, per channel;
- ``grain_sample``: the tiles grain is measured on: of one frame, or of a motion-compensated frame
  difference (the picture cancels, the grain stays);
- ``motion``: the reference's motion between consecutive frames (flow, trust, global affine);
- ``detail``: high-frequency energy in textured regions, each picture's own grain taken out;
- ``steadiness``: frame-to-frame change after motion compensation by the reference's optical flow;
- ``ratio``: a ratio that is a finite number or None with the reason;
- ``report``: ``score_sequences`` (a whole sequence pair -> ``LookReport``) and its text table.
- ``files``: a render and its reference as two image sequences on disk, paired frame by frame.

``remaster evaluate`` runs ``score_sequences`` on two image sequences on disk.
"""

from remaster_core.look.regions import LookParams
from remaster_core.look.report import LookReport, format_table, score_sequences

__all__ = ["LookParams", "LookReport", "format_table", "score_sequences"]
