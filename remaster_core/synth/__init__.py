"""Synthetic "surviving film + broadcast" reels with exact truth, for developing and testing every stage.

No real broadcast/film pairs can be shipped, so the conform, alignment, training, render and demo
stages are built and tested on reels made here (``remaster synth``): a progressive 23.976 film scan
sequence in several shots with camera motion, and a 720x480 29.97 interlaced broadcast made from a
degraded copy by a real 3:2 telecine, plus ``truth.json`` recording everything that was done.

Modules, one job each:

- ``scenes``: source photographs (scikit-image's bundled ones), camera paths, film frames with grain.
- ``geometry``: the per-shot telecine framing (affine + barrel) and its exact inverse.
- ``degrade``: film frame -> broadcast-looking 24p frame (framing, grade, blur, chroma loss, noise).
- ``leader``: the broadcast-only countdown leader.
- ``telecine``: 3:2 telecine + interlaced encode with ffmpeg, and the field mapping it produces.
- ``presets``: ``tiny``, ``small``, ``default``.
- ``reel``: orchestration and ``truth.json`` (``build_reel``).
"""
