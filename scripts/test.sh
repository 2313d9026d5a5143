#!/usr/bin/env bash
# The test suite, in two pytest processes: the training tests (torch, DDP launches, loader workers) apart
# from the rest (the runtimes: onnxruntime, OpenVINO). A process that has loaded OpenVINO's thread pools
# and torch's crashed (SIGSEGV) when it later started processes; production never mixes them in one
# process either (training and rendering are separate runs). Extra arguments go to both runs.
#
# The first run spreads its test files over two pytest-xdist workers (one per core of the 2-core machines
# the suite is budgeted on; REMASTER_TEST_WORKERS overrides): most tests are single-threaded (a CLI in
# a subprocess, a decode, a small model), so two workers nearly halve the wall time (54 -> 32 min
# measured on one loaded machine). ``--dist loadfile`` keeps
# a file's tests on one worker, so a module's fixture (the demo's whole pipeline) is built once. The
# training run stays in one process: its DDP and loader tests start processes of their own.
set -uo pipefail
cd "$(dirname "$0")/.."
workers="${REMASTER_TEST_WORKERS:-2}"
.venv/bin/python -m pytest -q -n "$workers" --dist loadfile --ignore=tests/training "$@"
first=$?
.venv/bin/python -m pytest -q tests/training "$@"
second=$?
if [[ $first -ne 0 ]]; then
    exit $first
fi
exit $second
