"""Planning a reel (no pixels): shot lengths at every cadence position, presets, overrides, errors."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from remaster_core.errors import InputError
from remaster_core.synth.presets import PRESETS, get_preset, with_overrides
from remaster_core.synth.reel import cadence_position, plan_reel, plan_shot_lengths
from remaster_core.synth.scenes import SOURCE_PICTURES, CameraPath, load_picture, sample_camera


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_puts_cuts_at_every_cadence_position(name: str) -> None:
    preset = PRESETS[name]
    for seed in range(12):
        plan = plan_reel(preset, seed)
        cuts = [s.first_24p for s in plan.shots]
        assert cuts[0] == preset.leader_frames
        assert {cadence_position(c, preset.pulldown_phase) for c in cuts} == {0, 1, 2, 3}
        lo, hi = preset.shot_frames
        assert all(lo <= s.n_frames <= hi for s in plan.shots)
        film = [s.film_first for s in plan.shots if not s.missing_film]
        assert film[0] == 0 and all(s.film_first is None for s in plan.shots if s.missing_film)
        assert [s.index for s in plan.shots if s.missing_film] == list(preset.missing_film)
        # consecutive shots film different pictures
        sources = [s.camera.source for s in plan.shots]
        assert all(a != b for a, b in itertools.pairwise(sources))


def test_shot_lengths_are_uneven_and_in_range() -> None:
    rng = np.random.default_rng(0)
    lengths = plan_shot_lengths(rng, 12, (30, 60), 8, 3)
    assert all(30 <= n <= 60 for n in lengths) and len(set(lengths)) > 3


def test_all_source_pictures_load_offline() -> None:
    for name in SOURCE_PICTURES:
        picture = load_picture(name)
        assert picture.ndim == 3 and picture.shape[2] == 3 and picture.dtype == np.float32
        assert min(picture.shape[:2]) >= 300 and 0.0 <= picture.min() and picture.max() <= 1.0


def test_camera_window_stays_inside_the_picture() -> None:
    rng = np.random.default_rng(4)
    for name in SOURCE_PICTURES:
        h, w = load_picture(name).shape[:2]
        for film_size in ((960, 720), (480, 360)):
            cam = sample_camera(rng, name, film_size, 60)
            for k in (0, 30, 59):
                cx, cy, s = cam.at(k)
                half_w, half_h = (film_size[0] - 1) / 2 * s, (film_size[1] - 1) / 2 * s
                assert 0 <= cx - half_w and cx + half_w <= w - 1
                assert 0 <= cy - half_h and cy + half_h <= h - 1
            d = cam.to_dict(film_size)
            assert d["pan_px_per_frame"] + d["zoom_px_per_frame"] > 0.8
            assert CameraPath.from_dict(json.loads(json.dumps(d))) == cam  # as truth.json holds it


def test_overrides_and_bad_settings() -> None:
    tiny = get_preset("tiny")
    assert with_overrides(tiny, n_shots=6).n_shots == 6
    assert with_overrides(tiny, n_shots=2).missing_film == ()  # shot 2 no longer exists
    assert with_overrides(tiny, missing_film=(0, 3)).missing_film == (0, 3)
    assert with_overrides(tiny, pulldown_phase=0, leader_frames=0).leader_frames == 0
    with pytest.raises(InputError, match="do not exist"):
        with_overrides(tiny, missing_film=(9,))
    with pytest.raises(InputError, match="at least one shot must keep its film"):
        with_overrides(tiny, missing_film=(0, 1, 2, 3))
    with pytest.raises(InputError, match="unknown preset"):
        get_preset("huge")
    with pytest.raises(InputError, match="pulldown phase"):
        with_overrides(tiny, pulldown_phase=4)
