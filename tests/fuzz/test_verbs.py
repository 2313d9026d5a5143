"""The CI part of the fuzzing sweep: the ``ci`` cases of ``sweep.py``, one real ``remaster`` subprocess each
(every verb; truncated, flipped, swapped, symlinked and NaN files, absurd numbers, hand-edited manifests,
an output over an input). Each must end in a clear error (or, where the mutation may leave a usable
input, success), with no traceback, no hang, nothing written outside its output folder, no input
changed, no temporary file left. ``bench/fuzz.py`` runs every case and more random mutations."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.fuzz import sweep

CI_CASES = [case for case in sweep.all_cases() if case.ci]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, tiny_reel: Path) -> sweep.Inputs:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    return sweep.build_inputs(tmp_path_factory.mktemp("fuzz-inputs"), reel=tiny_reel)


@pytest.fixture(scope="module")
def unchanged(inputs: sweep.Inputs) -> dict[str, str]:
    """The hashes of the shared inputs before the module's cases (checked again after each)."""
    return sweep.hashes([inputs.root])


def test_the_sweep_covers_every_verb_and_the_ci_part_too() -> None:
    from remaster_core.cli import VERBS

    verbs = {verb.name for verb in VERBS}
    assert {case.verb for case in sweep.all_cases()} == verbs
    assert {case.verb for case in CI_CASES} == verbs
    assert len({case.id for case in sweep.all_cases()}) == len(sweep.all_cases())


@pytest.mark.slow
@pytest.mark.parametrize("case", CI_CASES, ids=lambda case: case.id)
def test_a_hostile_input_gets_a_clear_error_and_touches_nothing(
    case: sweep.Case, inputs: sweep.Inputs, unchanged: dict[str, str], tmp_path: Path
) -> None:
    outcome = sweep.run_case(case, inputs, tmp_path / "case")
    if outcome.verdict == "skipped":
        pytest.skip(outcome.message)
    assert outcome.verdict in sweep.GOOD, (outcome.verdict, outcome.code, outcome.message, outcome.detail)
    assert sweep.hashes([inputs.root]) == unchanged
    shutil.rmtree(tmp_path / "case", ignore_errors=True)
