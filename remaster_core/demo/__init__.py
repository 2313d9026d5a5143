"""``remaster demo``: the whole pipeline on a synthetic reel, scored against its hidden truth, in one report.

Modules, one job each:

- ``pipeline``: ``run_demo``, the stages in order with their timings;
- ``baselines``: the bilinear baseline and the fitted quadratic colour-correction baseline;
- ``metrics``: PSNR and SSIM over a validity mask;
- ``evaluate``: the held-out (missing-film) shots scored for ours and the baselines;
- ``checks``: the conform and the alignment against the reel's truth;
- ``pictures``: the report's images (data URIs, wipes, crops); its SVG plots come from ``remaster_core.svgplot``;
- ``report``: ``report.json`` and the self-contained ``report.html``.

Nothing here imports torch at import time: the training and export stages import it when they run.
"""

from remaster_core.demo.pipeline import DEMO_PRESETS, run_demo

__all__ = ["DEMO_PRESETS", "run_demo"]
