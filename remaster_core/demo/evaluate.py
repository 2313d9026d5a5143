"""Score the trained model and the baselines on the held-out (missing-film) shots of a synth reel.

The held-out shots are the reel's missing-film shots: the pipeline never sees their film (``remaster
synth`` keeps it under ``truth/film_missing/`` for this evaluation only). Each of their frames is
scored against that hidden film with PSNR and SSIM (``metrics``).

**Framing.** The pipeline cannot know where a missing-film shot's film sat in the broadcast (no film, no
alignment), so it renders such a shot with the reel's framing (``remaster align`` gives it the median
of the aligned shots' transforms and lens distortion), which is off by the shot's own telecine framing
(a few px of shift, a percent or two of zoom): a pixel-to-pixel comparison with the film then
measures mostly the framing guess. To measure the
*enhancement*, every method is evaluated on the same input: the conformed broadcast frame resampled
into the film raster with the shot's **true** framing (``truth.json``'s geometry, which follows the
render's convention exactly: ``Transform4`` then ``Radial``; for a reel made with ``--telecine-warp``,
the geometry plus that shot's warp of each frame, ``warped_truth``: without it the input would sit a
pixel or two off the film, and PSNR would reward the blurriest method):

- ``bilinear``: that resample alone (``baselines.bilinear_baseline``: bilinear, edges replicated past
  the broadcast picture as in the training pairs; see ``baselines`` for why);
- ``colour_fit``: the quadratic colour fit applied to it (``baselines.ColourFit``);
- ``ours``: the exported model run on that same resample by the render node's model step
  (``remaster_core.node.model_frame``: the ONNX model on onnxruntime and its guard, as ``remaster
  render`` runs them).

Reported separately, as what the pipeline really delivers: ``ours_delivered``, the frames ``remaster
render`` wrote with the reel's framing from align.json (rendered with the grain off: synthesised grain is
independent of the film's and would add its own variance to every pixel's error; the grain is scored by
the film-look table below), and ``bilinear_delivered``, the bilinear
resample with that same mapping: the gap between them and the truth-framed scores is the cost of not knowing the
framing, not of the enhancement. Compared pixel for pixel with the film, a delivered frame a few pixels
off scores mostly its misregistration, and PSNR then rewards the blurriest picture; so the delivered
frames are also scored **registered**: each is resampled (bilinear) onto the film raster by the exact
difference between the framing it was rendered with and the shot's true framing of that frame
(``registration_maps``), on the film pixels both framings cover: ``ours_registered`` (the frames
``render`` wrote), ``bilinear_registered`` and ``colour_fit_registered`` (the colour fit of
``bilinear_delivered``). Every method goes through the same second resample, which softens a sharp
picture more than a blurred one: the comparison leans, if anything, against ours (measured on a
command-line reel's missing shot, a round trip of two such resamples cost ours 0.04 dB and bilinear
0.05).

**Film look** (``ShotEvaluation.look``): each of ``LOOK_METHODS`` scored as a sequence against the
hidden film with ``remaster_core.look`` (grain amplitude and octave-band power, detail, steadiness: each
a ratio to the film's, 1 = like the film; whole frames): ``bilinear``, ``colour_fit``, ``ours`` (the
model's clean output) and ``ours_grain``: ``ours`` with the film grain the render adds
(``remaster_core.node.apply_grain``: the model's grain profile, default amount, seed 0, keyed by the
conform shot and the frame within it).

Pixels that count: the film pixels the broadcast picture covers under the true framing (the telecine's
overscan crops the film's edges; the broadcast never saw them). Conformed frame ``first_24p + k`` is
taken as the broadcast of film frame ``k`` of a shot: ``remaster conform`` numbers its output frames in
24p order with the leader, as ``truth.json`` counts them; ``check_conform`` verifies the frame count
and the shot's cut before anything is scored.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.align.transform import Radial, Transform4, inside_broadcast, resample, sampling_maps
from remaster_core.demo.baselines import ColourFit, bilinear_baseline, bilinear_maps
from remaster_core.demo.metrics import SquaredError, ssim
from remaster_core.errors import InputError
from remaster_core.io.images import read_image
from remaster_core.io.sequence import SequencePattern, parse_pattern
from remaster_core.look import LookReport, score_sequences
from remaster_core.manifests.conform import ConformManifest, read_conform
from remaster_core.node import (
    NodeParams,
    apply_grain,
    engine_for,
    grain_plan,
    model_frame,
    read_align,
    resample_to_output,
)
from remaster_core.progress import progress
from remaster_core.synth.geometry import ShotGeometry
from remaster_core.synth.warps import TelecineWarp, truth_maps

log = logging.getLogger("remaster.demo")

METHODS: dict[str, str] = {
    "bilinear": "bilinear (true framing)",
    "colour_fit": "colour fit (true framing)",
    "ours": "ours (true framing)",
    "bilinear_delivered": "bilinear (delivered framing)",
    "ours_delivered": "ours as rendered (delivered framing)",
    "bilinear_registered": "bilinear (delivered, registered)",
    "colour_fit_registered": "colour fit (delivered, registered)",
    "ours_registered": "ours as rendered (delivered, registered)",
}
"""Method key -> label; the first three are the comparison on the true framing, the next two what the
pipeline delivers, the last three the delivered frames registered to the film."""

Framing = tuple[tuple[np.ndarray, np.ndarray], np.ndarray]
"""((map_x, map_y), mask): float32 (H, W) ``cv2.remap`` maps of every film pixel and bool (H, W), the
pixels they may be scored on (``warped_truth``, ``registration_maps``)."""

COMPARED = ("bilinear", "colour_fit", "ours")
LOOK_METHODS: dict[str, str] = {
    "bilinear": "bilinear",
    "colour_fit": "colour fit",
    "ours": "ours (clean)",
    "ours_grain": "ours with grain",
}
"""Method key -> label of the film-look table (true framing); the film is the reference."""
BASELINES = ("bilinear", "colour_fit")


@dataclass
class MethodScore:
    """One method on one shot: PSNR pooled over the shot's frames, mean SSIM, per-frame PSNR (dB)."""

    psnr: float
    ssim: float
    frame_psnr: list[float]


@dataclass
class ShotEvaluation:
    """The evaluation of one held-out shot.

    Attributes:
        shot: the shot's index in ``truth.json``; conform_shot: its index in conform.json, or None when
            the conform found no cut at its first frame.
        frames: the conformed frame indices scored (film frame k of the shot is ``frames[k]``).
        scores: method key (``METHODS``) -> score.
        coverage: the share of film pixels the broadcast covers (the pixels that count).
        sample_frame: the conformed frame shown in the report; sample: its pictures (``film`` and every
            method of ``METHODS``), float32 RGB (H, W, 3) on the film raster.
        mask: bool (H, W), the film pixels that count.
        look: ``LOOK_METHODS`` key -> its film-look report against the hidden film (whole frames).
    """

    shot: int
    conform_shot: int | None
    frames: list[int]
    scores: dict[str, MethodScore]
    coverage: float
    sample_frame: int
    sample: dict[str, np.ndarray] = field(repr=False)
    mask: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0), bool))
    look: dict[str, LookReport] = field(repr=False, default_factory=dict)

    def margin(self, metric: str) -> float:
        """Ours minus the better baseline, in ``metric`` ("psnr" dB or "ssim")."""
        ours = getattr(self.scores["ours"], metric)
        return float(ours - max(getattr(self.scores[b], metric) for b in BASELINES))


def true_mapping(geometry: dict[str, Any]) -> tuple[Transform4, Radial]:
    """A ``truth.json`` shot geometry as the render's (``Transform4``, ``Radial``): the synth convention
    (``remaster_core.synth.geometry``) is affine film -> broadcast, then radial distortion about the
    broadcast centre, which is exactly ``remaster_core.align.transform``'s."""
    g = geometry
    transform = Transform4(float(g["tx"]), float(g["ty"]), float(g["sx"]), float(g["sy"]))
    radial = Radial(float(g["k1"]), float(g["cx"]), float(g["cy"]), float(g["par"]), float(g["r_norm"]))
    return transform, radial


def coverage_mask(
    transform: Transform4, radial: Radial, out_size: tuple[int, int], broadcast_size: tuple[int, int]
) -> np.ndarray:
    """bool (H, W): output pixels whose true position lies inside the broadcast raster's pixel centres."""
    map_x, map_y = sampling_maps(transform, out_size, radial)
    return inside_broadcast(map_x, map_y, broadcast_size, margin=0.0)


def warped_truth(
    geometry: ShotGeometry,
    warp: TelecineWarp,
    frame: int,
    film_size: tuple[int, int],
    broadcast_shape: tuple[int, ...],
) -> Framing:
    """The true sampling maps (float32 (H, W) broadcast x and y of every film pixel) of frame ``frame``
    of a shot filmed through a telecine warp (``remaster_core.synth.warps``: the geometry plus the warp's
    displacement of that frame), and the pixels they cover (bool (H, W))."""
    map_x, map_y = truth_maps(geometry, warp, frame, film_size)
    maps = (map_x.astype(np.float32), map_y.astype(np.float32))
    return maps, inside_broadcast(maps[0], maps[1], (broadcast_shape[1], broadcast_shape[0]), margin=0.0)


def registration_maps(
    true_maps: tuple[np.ndarray, np.ndarray],
    delivered: tuple[Transform4, Radial | None],
    out_size: tuple[int, int],
) -> Framing:
    """Where each film pixel lies in a frame rendered with another framing (``delivered``).

    A film pixel sits at broadcast position ``true_maps`` (its true framing); the delivered frame's pixel
    ``p`` sampled the broadcast at ``distortion(transform(p))``; so the film pixel's content is at
    ``transform^-1(distortion^-1(true_maps))`` in the delivered frame.

    Args:
        true_maps: float32 (H, W) broadcast x and y of every film pixel (the true framing).
        delivered: the transform and lens distortion the frame was rendered with.
        out_size: (W, H) of the delivered raster.

    Returns:
        ((map_x, map_y), inside): float32 (H, W) delivered-raster coordinates of every film pixel, as
        ``cv2.remap`` maps, and bool (H, W), those that fall on the delivered raster's pixel centres.
    """
    transform, distortion = delivered
    bx, by = (np.asarray(m, np.float64) for m in true_maps)
    ax, ay = (bx, by) if distortion is None else distortion.invert(bx, by)
    px, py = transform.invert(ax, ay)
    w, h = out_size
    inside = (px >= 0) & (py >= 0) & (px <= w - 1) & (py <= h - 1)
    return (px.astype(np.float32), py.astype(np.float32)), inside


def check_conform(truth: dict[str, Any], conform: ConformManifest) -> dict[int, int | None]:
    """Check that the conform's frames line up with the reel's 24p frames; map truth shots to conform shots.

    Returns:
        truth shot index -> conform shot index (the conform shot starting at the shot's first frame),
        or None where the conform put no cut there.

    Raises:
        InputError: the conform has another number of frames than the reel's 24p sequence (frame k would
            not be 24p frame k, and no score would mean anything).
    """
    n24, n = int(truth["frames24p"]["count"]), conform.frame_count
    if n != n24:
        raise InputError(
            f"the conform has {n} frames but the reel was made of {n24}: the inverse telecine lost or added "
            "frames, so conformed frame k is not 24p frame k; see the conform report"
        )
    starts = {s.first: k for k, s in enumerate(conform.shots)}
    return {int(s["index"]): starts.get(int(s["first_24p"])) for s in truth["shots"]}


def _score(
    pictures: dict[str, np.ndarray], film: np.ndarray, mask: np.ndarray, acc: dict[str, SquaredError],
    ssims: dict[str, list[float]], frame_psnr: dict[str, list[float]],
) -> None:  # fmt: skip
    for key, picture in pictures.items():
        one = SquaredError()
        one.add(picture, film, mask)
        acc[key].add(picture, film, mask)
        frame_psnr[key].append(one.psnr())
        ssims[key].append(ssim(picture, film, mask))


def evaluate_shot(
    reel_dir: Path,
    shot: dict[str, Any],
    conform_frames: SequencePattern,
    delivered: SequencePattern,
    model: Path,
    colour: ColourFit,
    delivered_mapping: tuple[Transform4, Radial | None],
    film_size: tuple[int, int],
    conform_shot: int | None,
) -> ShotEvaluation:
    """Score every method on every frame of one missing-film shot (see the module docstring).

    Args:
        reel_dir: the synth reel (truth.json, truth/film_missing/).
        shot: the shot's ``truth.json`` entry (``missing_film`` true).
        conform_frames: the conformed frames; delivered: the frames ``remaster render`` wrote.
        model: the exported ONNX model.
        colour: the fitted colour baseline.
        delivered_mapping: the transform and lens distortion render used for the shot (align.json's).
        film_size: (W, H) of the film raster.
        conform_shot: the shot's index in conform.json, if the conform cut there.
    """
    index = int(shot["index"])
    film_pattern = parse_pattern(str(reel_dir / shot["film_missing_pattern"]))
    transform, radial = true_mapping(shot["geometry"])
    node = NodeParams(model=model, output_size=film_size)
    engine = engine_for(node)
    look_frames: dict[str, list[np.ndarray]] = {key: [] for key in (*LOOK_METHODS, "film")}
    geometry = ShotGeometry.from_dict(shot["geometry"])
    warp = None if shot.get("warp") is None else TelecineWarp.from_dict(shot["warp"])
    frames = [int(shot["first_24p"]) + k for k in range(int(shot["n_frames"]))]
    # a frame's true framing and its registration_maps: once, unless a warp moves every frame
    framing: tuple[Framing, Framing] | None = None
    mask: np.ndarray | None = None  # the first frame's, for the record
    acc = {key: SquaredError() for key in METHODS}
    ssims: dict[str, list[float]] = {key: [] for key in METHODS}
    frame_psnr: dict[str, list[float]] = {key: [] for key in METHODS}
    transform_d, distortion_d = delivered_mapping
    middle = frames[len(frames) // 2]
    sample: dict[str, np.ndarray] = {}
    for k, i in enumerate(progress(frames, desc=f"demo: evaluate shot {index}", unit="frame")):
        broadcast = read_image(conform_frames.path(i))[0]
        film = read_image(film_pattern.path(k))[0]
        if film.shape[:2] != (film_size[1], film_size[0]):
            raise InputError(f"{film_pattern.path(k)}: {film.shape[1]}x{film.shape[0]}, expected {film_size}")
        if warp is not None or framing is None:  # without a warp, the same for every frame of the shot
            if warp is not None:
                maps, covered = warped_truth(geometry, warp, k, film_size, broadcast.shape)
            else:
                maps = bilinear_maps(transform, film_size, radial)
                covered = coverage_mask(
                    transform, radial, film_size, (broadcast.shape[1], broadcast.shape[0])
                )
            framing = ((maps, covered), registration_maps(maps, delivered_mapping, film_size))
        (frame_maps, frame_mask), ((reg_x, reg_y), reg_inside) = framing
        if mask is None:
            mask = frame_mask
        bilinear = bilinear_baseline(broadcast, frame_maps)
        pictures = {
            "bilinear": bilinear,
            "colour_fit": colour.apply(bilinear),
            "ours": model_frame(bilinear, node, where=f"conformed frame {i}"),
            "bilinear_delivered": resample_to_output(broadcast, transform_d, film_size, distortion_d),
            "ours_delivered": read_image(delivered.path(i))[0],
        }
        _score(pictures, film, frame_mask, acc, ssims, frame_psnr)
        as_delivered = {
            "bilinear_registered": pictures["bilinear_delivered"],
            "colour_fit_registered": colour.apply(pictures["bilinear_delivered"]),
            "ours_registered": pictures["ours_delivered"],
        }
        registered = {key: resample(p, reg_x, reg_y) for key, p in as_delivered.items()}
        _score(registered, film, frame_mask & reg_inside, acc, ssims, frame_psnr)
        pictures.update(registered)
        key = -1 if conform_shot is None else conform_shot
        grainy = apply_grain(pictures["ours"], node, grain_plan(engine.info), shot=key, frame=k)
        for key, picture in ({**pictures, "ours_grain": grainy, "film": film}).items():
            if key in look_frames:
                look_frames[key].append(picture)
        if i == middle:
            sample = {"film": film, **pictures, "ours_grain": grainy}
    assert mask is not None
    scores = {
        key: MethodScore(acc[key].psnr(), float(np.mean(ssims[key])), frame_psnr[key]) for key in METHODS
    }
    look = {key: score_sequences(look_frames[key], look_frames["film"]) for key in LOOK_METHODS}
    return ShotEvaluation(index, conform_shot, frames, scores, float(mask.mean()), middle, sample, mask, look)


def evaluate_held_out(
    reel_dir: Path, conform_dir: Path, align_json: Path, model: Path, delivered: str, colour: ColourFit
) -> list[ShotEvaluation]:
    """Evaluate every missing-film shot of the reel in ``reel_dir`` (see the module docstring).

    Args:
        reel_dir: the synth reel; conform_dir: its conform; align_json: PAIRS/align.json (the transforms
            render used); model: the exported model; delivered: the render's output pattern;
            colour: the fitted colour baseline.

    Raises:
        InputError: a conform that does not line up with the reel, a reel without missing-film shots.
    """
    truth = json.loads((reel_dir / "truth.json").read_text(encoding="utf-8"))
    conform = read_conform(conform_dir)
    shot_map = check_conform(truth, conform)
    held = [s for s in truth["shots"] if s["missing_film"]]
    if not held:
        raise InputError(f"{reel_dir}/truth.json: the reel has no missing-film shot to evaluate on")
    table = read_align(align_json)
    film_size = (int(truth["film"]["size"][0]), int(truth["film"]["size"][1]))
    conform_frames = parse_pattern(conform.frames_path)
    out = []
    for shot in held:
        mapping = table.mapping(int(shot["first_24p"]))
        result = evaluate_shot(
            reel_dir, shot, conform_frames, parse_pattern(delivered), model, colour, (mapping.transform, mapping.distortion), film_size,
            shot_map[int(shot["index"])],
        )  # fmt: skip
        log.info(
            "held-out shot %d: PSNR ours %.2f dB, colour fit %.2f, bilinear %.2f; SSIM ours %.4f, colour fit "
            "%.4f, bilinear %.4f",
            result.shot, *(result.scores[m].psnr for m in ("ours", "colour_fit", "bilinear")),
            *(result.scores[m].ssim for m in ("ours", "colour_fit", "bilinear")),
        )  # fmt: skip
        out.append(result)
    return out
