#!/usr/bin/env bash
# The test suite, in two pytest processes: the training tests (torch, DDP launches, loader workers) apart
# from the rest (the runtimes: onnxruntime, OpenVINO). A process that has loaded OpenVINO's thread pools
# and torch's crashed (SIGSEGV) when it later started processes; production never mixes them in one
# process either (training and rendering are separate runs). Extra arguments go to both runs.
#
# The first run spreads its test files over two pytest-xdist workers (one per core of the 2-core machines
# the suite is budgeted on; REMASTER_TEST_WORKERS overrides): most tests are single-threaded (a CLI in
# a subprocess, a decode, a small model), so two workers nearly halve the wall time (54 -> 32 min
# measured on one loaded machine). ``--dist loadfile`` keeps a file's tests on one worker, so a module's
# fixture (the demo's whole pipeline) is built once; ``--no-loadscope-reorder`` hands the files out in
# collection order, where tests/conftest.py puts the longest first (xdist's own order, most tests
# first, left the demo's ~400 s file to run alone at the end). The training run stays in one process
# (its DDP and loader tests start processes of their own) and runs beside the first one, its output
# held until the first one ends (REMASTER_TEST_SERIAL=1 runs them one after the other). Idle 2-core
# machine, 2026-12-05: 16.6 min (serial, xdist's order) -> 14.9 (training beside) -> 12.1 (longest first).
set -uo pipefail
cd "$(dirname "$0")/.."
workers="${REMASTER_TEST_WORKERS:-2}"
training_log="$(mktemp "${TMPDIR:-/tmp}/remaster-training-tests.XXXXXX")"
trap 'rm -f "$training_log"' EXIT
if [[ "${REMASTER_TEST_SERIAL:-0}" == "1" ]]; then
    .venv/bin/python -m pytest -q -n "$workers" --dist loadfile --no-loadscope-reorder --ignore=tests/training "$@"
    first=$?
    .venv/bin/python -m pytest -q tests/training "$@"
    second=$?
else
    .venv/bin/python -m pytest -q tests/training "$@" >"$training_log" 2>&1 &
    training=$!
    .venv/bin/python -m pytest -q -n "$workers" --dist loadfile --no-loadscope-reorder --ignore=tests/training "$@"
    first=$?
    wait "$training"
    second=$?
    echo "---- tests/training (run beside the above) ----"
    cat "$training_log"
fi
if [[ $first -ne 0 ]]; then
    exit $first
fi
exit $second
