#!/usr/bin/env bash
# The GPU benchmark in one prepared run: under 8 minutes on one H200 (16 cores).
#
#   bash bench/gpu.sh              # on a GPU machine, from anywhere: writes bench/results/gpu.json
#   bash bench/gpu.sh --dry-run    # on any machine: bench/gpu.py on the CPU at tiny sizes (checks it)
#
# 1. Installs the GPU extra where it is missing, into its own folder ($SITE, default
#    /tmp/remaster-gpu-site) put first on PYTHONPATH, so a CPU onnxruntime already installed is left as
#    it is (onnxruntime and onnxruntime-gpu own the same module): onnxruntime-gpu with its CUDA and cuDNN
#    wheels (the [cuda,cudnn] extras) and the TensorRT libraries ($TRT_SPEC), plus the project's base
#    packages the benchmark imports. From PyPI when it is reachable (each pip call bounded by
#    $PIP_TIMEOUT seconds), else from wheels in ./.whl (a machine without network: download them
#    elsewhere with `pip download --no-deps --only-binary=:all: --python-version 3.12 ... -d .whl`);
#    what cannot be installed is said in one line, and the sections that need it record why they did
#    not run.
# 2. Runs bench/gpu.py (its docstring says what it measures): PyTorch fp32/TF32/fp16/bf16 frames/s at
#    1440x1080 for both presets, the engine on CUDA fp32 and TensorRT fp16 (and fp32), TensorRT's build
#    time cold and from the engine cache, TensorRT fp16 parity with CUDA fp32, the deterministic option
#    (onnxruntime + cuDNN, and PyTorch) with its speed cost, and one `paper` training step in bf16.
#    It writes the JSON after each section, so a run cut short keeps what it measured.
#
# Environment: PYTHON (default python3: on the device machines, the one that holds PyTorch), OUT
# (default bench/results/gpu.json), BUDGET_S (default 420: bench/gpu.py starts no section after it),
# SITE, TRT_SPEC (default tensorrt-cu12-libs==10.*: the TensorRT 10 that onnxruntime-gpu's provider
# loads), PIP_TIMEOUT (default 150).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
out=${OUT:-bench/results/gpu.json}
budget=${BUDGET_S:-420}
site=${SITE:-/tmp/remaster-gpu-site}
trt_spec=${TRT_SPEC:-tensorrt-cu12-libs==10.*}
pip_timeout=${PIP_TIMEOUT:-150}
dry=0
[[ "${1:-}" == "--dry-run" ]] && dry=1

log() { echo "[gpu.sh] $*" >&2; }

has() { "$python" -c "import $1" >/dev/null 2>&1; }

# pip_get TARGET SPEC...: install SPECs into TARGET from ./.whl if wheels are there, else from PyPI.
pip_get() {
    local target=$1
    shift
    if compgen -G ".whl/*.whl" >/dev/null; then
        timeout "$pip_timeout" "$python" -m pip install -q --no-index --find-links .whl --target "$target" \
            --upgrade "$@" && return 0
    fi
    timeout "$pip_timeout" "$python" -m pip install -q --disable-pip-version-check --target "$target" \
        --upgrade "$@"
}

export PYTHONPATH="$site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
started=$(date +%s)

if [[ $dry -eq 0 ]]; then
    mkdir -p "$site"
    # the project's own imports (bench/gpu.py needs no video or image I/O, but remaster_core's modules
    # import OpenImageIO and friends); --no-deps: torch, numpy and onnx stay the machine's
    missing=()
    for pair in OpenImageIO:OpenImageIO cv2:opencv-python-headless onnx:onnx av:av skimage:scikit-image \
        tqdm:tqdm opentimelineio:opentimelineio; do
        has "${pair%%:*}" || missing+=("${pair#*:}")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "installing the base packages ${missing[*]}"
        pip_get "$site" --no-deps "${missing[@]}" || log "could not install ${missing[*]} (no network and no .whl)"
    fi
    # the GPU extra, beside (not over) a CPU onnxruntime: its own folder first on the path
    if ! "$python" -c "import onnxruntime, sys; sys.exit('CUDAExecutionProvider' not in onnxruntime.get_available_providers())" \
        >/dev/null 2>&1; then
        log "installing onnxruntime-gpu[cuda,cudnn] and $trt_spec into $site"
        if pip_get "$site" "onnxruntime-gpu[cuda,cudnn]" "$trt_spec"; then
            trt_libs=$(ls -d "$site"/tensorrt_libs 2>/dev/null || true)
            [[ -n "$trt_libs" ]] && export LD_LIBRARY_PATH="$trt_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        else
            log "could not install onnxruntime-gpu (no network, and no wheels in .whl: its wheel is ~256 MB);" \
                "the CUDA and TensorRT sections will say they fell back"
        fi
    fi
    log "set-up took $(($(date +%s) - started)) s; $("$python" -c 'import onnxruntime as o; print(o.__version__, o.get_available_providers())' 2>&1 | tail -1)"
    budget=$((budget - ($(date +%s) - started)))
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true
    exec "$python" bench/gpu.py --out "$out" --budget-s "$budget"
fi
exec "$python" bench/gpu.py --dry-run --out "${OUT:-/tmp/remaster-gpu-dry.json}" --budget-s "$budget"
