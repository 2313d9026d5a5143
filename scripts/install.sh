#!/usr/bin/env bash
# Install remaster and everything it needs into ./.venv on a fresh Debian machine.
#
#   bash scripts/install.sh          runtime (onnxruntime CPU + OpenVINO) + training + farm extras
#   bash scripts/install.sh --dev    the same plus the test and type-check tools
#
# System: ffmpeg (apt) for the synthetic reels' telecine and the benchmarks' baselines.
# Python: torch is installed first and pinned to the 2.13.0 CPU build; the `train` extra's range
# (torch>=2.13,<2.14) is then already satisfied, so pip never pulls a multi-GB CUDA build.
# On a GPU machine install the CUDA build of the same minor first (see README, "GPU machines").
set -euo pipefail
cd "$(dirname "$0")/.."

# openvino: the faster CPU runtime (`auto` takes it on a machine without a GPU); 59 MB, installs
# beside onnxruntime (the onnxruntime-openvino wheel would replace it, so it is not used).
extras="cpu,openvino,train,farm"
[[ "${1:-}" == "--dev" ]] && extras="$extras,dev"

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
    echo "install: ffmpeg not found, installing it with apt-get" >&2
    sudo_cmd=""
    [[ "$(id -u)" != "0" ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq ffmpeg >/dev/null
fi
# the tests' real 23.976p clip (Debian's opencv-doc) into .cache/real/; fatal only under CI=true
if [[ "${1:-}" == "--dev" ]]; then
    bash scripts/fetch_real.sh
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q "torch==2.13.0"
fi
.venv/bin/python -m pip install -q -e ".[$extras]"
.venv/bin/python -c "import remaster_core, torch, onnxruntime, openvino, av, cv2, OpenImageIO" \
    || { echo "install: the environment is incomplete (see the pip output above)" >&2; exit 1; }
echo "install: ready: .venv/bin/remaster ($(.venv/bin/remaster --version))" >&2
