"""Film grain management: measure a stock's grain from its scans, and synthesise it on the model's output.

The model learns the picture; grain is random, so a model trained on grainy scans gives their
average, a clean picture. The grain comes back here, matched to the film:

- ``profile``: ``GrainProfile`` (spectrum and level response per channel, channel correlation),
  ``estimate_profile`` from scans (``remaster train`` writes ``RUN/grain.json`` from its training
  targets; export puts it in the model's metadata), ``read_profile``/``write_profile``;
- ``outliers``: which flat tiles hold grain alone (the spectral-shape rule the profile is pooled by);
- ``excess``: ``remove_excess``, the grain a model's output carries beyond the film's taken away in
  its flat areas before synthesis (``excess_plan`` from the film's and the output's profiles);
- ``synthesis``: ``add_grain``, grain drawn for a whole frame, deterministic per (shot, frame, seed),
  with the ``GrainSettings`` amount, size and seed (``remaster render --grain-amount ...``, the Nuke
  node's grain knobs); ``remaster_core.node.render_frame`` applies it after the model and the mix.

numpy and OpenCV only (the measures are ``remaster_core.look``'s).
"""

from remaster_core.grain.profile import GrainProfile, estimate_profile, read_profile, write_profile
from remaster_core.grain.synthesis import GrainSettings, add_grain

__all__ = ["GrainProfile", "GrainSettings", "add_grain", "estimate_profile", "read_profile", "write_profile"]
