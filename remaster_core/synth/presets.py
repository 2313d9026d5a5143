"""Named sizes of synthetic reel: ``tiny`` for tests, ``small`` for quick experiments, ``default``.

- ``tiny``: 4 shots of 6-11 frames, film 480x360 (so the film is *magnified* into the 720x480
  broadcast: nominal sx = 1.5, sy = 1.333), leader 4, shot 2 without film, pulldown phase 2. Builds in a
  few seconds on 2 cores.
- ``small``: 5 shots of 20-40 frames, film 960x720 (nominal sx = 0.75, sy = 0.667), leader 8, shot 3
  without film, pulldown phase 1.
- ``default``: 8 shots of 30-60 frames, film 960x720, leader 8, shots 2 and 5 without film, pulldown
  phase 3.

Shot indices are 0-based everywhere (CLI, ``truth.json``). Every preset has at least 4 shots and a
shot-length range at least 4 wide, so the cuts can be placed at all four 3:2 cadence positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from remaster_core.errors import InputError
from remaster_core.node_params import MAX_SIDE
from remaster_core.synth.scenes import GrainParams

MAX_SHOTS = 1000
"""Most shots in a synthetic reel."""
MAX_SHOT_FRAMES = 10_000
"""Longest synthetic shot, film frames."""
MAX_LEADER_FRAMES = 10_000
"""Longest leader, frames."""


@dataclass(frozen=True)
class Preset:
    """Everything that sizes a synthetic reel (the seed then draws the rest).

    Attributes:
        name: the preset's name, recorded in ``truth.json``.
        film_size: (W, H) of the film scan, square pixels.
        n_shots: number of shots.
        shot_frames: (min, max) film frames per shot, inclusive.
        leader_frames: broadcast-only leader frames before the first shot.
        missing_film: 0-based indices of shots whose film does not survive.
        pulldown_phase: cadence position 0..3 of the first 24p frame (see ``telecine``).
        grain: film grain.
    """

    name: str
    film_size: tuple[int, int]
    n_shots: int
    shot_frames: tuple[int, int]
    leader_frames: int
    missing_film: tuple[int, ...]
    pulldown_phase: int
    grain: GrainParams = field(default_factory=GrainParams)

    def validated(self) -> Preset:
        """Return self, or raise ``InputError`` saying which setting is impossible."""
        lo, hi = self.shot_frames
        if not 1 <= self.n_shots <= MAX_SHOTS:
            raise InputError(f"--shots: a reel has 1 to {MAX_SHOTS} shots, got {self.n_shots}")
        if not 2 <= lo <= hi <= MAX_SHOT_FRAMES:
            raise InputError(f"shot lengths {lo}-{hi}: need 2 <= min <= max")
        if not 0 <= self.leader_frames <= MAX_LEADER_FRAMES:
            raise InputError(
                f"--leader-frames: the leader has 0 to {MAX_LEADER_FRAMES} frames, got {self.leader_frames}"
            )
        if self.pulldown_phase not in (0, 1, 2, 3):
            raise InputError(f"pulldown phase must be 0, 1, 2 or 3, got {self.pulldown_phase}")
        bad = [i for i in self.missing_film if not 0 <= i < self.n_shots]
        if bad:
            raise InputError(
                f"missing-film shot(s) {bad} do not exist: shots are numbered 0..{self.n_shots - 1}"
            )
        if len(set(self.missing_film)) >= self.n_shots:
            raise InputError("every shot is flagged missing film: at least one shot must keep its film")
        w, h = self.film_size
        if w < 64 or h < 48 or max(w, h) > MAX_SIDE:
            raise InputError(f"film size {w}x{h}: must be at least 64x48 and at most {MAX_SIDE} px a side")
        return self


PRESETS: dict[str, Preset] = {
    "tiny": Preset("tiny", (480, 360), 4, (6, 11), 4, (2,), 2),
    "small": Preset("small", (960, 720), 5, (20, 40), 8, (3,), 1),
    "default": Preset("default", (960, 720), 8, (30, 60), 8, (2, 5), 3),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``; ``InputError`` listing the choices otherwise."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def with_overrides(
    preset: Preset,
    *,
    n_shots: int | None = None,
    missing_film: tuple[int, ...] | None = None,
    pulldown_phase: int | None = None,
    leader_frames: int | None = None,
) -> Preset:
    """``preset`` with the given fields replaced (None keeps the preset's), validated.

    Reducing ``n_shots`` drops missing-film flags of shots that no longer exist unless
    ``missing_film`` is given explicitly.
    """
    changes: dict[str, object] = {}
    if n_shots is not None:
        changes["n_shots"] = n_shots
        if missing_film is None:
            changes["missing_film"] = tuple(i for i in preset.missing_film if i < n_shots)
    if missing_film is not None:
        changes["missing_film"] = tuple(sorted(set(missing_film)))
    if pulldown_phase is not None:
        changes["pulldown_phase"] = pulldown_phase
    if leader_frames is not None:
        changes["leader_frames"] = leader_frames
    return replace(preset, **changes).validated()  # type: ignore[arg-type]
