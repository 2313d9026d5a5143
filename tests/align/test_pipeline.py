"""``align()`` end to end on the tiny reel: PAIRS/ on disk checked against the truth, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster_core.align import AlignResult, align
from remaster_core.align.evaluate import corner_error, registration_error, truth_maps
from remaster_core.align.pairs import prepare_out
from remaster_core.align.transform import Transform4, inside_broadcast, nominal_transform, resample
from remaster_core.errors import InputError
from remaster_core.io.images import read_image, write_image
from tests.align import conform_from_truth
from tests.align.conftest import FAST


def _truth(reel: Path) -> dict:
    return json.loads((reel / "truth.json").read_text())


def test_align_json_describes_every_shot(tiny_pairs: AlignResult, tiny_reel: Path) -> None:
    doc = json.loads(tiny_pairs.align_json.read_text())
    truth = _truth(tiny_reel)
    assert [s["status"] for s in doc["shots"]] == ["no film", "aligned", "aligned", "no film", "aligned"]
    assert doc["output_format"] == {"width": 480, "height": 360, "pixel_aspect": 1.0}
    assert doc["broadcast"]["width"] == 720 and doc["broadcast"]["pixel_aspect"] == pytest.approx(8 / 9)
    assert "pixel" in doc["conventions"]["geometry"] and "relative" in doc["conventions"]["paths"]
    assert doc["summary"] == {"aligned": 3, "rejected": 0, "no film": 2, "pairs": 27}
    aligned = [e for e in doc["shots"] if e["status"] == "aligned"]
    for entry in doc["shots"]:
        assert set(entry["transform"]) == {"tx", "ty", "sx", "sy"}
        if entry["status"] == "no film":
            # the reel's framing: the median of the aligned shots' transforms and lens distortion
            for key in ("tx", "ty", "sx", "sy"):
                assert entry["transform"][key] == pytest.approx(
                    np.median([e["transform"][key] for e in aligned])
                )
            assert entry["distortion"]["k1"] == pytest.approx(
                np.median([e["distortion"]["k1"] for e in aligned])
            )
            assert entry["transform_source"] == f"median of aligned shots {[e['index'] for e in aligned]}"
            assert entry["input"] is None and entry["reason"]
            continue
        assert entry["transform_source"] == "aligned"
        shot = next(s for s in truth["shots"] if s["first_24p"] == entry["first"])
        assert (entry["broadcast_first"], entry["broadcast_last"]) == (shot["first_24p"], shot["last_24p"])
        assert entry["film_first"] == shot["film_first"] and entry["reason"] is None
        assert entry["distortion"]["k1"] == pytest.approx(shot["geometry"]["k1"], abs=0.003)
        res = entry["residuals"]
        assert res["flow_rms_px"] < 0.3 and 0.8 < res["valid_fraction"] < 1.0
        assert len(entry["frames"]) == entry["frame_count"] == shot["n_frames"]
        for key in ("input", "target", "mask"):
            for i in range(entry["broadcast_first"], entry["broadcast_last"] + 1):
                assert (tiny_pairs.out / (entry[key] % i)).is_file()


def test_four_parameter_transform_within_half_a_pixel_at_the_corners(
    tiny_pairs: AlignResult, tiny_reel: Path
) -> None:
    truth = _truth(tiny_reel)
    for entry in tiny_pairs.shots:
        if entry["status"] == "aligned":
            shot = next(s for s in truth["shots"] if s["first_24p"] == entry["first"])
            assert corner_error(Transform4.from_dict(entry["transform"]), shot["geometry"], (480, 360)) < 0.5


def test_written_inputs_match_the_truth_warped_broadcast(tiny_pairs: AlignResult, tiny_reel: Path) -> None:
    """The bar: RMS misalignment of the input frames on disk against the truth-warped broadcast."""
    truth = _truth(tiny_reel)
    for entry in tiny_pairs.shots:
        if entry["status"] != "aligned":
            continue
        shot = next(s for s in truth["shots"] if s["first_24p"] == entry["first"])
        mx, my = (m.astype(np.float32) for m in truth_maps(shot["geometry"], (480, 360)))
        for i in (entry["broadcast_first"], entry["broadcast_last"]):
            broadcast, _ = read_image(tiny_reel / (truth["frames24p"]["pattern"] % i))
            reference = resample(broadcast, mx, my)
            written, _ = read_image(tiny_pairs.out / (entry["input"] % i))
            mask = read_image(tiny_pairs.out / (entry["mask"] % i), channels=None)[0][..., 0] > 0.5
            valid = mask & inside_broadcast(mx, my, (720, 480))
            rms, blocks = registration_error(written, reference, valid)
            assert blocks >= 40 and rms <= 0.25, f"frame {i}: {rms:.3f} film px over {blocks} blocks"
            # same code values: the input is the broadcast resampled, nothing else
            assert np.abs(written - reference)[valid].mean() < 0.01
            assert written.shape == (360, 480, 3)


def test_targets_are_the_film_files_and_masks_are_8_bit(tiny_pairs: AlignResult, tiny_reel: Path) -> None:
    truth = _truth(tiny_reel)
    entry = next(e for e in tiny_pairs.shots if e["status"] == "aligned")
    i = entry["broadcast_first"] + 2
    film = tiny_reel / (truth["film"]["pattern"] % (entry["film_first"] + 2))
    assert (tiny_pairs.out / (entry["target"] % i)).read_bytes() == film.read_bytes()
    mask, meta = read_image(tiny_pairs.out / (entry["mask"] % i), channels=None)
    assert mask.shape == (360, 480, 1) and meta.bit_depth == "8" and set(np.unique(mask)) <= {0.0, 1.0}
    # the film frame overscans the broadcast: its border is invalid, its middle valid
    assert mask[0, :, 0].mean() < 0.5 and mask[150:210, 200:280].all()


def test_report_shows_overlays_and_residual_plots(tiny_pairs: AlignResult) -> None:
    text = tiny_pairs.report.read_text()
    for needle in (
        "nominal transform",
        "4-parameter fit",
        "final mapping",
        "checkerboard",
        "<svg",
        "data:image/",
    ):
        assert needle in text
    assert text.count("<h2>") == 3  # one section per aligned shot


def test_out_must_be_empty_unless_forced(tiny_reel: Path, tmp_path: Path) -> None:
    conform, film = conform_from_truth(
        tiny_reel, tmp_path / "conform", shots=[{"first": 0, "last": 3, "film_first": None}]
    )
    out = tmp_path / "pairs"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    prepare_out(out, force=True).start()  # an earlier align, interrupted (its marker says so) after writing:
    (out / "shot007").mkdir(parents=True)  # a stale shot of an earlier run
    (out / ".shot003.tmp-999").mkdir()  # what an interrupted run leaves
    with pytest.raises(InputError, match="not empty"):
        align(conform, out, film=str(film))
    result = align(conform, out, film=str(film), force=True)
    assert not (out / "shot007").exists() and not (out / ".shot003.tmp-999").exists()
    assert (out / "notes.txt").read_text() == "mine" and result.align_json.is_file()
    assert result.document["summary"] == {"aligned": 0, "rejected": 0, "no film": 1, "pairs": 0}


def test_bad_shots_are_rejected_with_a_reason_and_leave_no_pairs(tiny_reel: Path, tmp_path: Path) -> None:
    truth = _truth(tiny_reel)
    film_names = sorted(p.name for p in (tiny_reel / "film").iterdir())

    def black_36_to_39(i: int, src: Path, dest: Path) -> None:
        if 36 <= i <= 39:
            rng = np.random.default_rng(i)
            write_image(dest, (0.02 + rng.normal(0, 0.004, (480, 720, 3))).astype(np.float32), bit_depth="8")
        else:
            shutil.copyfile(src, dest)

    def resize_film_5(src: Path, dest: Path) -> None:
        if src.name == film_names[5]:
            write_image(dest, cv2.resize(read_image(src)[0], (640, 480)))
        else:
            shutil.copyfile(src, dest)

    shots = [
        {"first": 4, "last": 14, "film_first": 0},  # film frame 5 of another size
        {"first": 15, "last": 23, "film_first": 12},  # the film one frame late
        {"first": 25, "last": 33, "film_first": 0},  # another shot's film
        {"first": 34, "last": 35, "film_first": 21},  # too short
        {"first": 36, "last": 39, "film_first": 23},  # black broadcast
    ]
    conform, film = conform_from_truth(
        tiny_reel, tmp_path / "conform", shots=shots, frame_fn=black_36_to_39, film_fn=resize_film_5
    )
    result = align(conform, tmp_path / "pairs", film=str(film), params=FAST)
    reasons = [e["reason"] for e in result.shots]
    assert [e["status"] for e in result.shots] == ["rejected"] * 5, reasons
    assert "film frame 5" in reasons[0] and "640x480" in reasons[0] and film_names[5] in reasons[0]
    assert "temporal offset" in reasons[1] and "after" in reasons[1]
    assert "feature matches" in reasons[2] or "inliers" in reasons[2]
    assert "2 frame(s)" in reasons[3] and "--min-frames" in reasons[3]
    assert "dark, flat" in reasons[4]
    assert not list((tmp_path / "pairs").glob("shot*")) and not list((tmp_path / "pairs").glob(".shot*"))
    nominal = nominal_transform((720, 480), 8 / 9, tuple(truth["film"]["size"])).to_dict()
    assert all(e["transform"] == pytest.approx(nominal) for e in result.shots)
    assert all(e["transform_source"] == "nominal (no shot aligned)" for e in result.shots)


def test_bad_folders_and_sizes_are_input_errors(tiny_reel: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no conform.json"):
        align(tmp_path, tmp_path / "pairs", film=str(tiny_reel / "film"))

    def odd_frame_9(i: int, src: Path, dest: Path) -> None:
        if i == 9:
            write_image(dest, np.zeros((486, 720, 3), np.float32), bit_depth="8")
        else:
            shutil.copyfile(src, dest)

    conform, film = conform_from_truth(
        tiny_reel,
        tmp_path / "conform",
        shots=[{"first": 4, "last": 14, "film_first": 0}],
        frame_fn=odd_frame_9,
    )
    with pytest.raises(InputError, match=r"conformed frame 9 is 720x486"):
        align(conform, tmp_path / "pairs", film=str(film), params=FAST)
    with pytest.raises(InputError, match="no film frames|neither a folder"):
        align(conform, tmp_path / "pairs2", film=str(tmp_path / "nothing" / "film.%06d.dpx"))


@pytest.mark.slow
def test_worker_processes_do_not_change_the_result(
    tiny_pairs: AlignResult, tiny_conform: tuple[Path, Path], tmp_path: Path
) -> None:
    """``tiny_pairs`` aligned its three shots in worker processes; all in this process gives the same."""
    conform, film = tiny_conform
    alone = align(conform, tmp_path / "pairs", film=str(film), params=FAST, max_workers=1)
    assert [e["status"] for e in alone.shots] == [e["status"] for e in tiny_pairs.shots]
    for a, b in zip(alone.shots, tiny_pairs.shots, strict=True):
        assert a.get("transform") == pytest.approx(b.get("transform"), abs=1e-6)
        if a["status"] == "aligned":
            assert [f["valid_fraction"] for f in a["frames"]] == [f["valid_fraction"] for f in b["frames"]]
            i = a["broadcast_first"]
            mine = read_image(alone.out / (a["input"] % i))[0]
            assert np.abs(mine - read_image(tiny_pairs.out / (b["input"] % i))[0]).max() < 1e-3
    assert not list((tmp_path / "pairs").glob(".shot*"))


def test_frames_past_a_film_jump_are_paired_with_the_film_after_the_gap() -> None:
    """conform.json's ``film_jumps`` (film frames an edit after the telecine dropped inside a shot): the
    frames from the jump on are paired with the film from the jump's index on, and frames whose film
    index falls outside the scan get no pair."""
    from remaster_core.align.pipeline import ConformShot, _paired

    shot = ConformShot(3, 10, 19, 40, ((14, 47), (17, 52)))
    assert _paired(shot, 100) == [
        (10, 40), (11, 41), (12, 42), (13, 43), (14, 47), (15, 48), (16, 49), (17, 52), (18, 53), (19, 54),
    ]  # fmt: skip
    assert _paired(shot, 50) == [(10, 40), (11, 41), (12, 42), (13, 43), (14, 47), (15, 48), (16, 49)]
    assert _paired(ConformShot(0, 10, 12, 40), 100) == [(10, 40), (11, 41), (12, 42)]
