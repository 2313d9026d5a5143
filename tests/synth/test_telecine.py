"""3:2 telecine: the simulated field mapping, and real ffmpeg encodes decoded field by field."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from remaster_core.io.images import ImageMeta, write_image
from remaster_core.synth import telecine
from tests.synth.fieldmatch import decode_luma, match_fields, reference_luma

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg CLI")


def test_phase_0_is_the_classic_2_3_cadence() -> None:
    assert telecine.telecine_mapping(8, 0) == [
        (0, 0), (1, 1), (1, 2), (2, 3), (3, 3), (4, 4), (5, 5), (5, 6), (6, 7), (7, 7),
    ]  # fmt: skip
    # bottom field first: the held-over field is the bottom one
    assert telecine.telecine_mapping(4, 0, "b")[:5] == [(0, 0), (1, 1), (2, 1), (3, 2), (3, 3)]


@pytest.mark.parametrize("first_field", ["t", "b"])
@pytest.mark.parametrize("phase", [0, 1, 2, 3])
def test_mapping_counts_and_cadence(phase: int, first_field: str) -> None:
    k = (0, 1, 3, 4)[phase]
    for n in range(4, 40):
        mapping = telecine.telecine_mapping(n, phase, first_field)
        big_n = n + phase
        assert len(mapping) == (5 * (big_n // 2) + 2 * (big_n % 2)) // 2 - k
        fields = [src for pair in mapping for src in pair]
        # fields appear in display order: non-decreasing once put in temporal order
        ordered = [src for t, b in mapping for src in ((t, b) if first_field == "t" else (b, t))]
        assert ordered == sorted(ordered)
        counts = np.bincount(fields, minlength=n)
        # every interior 24p frame is held for the fields its cadence position gives (A, C: 2; B, D: 3)
        for i in range(1, n - 1):
            assert counts[i] == (2, 3, 2, 3)[(i + phase) % 4], (n, phase, i)
        # the first frame loses the fields that fell in trimmed output frames
        assert counts[0] == {0: 2, 1: 3, 2: 1, 3: 2}[phase]
        assert counts[n - 1] >= 1


def test_phase_names_the_first_frames_cadence_position() -> None:
    # Phase p: the phase-0 cadence of a run p frames longer, minus every output frame holding one of the
    # first p frames: 24p frame 0 then sits at position p (A, B, C, D) of AA BB BC CD DD.
    base = telecine.telecine_mapping(40, 0)
    for phase in (1, 2, 3):
        shifted = [(t - phase, b - phase) for t, b in base if t >= phase and b >= phase]
        assert telecine.telecine_mapping(40 - phase, phase) == shifted


def _distinct_frames(n: int) -> np.ndarray:
    """n 720x480 uint8 RGB frames that differ clearly in every field: a moving smooth texture and a number."""
    rng = np.random.default_rng(3)
    base = cv2.GaussianBlur(rng.random((480, 720, 3), dtype=np.float32), (0, 0), 6.0)
    base = np.rint(255 * (base - base.min()) / (base.max() - base.min())).astype(np.uint8)
    frames = []
    for i in range(n):
        f = np.roll(base, 9 * i, axis=1).copy()
        cv2.putText(f, str(i), (260, 330), cv2.FONT_HERSHEY_SIMPLEX, 8, (255, 255, 255), 20)
        frames.append(f)
    return np.stack(frames)


def _ffprobe(path: Path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_streams", "-of", "json",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)["streams"][0]


@needs_ffmpeg
@pytest.mark.parametrize(
    ("codec", "phase", "codec_name", "field_order"),
    [("mpeg2", 0, "mpeg2video", "tt"), ("mpeg2", 3, "mpeg2video", "tt"), ("dv", 1, "dvvideo", "bb"),
     ("prores", 2, "prores", "tt")],
)  # fmt: skip
def test_encoded_fields_follow_the_mapping(
    tmp_path: Path, codec: str, phase: int, codec_name: str, field_order: str
) -> None:
    n = 11
    frames = _distinct_frames(n)
    meta = ImageMeta(extra={"png:compressionLevel": 1})
    for i, f in enumerate(frames):
        write_image(tmp_path / f"frame.{i:06d}.png", f, bit_depth="8", meta=meta)
    spec = telecine.CODECS[codec]
    out = tmp_path / f"broadcast{spec.extension}"
    telecine.encode_broadcast(tmp_path / "frame.%06d.png", n, out, codec=codec, phase=phase)

    info = _ffprobe(out)
    mapping = telecine.telecine_mapping(n, phase, spec.first_field)
    assert info["codec_name"] == codec_name
    assert info["r_frame_rate"] == "30000/1001"
    assert info["field_order"] == field_order
    assert info["sample_aspect_ratio"] == "8:9"
    assert info["color_space"] == "smpte170m" and info["color_primaries"] == "smpte170m"
    assert int(info["nb_read_frames"]) == len(mapping)

    refs = np.stack([reference_luma(f.astype(np.float32) / 255) for f in frames])
    sources, margins = match_fields(decode_luma(out), refs)
    assert sources == [list(p) for p in mapping]
    assert min(margins) > 3.0


def test_encode_reports_ffmpeg_failure(tmp_path: Path) -> None:
    from remaster_core.errors import MediaError

    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg CLI")
    with pytest.raises(MediaError, match="ffmpeg failed"):
        telecine.encode_broadcast(
            tmp_path / "nothing.%06d.png", 10, tmp_path / "b.mpg", codec="mpeg2", phase=0
        )
    assert not (tmp_path / "b.mpg").exists()


def test_missing_ffmpeg_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from remaster_core.errors import MediaError

    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(MediaError, match="ffmpeg was not found on PATH"):
        telecine.ffmpeg_binary()
