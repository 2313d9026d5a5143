"""The tiny synthetic reel, end to end: what ffprobe and OpenImageIO see, and that truth.json is true."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import OpenImageIO as oiio
import pytest

from remaster_core.color import rgb_to_ycbcr
from remaster_core.io.images import read_image
from remaster_core.synth import telecine
from remaster_core.synth.degrade import Grade, apply_grade, framing_maps, warp_to_broadcast
from remaster_core.synth.geometry import ShotGeometry, film_to_broadcast
from remaster_core.synth.presets import PRESETS
from tests.synth.fieldmatch import decode_luma, match_fields, reference_luma


def _truth(reel: Path) -> dict[str, Any]:
    return json.loads((reel / "truth.json").read_text())


def _ffprobe(path: Path, *args: str) -> dict[str, Any]:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", *args, "-of", "json", str(path)]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def test_broadcast_is_29_97_interlaced_mpeg2_top_field_first(tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    path = tiny_reel / truth["broadcast"]["path"]
    assert path.name == "broadcast.mpg"
    stream = _ffprobe(path, "-count_frames", "-show_streams")["streams"][0]
    assert stream["codec_name"] == "mpeg2video"
    assert (stream["width"], stream["height"]) == (720, 480)
    assert stream["r_frame_rate"] == "30000/1001"
    assert stream["field_order"] == "tt"
    assert stream["sample_aspect_ratio"] == "8:9" and stream["display_aspect_ratio"] == "4:3"
    assert stream["pix_fmt"] == "yuv420p"
    assert (stream["color_space"], stream["color_transfer"], stream["color_primaries"]) == ("smpte170m",) * 3
    assert stream["color_range"] == "tv"
    assert int(stream["nb_read_frames"]) == truth["broadcast"]["frame_count"] == len(truth["telecine"])
    frames = _ffprobe(path, "-read_intervals", "%+#6", "-show_entries", "frame=interlaced_frame,top_field_first",
                      "-show_frames")["frames"]  # fmt: skip
    assert len(frames) == 6
    assert all(f["interlaced_frame"] == 1 and f["top_field_first"] == 1 for f in frames)


def test_film_sequence_reads_with_openimageio(tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    film = truth["film"]
    assert film["pattern"] == "film/film.%06d.dpx" and film["fps"] == "24000/1001"
    names = sorted(p.name for p in (tiny_reel / "film").iterdir())
    assert names == [Path(film["pattern"] % i).name for i in range(film["frame_count"])]
    w, h = film["size"]
    assert (w, h) == PRESETS["tiny"].film_size
    for i in range(film["frame_count"]):
        inp = oiio.ImageInput.open(str(tiny_reel / (film["pattern"] % i)))
        assert inp is not None, oiio.geterror()
        spec = inp.spec()
        assert (spec.width, spec.height, spec.nchannels) == (w, h, 3)
        assert spec.get_int_attribute("oiio:BitsPerSample") == 10
        if i in (0, film["frame_count"] - 1):
            pixels = inp.read_image("float")
            assert pixels.shape == (h, w, 3) and 0.0 <= pixels.min() and pixels.max() <= 1.0
            assert pixels.std() > 0.02  # a picture, not a flat card
        inp.close()
    _, meta = read_image(tiny_reel / (film["pattern"] % 0))
    assert meta.timecode == film["timecode_start"] == "01:00:00:00"
    assert float(meta.frame_rate) == pytest.approx(24000 / 1001)


def test_truth_is_consistent(tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    preset = PRESETS["tiny"]
    shots = truth["shots"]
    n24 = truth["frames24p"]["count"]
    assert truth["preset"] == "tiny" and truth["seed"] == 1 and truth["version"] == 1
    assert set(truth["conventions"]) >= {"geometry", "colour", "indices", "telecine"}
    assert truth["leader_frames"] == preset.leader_frames
    assert truth["pulldown_phase"] == preset.pulldown_phase
    assert [s["index"] for s in shots] == list(range(preset.n_shots))
    # shots tile the 24p sequence after the leader
    assert truth["cuts_24p"] == [s["first_24p"] for s in shots]
    assert shots[0]["first_24p"] == truth["leader_frames"]
    for a, b in itertools.pairwise(shots):
        assert b["first_24p"] == a["last_24p"] + 1
    assert shots[-1]["last_24p"] == n24 - 1
    assert all(s["last_24p"] - s["first_24p"] + 1 == s["n_frames"] for s in shots)
    lengths = [s["n_frames"] for s in shots]
    assert all(preset.shot_frames[0] <= n <= preset.shot_frames[1] for n in lengths)
    assert len(set(lengths)) > 1
    # cuts at every 3:2 cadence position
    assert {(c + truth["pulldown_phase"]) % 4 for c in truth["cuts_24p"]} == {0, 1, 2, 3}
    # film numbering: contiguous over surviving shots, missing shots kept under truth/
    film_next = 0
    for s in shots:
        assert s["missing_film"] == (s["index"] in preset.missing_film)
        if s["missing_film"]:
            assert s["film_first"] is None
            kept = sorted((tiny_reel / s["film_missing_pattern"]).parent.iterdir())
            assert len(kept) == s["n_frames"]
        else:
            assert s["film_first"] == film_next
            film_next += s["n_frames"]
        assert s["source_image"] == s["camera"]["source"]
        assert set(s["geometry"]) >= {"sx", "sy", "tx", "ty", "k1", "cx", "cy"}
        assert (s["geometry"]["cx"], s["geometry"]["cy"]) == (359.5, 239.5)
    assert truth["film"]["frame_count"] == film_next
    assert len({s["source_image"] for s in shots}) == len(shots)
    # the 24p frames and the telecine
    pngs = sorted((tiny_reel / truth["frames24p"]["pattern"]).parent.iterdir())
    assert [p.name for p in pngs] == [Path(truth["frames24p"]["pattern"] % i).name for i in range(n24)]
    mapping = telecine.telecine_mapping(n24, truth["pulldown_phase"], "t")
    assert truth["telecine"] == [list(p) for p in mapping]
    big_n = n24 + truth["pulldown_phase"]
    k = (0, 1, 3, 4)[truth["pulldown_phase"]]
    assert truth["broadcast"]["frame_count"] == (5 * (big_n // 2) + 2 * (big_n % 2)) // 2 - k
    assert {src for pair in truth["telecine"] for src in pair} == set(range(n24))
    assert truth["broadcast"] | {"path": None} == {
        "path": None, "size": [720, 480], "fps": "30000/1001", "field_order": "tff", "pixel_aspect": "8/9",
        "codec": "mpeg2video", "frame_count": len(mapping),
    }  # fmt: skip


def test_every_broadcast_field_comes_from_the_24p_frame_truth_names(tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    pattern = truth["frames24p"]["pattern"]
    refs = np.stack(
        [reference_luma(read_image(tiny_reel / (pattern % i))[0]) for i in range(truth["frames24p"]["count"])]
    )
    decoded = decode_luma(tiny_reel / truth["broadcast"]["path"])
    sources, margins = match_fields(decoded, refs)
    assert sources == truth["telecine"]
    # dB: the right frame beats every other one clearly (1.5-2 dB where a zoom starts slowly, ~7 typically)
    assert min(margins) > 1.0


def _gray8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(255 * (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32))).astype(np.uint8)


def _local_shifts(film: np.ndarray, broadcast: np.ndarray, geom: ShotGeometry) -> np.ndarray:
    """Residual (dx, dy) film px between the film and the broadcast pulled back onto the film raster by
    ``film_to_broadcast`` (the forward map, independent of the renderer's inverse), measured by phase
    correlation in five 128x128 windows (four corners and the centre): (5, 2)."""
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    h, w = film.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    xb, yb = film_to_broadcast(xx, yy, geom)
    pulled = cv2.remap(broadcast @ luma, xb.astype(np.float32), yb.astype(np.float32), cv2.INTER_CUBIC)
    pulled = cv2.GaussianBlur(pulled, (0, 0), 0.5)
    reference = cv2.GaussianBlur(film @ luma, (0, 0), 1.0)  # about the broadcast's blur, and less grain
    window = cv2.createHanningWindow((128, 128), cv2.CV_64F)
    shifts = []
    for y0, x0 in ((40, 40), (40, w - 168), (h - 168, 40), (h - 168, w - 168), (h // 2 - 64, w // 2 - 64)):
        a = reference[y0 : y0 + 128, x0 : x0 + 128].astype(np.float64)
        b = pulled[y0 : y0 + 128, x0 : x0 + 128].astype(np.float64)
        shifts.append(cv2.phaseCorrelate(a, b, window)[0])
    return np.array(shifts)


def test_truth_geometry_matches_the_pictures(tiny_reel: Path) -> None:
    """The film frame and its 24p broadcast frame line up, to a small fraction of a pixel everywhere,
    under the truth's film_to_broadcast; a half-pixel slip or a missing barrel term is seen at once."""
    truth = _truth(tiny_reel)
    checked = 0
    for shot in truth["shots"]:
        if shot["missing_film"]:
            continue
        k = shot["n_frames"] // 2
        film, _ = read_image(tiny_reel / (truth["film"]["pattern"] % (shot["film_first"] + k)))
        broadcast, _ = read_image(tiny_reel / (truth["frames24p"]["pattern"] % (shot["first_24p"] + k)))
        g = shot["geometry"]
        assert np.abs(_local_shifts(film, broadcast, ShotGeometry.from_dict(g))).max() < 0.25, shot["index"]
        no_barrel = _local_shifts(film, broadcast, ShotGeometry.from_dict(g | {"k1": 0.0}))
        assert np.abs(no_barrel[:4]).max() > 0.5  # the corners move by ~1 film px without the barrel
        slipped = _local_shifts(film, broadcast, ShotGeometry.from_dict(g | {"tx": g["tx"] + 0.5}))
        assert slipped[:, 0].mean() < -0.15  # half a broadcast pixel is a third of a film pixel here
        checked += 1
    assert checked >= 2


def test_shots_move_and_cuts_show(tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    pattern = truth["frames24p"]["pattern"]

    def frame(i: int) -> np.ndarray:
        return read_image(tiny_reel / (pattern % i))[0]

    for shot in truth["shots"]:
        a, b, c = frame(shot["first_24p"]), frame(shot["first_24p"] + 1), frame(shot["last_24p"])
        inside = np.abs(a - b).mean()
        assert np.abs(a - c).mean() > inside  # the camera moves through the shot
        before = frame(shot["first_24p"] - 1)  # the leader's last frame or the previous shot's last
        assert np.abs(before - a).mean() > 3 * inside, shot["index"]
        assert shot["camera"]["pan_px_per_frame"] + shot["camera"]["zoom_px_per_frame"] > 0.8


def test_broadcast_frames_are_degraded_versions_of_the_film(tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    luma = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    errors = []
    for shot in truth["shots"]:
        if shot["missing_film"]:
            continue
        film, _ = read_image(tiny_reel / (truth["film"]["pattern"] % shot["film_first"]))
        broadcast, _ = read_image(tiny_reel / (truth["frames24p"]["pattern"] % shot["first_24p"]))
        framed = warp_to_broadcast(film, framing_maps(ShotGeometry.from_dict(shot["geometry"])))
        # the same picture ...
        assert np.corrcoef((broadcast @ luma).ravel(), (framed @ luma).ravel())[0, 1] > 0.9
        # ... graded differently: lower contrast (raised blacks, lowered whites) and warmer
        assert np.percentile(broadcast @ luma, 1) > np.percentile(framed @ luma, 1)
        assert np.percentile(broadcast @ luma, 99) < np.percentile(framed @ luma, 99)

        # ... with less fine detail (lens blur)
        def detail(plane: np.ndarray) -> float:
            return float(np.abs(np.diff(cv2.GaussianBlur(plane, (0, 0), 0.7), axis=1)).mean())

        assert detail(broadcast @ luma) < detail(framed @ luma)
        # ... and chroma smeared as truth says: above the low-frequency noise's band, the broadcast's Cb/Cr
        # are closer to the (graded, lens-blurred) film's chroma blurred by chroma_sigma_x/y than to its
        # sharp chroma.
        noise = truth["degradation"]
        graded = cv2.GaussianBlur(apply_grade(framed, _grade(truth)), (0, 0), noise["lens_sigma"])
        _, *film_c = rgb_to_ycbcr(graded, matrix="bt601", range="full")
        _, *broadcast_c = rgb_to_ycbcr(broadcast, matrix="bt601", range="full")
        for fc, bc in zip(film_c, broadcast_c):
            smeared = cv2.GaussianBlur(
                fc, (0, 0), sigmaX=noise["chroma_sigma_x"], sigmaY=noise["chroma_sigma_y"]
            )
            err_smeared, err_sharp = _high_pass_mse(bc, smeared), _high_pass_mse(bc, fc)
            assert err_smeared < err_sharp, shot["index"]
            errors.append((err_smeared, err_sharp))
    smeared_total, sharp_total = np.sum(errors, axis=0)
    assert smeared_total < 0.6 * sharp_total


def _high_pass_mse(a: np.ndarray, b: np.ndarray) -> float:
    d = a - b
    d = d - cv2.GaussianBlur(d, (0, 0), 5.0)
    return float(np.mean(d * d))


def _grade(truth: dict[str, Any]) -> Grade:
    g = truth["grade"]
    return Grade(
        matrix=tuple(tuple(r) for r in g["matrix"]), lift=tuple(g["lift"]), gamma=tuple(g["gamma"]),
        gain=tuple(g["gain"]),
    )  # fmt: skip


def test_the_grade_is_warmer_and_flatter(tiny_reel: Path) -> None:
    grey = np.linspace(0.0, 1.0, 11, dtype=np.float32)[None, :, None].repeat(3, axis=2)
    graded = apply_grade(grey, _grade(_truth(tiny_reel)))[0]
    assert np.all(graded[1:, 0] > graded[1:, 2])  # neutral greys turn warm: red above blue
    assert np.all(graded[0] > 0.02) and np.all(graded[-1] < 0.97)  # raised blacks, lowered whites


def test_missing_film_frames_are_kept_as_truth(tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    missing = [s for s in truth["shots"] if s["missing_film"]]
    assert missing
    for shot in missing:
        img, meta = read_image(tiny_reel / (shot["film_missing_pattern"] % 0))
        assert img.shape == (truth["film"]["size"][1], truth["film"]["size"][0], 3)
        assert meta.bit_depth == "10"
