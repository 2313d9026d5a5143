"""How well the conform and the alignment did on a synth reel, against its truth (for the demo report).

- ``conform_accuracy``: each conformed frame against the 24p frame that went into the telecine
  (``truth/broadcast24p/``), PSNR over the whole frame. A right inverse telecine gives the frame back up
  to the broadcast's own loss (4:2:0 chroma, MPEG-2): well above ``IVTC_OK_DB``; a frame built from
  the wrong fields, or from two shots at a cut, falls far below it.
- ``alignment_accuracy``: each aligned shot's fitted model (``transform`` + ``distortion`` of
  align.json, without the per-frame dense residual) against the true framing, as the RMS distance in
  film pixels over the film pixels the broadcast covers (``remaster_core.align.evaluate.mapping_error``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.align.evaluate import mapping_error
from remaster_core.align.transform import sampling_maps
from remaster_core.demo.evaluate import coverage_mask, true_mapping
from remaster_core.demo.metrics import psnr
from remaster_core.io.images import read_image
from remaster_core.io.sequence import parse_pattern
from remaster_core.manifests.align import AlignManifest
from remaster_core.manifests.conform import read_conform
from remaster_core.progress import progress

IVTC_OK_DB = 30.0


def conform_accuracy(reel_dir: Path, conform_dir: Path) -> list[float]:
    """PSNR (dB) of every conformed frame against the reel's 24p frame of the same index.

    Args:
        reel_dir: the synth reel (truth.json, truth/broadcast24p/).
        conform_dir: its conform (conform.json, frames/); its frame count must match the reel's (see
            ``evaluate.check_conform``).
    """
    truth = json.loads((reel_dir / "truth.json").read_text(encoding="utf-8"))
    conform = read_conform(conform_dir)
    frames = parse_pattern(conform.frames_path)
    truth24 = parse_pattern(str(reel_dir / truth["frames24p"]["pattern"]))
    n = min(conform.frame_count, int(truth["frames24p"]["count"]))
    out = []
    for i in progress(range(n), desc="demo: check conform", unit="frame"):
        ours = read_image(frames.path(i))[0]
        ref = read_image(truth24.path(i))[0]
        out.append(round(psnr(ours, ref, np.ones(ref.shape[:2], bool)), 2))
    return out


def alignment_accuracy(
    truth: dict[str, Any], align: AlignManifest, shot_map: dict[int, int | None]
) -> dict[int, float]:
    """Conform shot index -> RMS mapping error (film px) of its fitted model, for every aligned shot.

    Args:
        truth: the reel's truth.json; align: align.json; shot_map: truth shot -> conform shot
            (``evaluate.check_conform``).
    """
    film_size = (int(truth["film"]["size"][0]), int(truth["film"]["size"][1]))
    broadcast_size = (int(truth["broadcast"]["size"][0]), int(truth["broadcast"]["size"][1]))
    by_conform = {c: s for s, c in shot_map.items() if c is not None}
    out: dict[int, float] = {}
    for entry in align.shots:
        if entry.status != "aligned" or entry.transform is None or entry.index not in by_conform:
            continue
        shot = truth["shots"][by_conform[entry.index]]
        map_x, map_y = sampling_maps(entry.transform, film_size, entry.distortion)
        valid = coverage_mask(*true_mapping(shot["geometry"]), film_size, broadcast_size)
        out[entry.index] = round(mapping_error(map_x, map_y, shot["geometry"], valid), 4)
    return out
