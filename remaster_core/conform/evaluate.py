"""Score a conform against a synthetic reel's truth (``remaster synth``): for tests and the benchmark.

Truth used (``truth.json``): ``telecine[j] = [top_src, bottom_src]`` (the 24p index each field of
broadcast frame j shows), ``broadcast.field_order``, ``frames24p`` (the pre-telecine 8-bit PNGs),
``cuts_24p``, ``leader_frames`` and the shots' ``film_first``.

- Source of an output frame: the 24p index of each field it was built from (the woven pair, or the
  kept field). One index: the frame is that 24p frame ("exact"); two: it mixes two film frames.
  Video-originated fields have source -1 (frames built from them only are neither).
- Recovery: the sequence of exact sources must be every 24p index that has at least one field in the
  broadcast, once each, in order (an edit after telecine may remove frames entirely). Cuts are
  expected at the output position of the first present frame of every shot.
- PSNR of a frame against its 24p PNG (R'G'B' 0..1, peak 1). The codec's own PSNR of a 24p frame is
  the best over every weave of a true top and a true bottom field of that frame (3:2 gives up to two
  copies of a parity); a 24p frame that kept a single field (a reel that starts mid-cadence) is
  referenced by ``rebuild.rebuild_orphan`` of that field, the best any field-only rebuild can claim.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.conform.rebuild import rebuild_orphan
from remaster_core.io.images import read_image
from remaster_core.io.video import (
    Field,
    VideoInfo,
    frame_to_rgb,
    iter_ycbcr_frames,
    probe_video,
    split_fields,
    weave,
)
from remaster_core.manifests.conform import read_conform

PSNR_CAP = 50.0


def field_sources(truth: dict[str, Any]) -> list[int]:
    """The 24p index shown by each field of the broadcast, in stream (temporal) order."""
    first_top = truth["broadcast"]["field_order"] != "bff"
    out: list[int] = []
    for top, bottom in truth["telecine"]:
        out.extend((top, bottom) if first_top else (bottom, top))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two R'G'B' float images (peak 1); a is clipped to 0..1 first."""
    mse = float(np.mean((np.clip(a, 0.0, 1.0) - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


def frame_used_fields(record: dict[str, Any]) -> list[int]:
    """The fields whose pixels an output frame shows (woven pair, or the kept field)."""
    if record.get("weave") is not None:
        w = record["weave"]
        return [w["top"], w["bottom"], *([w["merged_with"]] if "merged_with" in w else [])]
    if "keep" in record:
        return [record["keep"]]
    return list(record["fields"])


def _best_field_psnr(own: list[Field], info: VideoInfo, png: np.ndarray) -> float:
    """The best PSNR (dB) against ``png`` of a 24p frame made from its own broadcast fields ``own``: every
    top/bottom weave when both parities are there, else each field rebuilt alone."""
    tops = [f for f in own if f.parity == "top"]
    bottoms = [f for f in own if f.parity == "bottom"]
    if tops and bottoms:
        return max(
            psnr(frame_to_rgb(weave(t, b, interlaced=False), info), png) for t in tops for b in bottoms
        )
    return max(psnr(rebuild_orphan(f, info), png) for f in own)


def reference_psnr(reel: Path, truth: dict[str, Any]) -> dict[int, float]:
    """The codec's own PSNR per 24p index (see the module docstring)."""
    broadcast = reel / truth["broadcast"]["path"]
    info = probe_video(broadcast)
    first_top = truth["broadcast"]["field_order"] != "bff"
    fields: list[Field] = []
    for frame in iter_ycbcr_frames(broadcast):
        top, bottom = split_fields(frame)
        fields.extend((top, bottom) if first_top else (bottom, top))
    sources = field_sources(truth)
    pattern = str(reel / truth["frames24p"]["pattern"])
    best: dict[int, float] = {}
    for n in range(truth["frames24p"]["count"]):
        mine = [i for i, s in enumerate(sources[: len(fields)]) if s == n]
        if not mine:
            continue
        best[n] = _best_field_psnr([fields[i] for i in mine], info, read_image(pattern % n)[0])
    return best


@dataclass
class Score:
    """How a conform did against the truth."""

    n_truth: int
    recovered_in_order: bool
    exact: int
    mixed: list[int]
    missing: list[int]
    duplicated: list[int]
    psnr: dict[int, float] = field(default_factory=dict)
    reference: dict[int, float] = field(default_factory=dict)
    cuts_expected: list[int] = field(default_factory=list)
    cuts_found: list[int] = field(default_factory=list)

    @property
    def worst_shortfall(self) -> float:
        """Largest dB by which a frame falls below the codec's own PSNR (negative: all above).

        Both PSNRs are capped at ``PSNR_CAP`` dB: above it the error is under one 8-bit code value RMS
        (a flat leader frame reaches 60+ dB) and dB differences there mean nothing.
        """
        gaps = [
            min(self.reference[n], PSNR_CAP) - min(p, PSNR_CAP)
            for n, p in self.psnr.items()
            if n in self.reference
        ]
        return max(gaps) if gaps else 0.0


def score_conform(
    out_dir: Path, reel: Path, *, truth: dict[str, Any] | None = None, with_psnr: bool = True
) -> Score:
    """Compare ``out_dir``'s conform.json and frames with the truth of the reel in ``reel``.

    ``truth`` defaults to ``reel/truth.json``; paths in it are relative to ``reel`` (or absolute).
    """
    truth = truth if truth is not None else json.loads((reel / "truth.json").read_text())
    conform = read_conform(out_dir)
    sources = field_sources(truth)
    present = sorted({n for n in sources if n >= 0})  # an edit may have cut 24p frames away entirely
    got: list[int] = []
    mixed: list[int] = []
    frame_of: dict[int, int] = {}
    for rec in conform.frames or ():
        srcs = {sources[f] for f in rec.used_fields() if f < len(sources)}
        if len(srcs) != 1 or -1 in srcs:
            if srcs != {-1}:
                mixed.append(rec.index)
            continue
        n = srcs.pop()
        got.append(n)
        frame_of.setdefault(n, rec.index)
    counts = {n: got.count(n) for n in present}
    position = {n: k for k, n in enumerate(present)}
    cuts = [c for c in truth["cuts_24p"] if c]
    expected_cuts = sorted(
        {position[min(n for n in present if n >= c)] for c in cuts if any(n >= c for n in present)} - {0}
    )
    score = Score(
        n_truth=len(present),
        recovered_in_order=got == present,
        exact=len(got),
        mixed=mixed,
        missing=[n for n in present if counts[n] == 0],
        duplicated=[n for n in present if counts[n] > 1],
        cuts_expected=expected_cuts,
        cuts_found=list(conform.cuts),
    )
    if with_psnr:
        pattern = str(reel / truth["frames24p"]["pattern"])
        frames_pattern = conform.frames_path
        for n, index in frame_of.items():
            score.psnr[n] = psnr(read_image(frames_pattern % index)[0], read_image(pattern % n)[0])
        score.reference = reference_psnr(reel, truth)
    return score


def shot_ids(truth: dict[str, Any]) -> list[int]:
    """Per 24p index, the number of hard cuts at or before it (``cuts_24p``): equal ids = one shot."""
    cuts = sorted(truth["cuts_24p"])
    return [sum(1 for c in cuts if c <= n) for n in range(truth["frames24p"]["count"])]


def clean_fields(truth: dict[str, Any]) -> list[bool]:
    """Per stream field: coded in a broadcast frame whose other field shows the same shot (not video).

    A field that shares its coded frame with a field of another shot (or of video) is coded as part
    of a picture that mixes two pictures: MPEG-2 codes it poorly. Those are the *damaged* fields.
    """
    sources = field_sources(truth)
    shot = shot_ids(truth)
    out: list[bool] = []
    for j in range(0, len(sources) - 1, 2):
        a, b = sources[j], sources[j + 1]
        same = a >= 0 and b >= 0 and shot[a] == shot[b]
        out.extend((same, same))
    return out


def clean_reference_psnr(reel: Path, truth: dict[str, Any]) -> dict[int, float]:
    """The codec's own PSNR of each 24p frame from its *clean* field(s) only (``clean_fields``).

    Best over the weaves of a clean top and a clean bottom field of the frame; with clean fields of
    one parity only, the best ``rebuild.rebuild_orphan`` of one of them (the frame rebuilt from its
    clean field, which is what a conform can do); with no clean field, the best over all its fields
    as ``reference_psnr`` takes them.
    """
    broadcast = reel / truth["broadcast"]["path"]
    info = probe_video(broadcast)
    first_top = truth["broadcast"]["field_order"] != "bff"
    fields: list[Field] = []
    for frame in iter_ycbcr_frames(broadcast):
        top, bottom = split_fields(frame)
        fields.extend((top, bottom) if first_top else (bottom, top))
    sources = field_sources(truth)
    clean = clean_fields(truth)
    pattern = str(reel / truth["frames24p"]["pattern"])
    best: dict[int, float] = {}
    for n in sorted({s for s in sources[: len(fields)] if s >= 0}):
        mine = [i for i, s in enumerate(sources[: len(fields)]) if s == n]
        good = [i for i in mine if clean[i]] or mine
        best[n] = _best_field_psnr([fields[i] for i in good], info, read_image(pattern % n)[0])
    return best


@dataclass
class StressScore:
    """A conform of a stress reel (``synth.stress``) against its truth.

    Attributes:
        present: 24p indices with at least one field in the broadcast.
        exact: 24p index -> output index of the one frame built from its fields only.
        missing, duplicated: 24p indices with no / several such frames.
        mixed: output frames built from fields of two 24p frames (or film and video).
        video_frames: output frames built from video fields only.
        video_woven: those of them not deinterlaced (woven or rebuilt as film: video must be deinterlaced).
        psnr, reference: per exact 24p index, PSNR of the output frame and the clean-field reference
            (``clean_reference_psnr``), both in dB.
        cuts_expected, cuts_found: output indices; missed and false are the differences (a cut found
            inside a fade or dissolve, or within a frame of a video stretch's edge, is neither).
        shots_film_ok: every frame of every conform shot with film (with a film scan) is given its own
            film frame (``film_first`` and ``film_jumps``: what ``align`` pairs it with).
        film_wrong: output frame -> how many film frames later (negative: earlier) than its own the film
            frame it is given is, for the frames ``shots_film_ok`` finds wrong (empty without a scan).
    """

    present: list[int]
    exact: dict[int, int]
    missing: list[int]
    duplicated: list[int]
    mixed: list[int]
    video_frames: list[int]
    video_woven: list[int] = field(default_factory=list)
    psnr: dict[int, float] = field(default_factory=dict)
    reference: dict[int, float] = field(default_factory=dict)
    cuts_expected: list[int] = field(default_factory=list)
    cuts_found: list[int] = field(default_factory=list)
    cuts_missed: list[int] = field(default_factory=list)
    cuts_false: list[int] = field(default_factory=list)
    shots_film_ok: bool | None = None
    film_wrong: dict[int, int] = field(default_factory=dict)

    def shortfall(self) -> dict[int, float]:
        """Per exact 24p index, dB below the reference (both capped at ``PSNR_CAP``; negative: above)."""
        return {
            n: min(self.reference[n], PSNR_CAP) - min(p, PSNR_CAP)
            for n, p in self.psnr.items()
            if n in self.reference
        }

    @property
    def within_1db(self) -> int:
        return sum(1 for v in self.shortfall().values() if v <= 1.0)


def frozen_sources(reel: Path, truth: dict[str, Any]) -> list[int]:
    """Per 24p index, the first index of its run of identical 24p frames (a frozen shot: its fields are
    indistinguishable, so which of them a frame is built from is neither right nor wrong)."""
    pattern = str(reel / truth["frames24p"]["pattern"])
    out: list[int] = []
    prev: bytes | None = None
    for n in range(truth["frames24p"]["count"]):
        data = Path(pattern % n).read_bytes()
        out.append(out[-1] if prev is not None and data == prev else n)
        prev = data
    return out


def score_stress(out_dir: Path, reel: Path, *, with_psnr: bool = True) -> StressScore:
    """Score the conform in ``out_dir`` against the stress reel in ``reel`` (see ``StressScore``).

    24p frames identical to the one before (a frozen shot) count as that one (``frozen_sources``).
    """
    truth = json.loads((reel / "truth.json").read_text())
    conform = read_conform(out_dir)
    canon = frozen_sources(reel, truth)
    sources = [canon[s] if s >= 0 else s for s in field_sources(truth)]
    present = sorted({n for n in sources if n >= 0})
    frames = list(conform.frames or ())
    found: dict[int, list[int]] = {}
    mixed: list[int] = []
    video: list[int] = []
    video_woven: list[int] = []
    source_of: dict[int, int] = {}
    for rec in frames:
        srcs = {sources[f] for f in rec.used_fields() if f < len(sources)}
        if srcs == {-1}:
            video.append(rec.index)
            if rec.kind != "video":
                video_woven.append(rec.index)
        elif len(srcs) == 1:
            n = srcs.pop()
            found.setdefault(n, []).append(rec.index)
            source_of[rec.index] = n
        else:
            mixed.append(rec.index)
    frozen = {n for n in present if canon.count(n) > 1}
    exact = {n: idx[0] for n, idx in found.items() if len(idx) == 1 or n in frozen}
    score = StressScore(
        present=present,
        exact=exact,
        missing=[n for n in present if n not in found],
        duplicated=[n for n in present if len(found.get(n, [])) > 1 and n not in frozen],
        mixed=mixed,
        video_frames=video,
        video_woven=video_woven,
        cuts_found=list(conform.cuts),
    )
    shot = shot_ids(truth)
    expected: set[int] = set()
    for c in truth["cuts_24p"]:
        first = next((n for n in present if n >= c and shot[n] == shot[c]), None)
        if c > 0 and first is not None and first in exact and exact[first] > 0:
            expected.add(exact[first])
    soft: set[int] = set()
    for a, b in truth.get("stress", {}).get("soft_24p", []):
        for n in range(a, b + 1):
            if n in exact:
                soft.update((exact[n], exact[n] + 1))
    video_edges: set[int] = set()
    vset = set(video)
    for k in range(1, len(frames)):
        if (k in vset) != (k - 1 in vset):
            video_edges.update((k - 1, k, k + 1))
    required = sorted(expected - video_edges)
    score.cuts_expected = sorted(expected)
    score.cuts_missed = [c for c in required if c not in score.cuts_found]
    score.cuts_false = [
        c for c in score.cuts_found if c not in expected and c not in soft and c not in video_edges
    ]
    if conform.film is not None:
        leader = truth["leader_frames"]
        for s in conform.shots:
            if s.film_first is None:
                continue
            for i in range(s.first, s.last + 1):  # past an edit after telecine too (``film_jumps``)
                src = source_of.get(i)
                if src is None or src < leader:
                    continue
                # a frame inside a frozen run: any film frame of that run is as right
                shown = s.film_index(i) + leader  # type: ignore[operator]
                if not (0 <= shown < len(canon) and canon[shown] == src):
                    score.film_wrong[i] = shown - src
        score.shots_film_ok = not score.film_wrong
    if with_psnr:
        pattern = str(reel / truth["frames24p"]["pattern"])
        for n, index in exact.items():
            score.psnr[n] = psnr(read_image(conform.frames_path % index)[0], read_image(pattern % n)[0])
        score.reference = clean_reference_psnr(reel, truth)
    return score
