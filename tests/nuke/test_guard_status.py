"""The Remaster node's status line shows the render guard's flag (issue 17): the frames the worker
reported as outside the model's training colours."""

from __future__ import annotations

from types import ModuleType


def test_the_status_line_names_the_guard_flagged_frames(session: ModuleType) -> None:
    from remaster_nuke import remaster_node

    clean = remaster_node.Report([1001, 1002], [], 1.0, ["CPUExecutionProvider"], [], False)
    assert "GUARD" not in remaster_node.summary(clean)
    flagged = clean._replace(guard_flagged={1002: 0.25, 1001: 0.02})
    text = remaster_node.summary(flagged)
    assert "GUARD: 2 frame(s) (1001, 1002)" in text and "25.0%" in text and "model's grade" in text


def test_the_status_line_names_the_frames_whose_grain_is_a_guess(session: ModuleType) -> None:
    """The worker's ``grain_extrapolated`` (frames lying mostly at levels where the film's grain was
    never measured) reaches the status line."""
    from remaster_nuke import remaster_node

    clean = remaster_node.Report([1001, 1002], [], 1.0, ["CPUExecutionProvider"], [], False)
    assert "GRAIN" not in remaster_node.summary(clean)
    text = remaster_node.summary(clean._replace(grain_extrapolated={1002: 0.9}))
    assert "GRAIN: 1 frame(s) (1002)" in text and "90%" in text and "never measured" in text
