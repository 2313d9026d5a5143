"""A render/reference ratio that is always a finite number or None with the reason why.

Every film-look measure is reported as the render's value, the reference's value and their ratio
(1 = the render looks like the film). A ratio to (almost) nothing is not reported: a reference below
the measure's floor (no grain in a digital source, no change in a still frame) gives ``ratio=None``
and a reason, and the two values stay there to read. No NaN or infinity ever reaches a report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Ratio:
    """``render / reference`` of one measure.

    Attributes:
        ratio: the ratio (>= 0), or None (``reason`` says why).
        render, reference: the two values in the measure's units, or None where nothing was measured.
        reason: why ``ratio`` is None; None when it is a number.
        interval: (low, high), where the ratio would lie 90 % of the time had other samples of the same
            pictures been measured (the grain's: ``look.grain``), or None where not estimated.
    """

    ratio: float | None
    render: float | None
    reference: float | None
    reason: str | None = None
    interval: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, float | str | list[float] | None]:
        """JSON-able: ``{"ratio", "render", "reference", "reason", "interval"}`` (interval: [low, high]
        or None)."""
        return {
            "ratio": self.ratio,
            "render": self.render,
            "reference": self.reference,
            "reason": self.reason,
            "interval": None if self.interval is None else [self.interval[0], self.interval[1]],
        }


def unmeasured(reason: str) -> Ratio:
    """A ratio with no support at all (nothing to measure it on)."""
    return Ratio(None, None, None, reason)


def ratio_of(render: float, reference: float, *, floor: float, what: str) -> Ratio:
    """``render / reference``, or None with a reason when ``reference`` is below ``floor``.

    Args:
        render, reference: the two values (finite, >= 0), in the units of ``floor``.
        floor: the smallest reference value worth a ratio (> 0).
        what: the measure in words, for the reason (``"grain"``, ``"detail"``...).
    """
    if not (math.isfinite(render) and math.isfinite(reference)):
        raise ValueError(f"{what}: non-finite values {render} / {reference}")
    if reference < floor:
        return Ratio(
            None, render, reference,
            f"the reference has no measurable {what} ({reference:.3g}, below {floor:.3g}); "
            "read the render's value on its own",
        )  # fmt: skip
    return Ratio(render / reference, render, reference)
