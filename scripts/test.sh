#!/usr/bin/env bash
# The test suite, in two pytest processes: the training tests (torch, DDP launches, loader workers) apart
# from the rest (the runtimes: onnxruntime, OpenVINO). A process that has loaded OpenVINO's thread pools
# and torch's crashed (SIGSEGV) when it later started processes; production never mixes them in one
# process either (training and rendering are separate runs). Extra arguments go to both runs.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q --ignore=tests/training "$@"
first=$?
.venv/bin/python -m pytest -q tests/training "$@"
second=$?
if [[ $first -ne 0 ]]; then
    exit $first
fi
exit $second
