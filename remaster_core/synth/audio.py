"""A click track for a synthetic broadcast, so audio sync can be measured (``remaster synth --audio clicks``).

One click at the start of every shot: a ``CLICK_SECONDS`` long ``CLICK_HZ`` tone burst (Hann window),
starting at the broadcast time of the shot's first field (the first field in time that holds the
shot's first 24p frame: field f is at ``f * 1001 / 60000`` s from the broadcast's first frame), silence
elsewhere. Mono, ``RATE`` Hz, as long as the broadcast (``frames * 1001 / 30000`` s). The click's
centre is ``CLICK_SECONDS / 2`` after its start; ``click_times`` gives the starts, ``find_clicks``
finds the centres again in decoded audio.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from remaster_core.io.atomic import atomic_path

RATE = 48000
CLICK_HZ = 1000.0
CLICK_SECONDS = 0.005
FIELD_SECONDS = 1001 / 60000


def first_fields(mapping: Sequence[Sequence[int]], first_field: str) -> dict[int, int]:
    """24p index -> the first field (in time, 2j or 2j+1 of broadcast frame j) that shows it.

    Args:
        mapping: ``telecine_mapping``: (top_src, bottom_src) per broadcast frame.
        first_field: "t" or "b", the field first in time.
    """
    out: dict[int, int] = {}
    for j, (top, bottom) in enumerate(mapping):
        order = (top, bottom) if first_field == "t" else (bottom, top)
        for k, src in enumerate(order):
            out.setdefault(int(src), 2 * j + k)
    return out


def click_times(
    mapping: Sequence[Sequence[int]], first_field: str, shot_starts_24p: Sequence[int]
) -> list[float]:
    """Start of each shot's click, in seconds from the broadcast's first frame."""
    fields = first_fields(mapping, first_field)
    return [fields[i] * FIELD_SECONDS for i in shot_starts_24p if i in fields]


def click_track(duration: float, starts: Sequence[float]) -> np.ndarray:
    """float32 (N,) samples in -1..1: a click at each of ``starts`` (seconds), silence elsewhere."""
    samples = np.zeros(round(duration * RATE), np.float32)
    n = round(CLICK_SECONDS * RATE)
    t = np.arange(n) / RATE
    burst = (0.8 * np.sin(2 * np.pi * CLICK_HZ * t) * np.hanning(n)).astype(np.float32)
    for start in starts:
        a = round(start * RATE)
        b = min(a + n, samples.size)
        if 0 <= a < b:
            samples[a:b] += burst[: b - a]
    return samples


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> None:
    """Write mono float samples as 16-bit PCM WAV, atomically."""
    pcm = np.clip(np.rint(samples * 32767), -32768, 32767).astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def find_clicks(samples: np.ndarray, rate: int, *, threshold: float = 0.25) -> list[float]:
    """Centres (seconds) of the clicks in mono ``samples``: energy centroids of the bursts.

    A burst is where the 1 ms moving RMS exceeds ``threshold`` times its maximum; bursts closer than
    50 ms are one.
    """
    x = np.asarray(samples, np.float64)
    if x.size == 0:
        return []
    win = max(1, rate // 1000)
    rms = np.sqrt(np.convolve(x * x, np.ones(win) / win, mode="same"))
    if rms.max() <= 0:
        return []
    loud = np.flatnonzero(rms > threshold * rms.max())
    groups: list[list[int]] = []
    for i in loud:
        if groups and i - groups[-1][-1] <= rate // 20:
            groups[-1].append(int(i))
        else:
            groups.append([int(i)])
    centres = []
    for g in groups:
        a, b = g[0], g[-1] + 1
        energy = x[a:b] ** 2
        centres.append(float(np.sum(np.arange(a, b) * energy) / max(np.sum(energy), 1e-20)) / rate)
    return centres
