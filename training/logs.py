"""What a run writes for people to watch: ``RUN/metrics.jsonl``, TensorBoard, previews, a progress bar.

- ``RUN/metrics.jsonl``: one JSON object a line, ``{"kind": "train" | "val" | "event", "step": N,
  ...values}``; every training step is logged (its losses, learning rate, gradient norm, ``seconds``
  of the step itself and ``data_seconds`` waiting for its batch), so curves can be compared step for
  step. Non-finite values are written as ``null``. A resumed run first drops the
  lines past the checkpoint it resumes from (``truncate_metrics``), so the file reads as one run.
- ``RUN/tb/``: TensorBoard event files (``torch.utils.tensorboard``; scalars every ``log_every`` steps,
  validation scalars and preview images); if TensorBoard is not installed a warning says so and the run
  goes on with metrics.jsonl.
- ``RUN/previews/step_XXXXXXXX_<name>.png``: input | output | target side by side (8-bit, clipped to
  0..1), for people without TensorBoard.

Only rank 0 logs (``enabled=False`` elsewhere makes every method a no-op).
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from remaster_core.io.atomic import write_text_atomic
from remaster_core.io.images import write_image

log = logging.getLogger("remaster.train")

METRICS_FILE = "metrics.jsonl"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunLog:
    """Metrics, TensorBoard and previews of one run (see the module docstring)."""

    def __init__(self, run_dir: Path, *, enabled: bool, tensorboard: bool, start_step: int = 0) -> None:
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self._metrics = None
        self._tb: Any = None
        if not enabled:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._metrics = (self.run_dir / METRICS_FILE).open("a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # tensorboard is an optional part of the train extra
                log.warning("TensorBoard is not available (%s): logging to %s only", exc, METRICS_FILE)
            else:
                self._tb = SummaryWriter(
                    str(self.run_dir / "tb"), purge_step=start_step + 1 if start_step else None
                )

    def write(self, kind: str, step: int, values: dict[str, Any], *, tensorboard: bool = True) -> None:
        """One metrics line; with ``tensorboard``, numeric values also as scalars ``kind/name``."""
        if not self.enabled or self._metrics is None:
            return
        record = {"kind": kind, "step": step, **{k: _clean(v) for k, v in values.items()}}
        self._metrics.write(json.dumps(record) + "\n")
        self._metrics.flush()
        if tensorboard and self._tb is not None:
            for name, value in values.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                    self._tb.add_scalar(f"{kind}/{name}", value, step)

    def preview(self, step: int, name: str, panels: list[np.ndarray]) -> Path | None:
        """Write panels (float32 RGB (H, W, 3) each, same H) side by side as a PNG and to TensorBoard."""
        if not self.enabled:
            return None
        image = np.minimum(
            np.maximum(np.concatenate(panels, axis=1), np.float32(0.0)), np.float32(1.0)
        ).astype(np.float32)
        path = self.run_dir / "previews" / f"step_{step:08d}_{name}.png"
        write_image(path, image, bit_depth="8")
        if self._tb is not None:
            self._tb.add_image(f"preview/{name}", image, step, dataformats="HWC")
        return path

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: str | Path, kind: str | None = None) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl (of one ``kind`` if given); an unfinished last line is skipped."""
    records = []
    path = Path(path)
    if not path.is_file():
        return []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and (kind is None or record.get("kind") == kind):
            records.append(record)
    return records


def truncate_metrics(path: str | Path, last_step: int) -> None:
    """Keep only the records of steps <= ``last_step`` (atomically); for a resume from that step."""
    path = Path(path)
    if not path.is_file():
        return
    kept = [json.dumps(r) for r in read_metrics(path) if int(r.get("step", 0)) <= last_step]
    write_text_atomic(path, "".join(line + "\n" for line in kept))


class StepProgress:
    """Progress of the training loop: a tqdm bar with loss and lr on a terminal, else a log line every
    ``every`` steps (farm logs and CI have no terminal)."""

    def __init__(self, *, total: int, start: int, every: int, enabled: bool) -> None:
        self.total, self.every, self.enabled = total, every, enabled
        self._bar: Any = None
        self._start_time = time.monotonic()
        self._start_step = start
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=start, desc="train", unit="step", dynamic_ncols=True)

    def update(self, step: int, values: dict[str, float]) -> None:
        """``step`` steps are done; ``values`` go into the postfix / log line."""
        if not self.enabled:
            return
        text = {k: f"{v:.4g}" for k, v in values.items()}
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self._bar.set_postfix(text, refresh=False)
        elif step % self.every == 0 or step == self.total:
            rate = (step - self._start_step) / max(time.monotonic() - self._start_time, 1e-9)
            detail = " ".join(f"{k} {v}" for k, v in text.items())
            log.info("step %d/%d (%.2f steps/s) %s", step, self.total, rate, detail)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
