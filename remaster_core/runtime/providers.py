"""Choose what runs the model (onnxruntime execution providers, or OpenVINO), build the providers'
options, and tell the truth about what runs.

``provider`` is one of ``auto | tensorrt | cuda | openvino | cpu``:

=============  =====================================================  ==============================
choice         what runs, in order of preference                      warns when
=============  =====================================================  ==============================
``auto``       onnxruntime's TensorRT, CUDA (those this onnxruntime    TensorRT is not what runs on
               build has); else OpenVINO where it is installed; else   onnxruntime
               onnxruntime's CPU provider
``tensorrt``   TensorRT, CUDA (for nodes TensorRT rejects), CPU        TensorRT is not what runs
``cuda``       CUDA, CPU                                               CUDA is not what runs
``openvino``   the OpenVINO runtime on the CPU (``remaster[openvino]``)  never (missing: an error)
``cpu``        onnxruntime's CPU provider                              never
=============  =====================================================  ==============================

``choose_backend`` decides between onnxruntime and OpenVINO. ``auto`` on a machine without a GPU
provider takes OpenVINO when it is installed: measured faster than onnxruntime's CPU provider in fp32
on both presets at 720x480 and 1440x1080 (``bench/runtime.py``; ``docs/runtime.md``, OpenVINO), and
it alone offers ``bf16``. ``bf16`` is OpenVINO's only: ``auto`` with ``bf16`` takes OpenVINO even where a
GPU provider exists; ``cpu``, ``cuda`` and ``tensorrt`` refuse it.

onnxruntime falls back silently: the ``onnxruntime`` (CPU) package has no GPU providers at all, and
``onnxruntime-gpu`` without the CUDA / cuDNN / TensorRT libraries of its release logs a load failure on
stderr and runs on the CPU. So the engine asks ``session.get_providers()`` what really runs, compares
it with the choice, and logs ONE warning that says what runs and what is missing: the package (when
the build lacks the provider), or the shared library that failed to load (read from onnxruntime's own
load-failure text, captured from the native stderr while the session is created, or from loading the
provider library directly).

TensorRT and CUDA options are built here (``tensorrt_options``, ``cuda_options``); the cache folders
are keyed in ``cache.py``. The TensorRT and CUDA paths are written from onnxruntime's documentation
and have not been run on a GPU by the tests (the CI machines have none).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from remaster_core.errors import ExtraMissing, InputError
from remaster_core.node_params import PROVIDER_CHOICES
from remaster_core.optional import OPENVINO_EXTRA

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
OPENVINO = "OpenVINO"
"""What an OpenVINO session reports as its provider (not an onnxruntime provider name)."""

ONNXRUNTIME_BACKEND = "onnxruntime"
OPENVINO_BACKEND = "openvino"

_WANTED: dict[str, tuple[str, ...]] = {
    "auto": (TENSORRT, CUDA, CPU),
    "tensorrt": (TENSORRT, CUDA, CPU),
    "cuda": (CUDA, CPU),
    "openvino": (OPENVINO,),
    "cpu": (CPU,),
}
_LIBRARY_STEM = {TENSORRT: "tensorrt", CUDA: "cuda"}
_SHORT = {TENSORRT: "TensorRT", CUDA: "CUDA", CPU: "CPU", OPENVINO: "OpenVINO"}


def choose_backend(choice: str, precision: str, available: Sequence[str], openvino_installed: bool) -> str:
    """``"openvino"`` or ``"onnxruntime"``: what runs the model for a provider and precision choice.

    Args:
        choice: ``auto | tensorrt | cuda | openvino | cpu``.
        precision: ``fp32 | fp16 | bf16``.
        available: ``onnxruntime.get_available_providers()`` ([] without onnxruntime).
        openvino_installed: ``optional.openvino_installed()``.

    Raises:
        InputError: ``bf16`` with an onnxruntime provider (``cpu``, ``cuda``, ``tensorrt``).
        ExtraMissing: ``bf16`` with ``auto`` and no OpenVINO installed.
    """
    if choice == "openvino":
        return OPENVINO_BACKEND
    if choice == "auto":
        gpu = any(p in available for p in (TENSORRT, CUDA))
        if openvino_installed and (precision == "bf16" or not gpu):
            return OPENVINO_BACKEND
        if precision == "bf16":
            raise ExtraMissing(
                f"precision bf16 runs on OpenVINO, which is not installed; install {OPENVINO_EXTRA} "
                f"(pip install '{OPENVINO_EXTRA}'), or use precision fp32 (fp16 on a GPU)"
            )
        return ONNXRUNTIME_BACKEND
    wanted_providers(choice)
    if precision == "bf16":
        raise InputError(
            f"precision bf16 runs on OpenVINO only, not on provider {choice!r}: use provider openvino (or auto) "
            f"with {OPENVINO_EXTRA}, or precision {'fp16' if choice in ('cuda', 'tensorrt') else 'fp32'}"
        )
    return ONNXRUNTIME_BACKEND


def wanted_providers(choice: str) -> tuple[str, ...]:
    """The provider names for a choice, best first (see the module table); ``OPENVINO`` for ``openvino``."""
    if choice not in _WANTED:
        raise ValueError(f"provider must be one of {', '.join(PROVIDER_CHOICES)}; got {choice!r}")
    return _WANTED[choice]


def usable_providers(choice: str, available: Sequence[str]) -> list[str]:
    """The wanted providers that this onnxruntime build offers (``get_available_providers()``), in order."""
    return [p for p in wanted_providers(choice) if p in available or p == CPU]


def onnxruntime_package() -> str:
    """``"onnxruntime-gpu 1.31.0"``-style name of the installed onnxruntime distribution."""
    for dist in ("onnxruntime-gpu", "onnxruntime", "onnxruntime-directml", "onnxruntime-openvino"):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__}"


def missing_library(text: str) -> str | None:
    """The shared library a loader error names as missing, e.g. ``libcudnn.so.9``; None if none.

    Understands the Linux loader (``libX.so.N: cannot open shared object file``) and onnxruntime's
    ``Failed to load library ... with error: ...`` wrapper (the innermost library is the missing one).
    """
    hits = re.findall(r"([\w.+-]+\.so(?:\.[\w]+)*): cannot open shared object file", text)
    if hits:
        return hits[-1]
    hits = re.findall(r"([\w.+-]+\.dll)\S*\s*(?:which is missing|was not found|could not be found)", text)
    return hits[-1] if hits else None


def diagnose_provider_load(provider: str) -> str:
    """Try to load ``provider``'s shared library the way onnxruntime does; the loader's error, or ''.

    Only meaningful for TensorRT and CUDA in an onnxruntime-gpu install; a library that loads is left
    loaded (onnxruntime would load it anyway).
    """
    stem = _LIBRARY_STEM.get(provider)
    if stem is None:
        return ""
    import onnxruntime

    capi = Path(onnxruntime.__file__).parent / "capi"
    name = f"libonnxruntime_providers_{stem}.so" if os.name != "nt" else f"onnxruntime_providers_{stem}.dll"
    library = capi / name
    if not library.exists():
        return f"{name} is not part of this onnxruntime install ({capi})"
    try:
        shared = capi / (
            "libonnxruntime_providers_shared.so" if os.name != "nt" else "onnxruntime_providers_shared.dll"
        )
        if shared.exists():
            ctypes.CDLL(str(shared), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
        ctypes.CDLL(str(library))
    except OSError as exc:
        return str(exc)
    return ""


def fallback_message(
    choice: str,
    available: Sequence[str],
    active: Sequence[str],
    package: str,
    load_error: str = "",
) -> str | None:
    """The one warning to log when the providers that run are not the ones asked for; None if they are.

    Args:
        choice: ``auto | tensorrt | cuda | cpu`` (an onnxruntime choice: OpenVINO never falls back).
        available: ``onnxruntime.get_available_providers()``.
        active: ``session.get_providers()`` of the session that was created.
        package: the onnxruntime distribution and version (``onnxruntime_package()``).
        load_error: onnxruntime's load-failure text (captured stderr or ``diagnose_provider_load``).
    """
    wanted = wanted_providers(choice)
    if choice in ("cpu", "openvino") or not active:
        return None
    first = wanted[0]
    if active[0] == first:
        return None
    runs = _SHORT.get(active[0], active[0])
    absent = [p for p in wanted if p != CPU and p not in available]
    failed = [p for p in wanted if p != CPU and p in available and p not in active]
    reasons = []
    if absent:
        names = " and ".join(_SHORT[p] for p in absent)
        if package.startswith("onnxruntime-gpu"):
            reasons.append(f"this build ({package}) has no {names} provider")
        else:
            reasons.append(
                f"{package} is the CPU-only build, it has no {names} provider: install onnxruntime-gpu "
                "in its place (`pip install remaster[gpu]`, never beside onnxruntime)"
            )
    if failed:
        names = " and ".join(_SHORT[p] for p in failed)
        lib = missing_library(load_error)
        if lib:
            reasons.append(
                f"onnxruntime could not load {names}: {lib} is missing; install the CUDA/cuDNN/TensorRT "
                f"libraries {package} was built for, or add their folder to LD_LIBRARY_PATH"
            )
        else:
            reasons.append(f"onnxruntime did not start {names} ({_reason_line(load_error, failed)})")
    if not reasons:
        reasons.append(f"onnxruntime chose {runs}")
    asked = f"provider={choice!r}"
    return f"{asked}: running on {runs}, not {_SHORT[first]}: " + "; ".join(reasons)


def _reason_line(text: str, failed: Sequence[str]) -> str:
    """The most telling line of onnxruntime's log: the last that names a failed provider or a failure."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "no reason given"
    keys = [_SHORT[p].lower() for p in failed] + ["fail", "error"]
    telling = [line for line in lines if any(k in line.lower() for k in keys)]
    return (telling or lines)[-1]


@contextlib.contextmanager
def capture_native_stderr() -> Iterator[list[str]]:
    """Capture what native code (onnxruntime's logger) writes to file descriptor 2.

    Yields a list that holds the captured text once the block exits. If fd 2 cannot be redirected
    (an embedding host without one), nothing is captured and the list gets ''.
    """
    captured: list[str] = []
    try:
        saved = os.dup(2)
    except OSError:
        yield captured
        captured.append("")
        return
    with tempfile.TemporaryFile() as tmp:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError, OSError):
            pass
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("utf-8", errors="replace"))


def tensorrt_version() -> str | None:
    """The TensorRT version this process would load (python package or ``libnvinfer``), or None."""
    for dist in ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt-cu13-libs", "tensorrt-cu12-libs"):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    for lib in ("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"):
        try:
            handle = ctypes.CDLL(lib)
            return f"libnvinfer {int(handle.getInferLibVersion())}"
        except (OSError, AttributeError):
            continue
    return None


def gpu_name(device_id: int) -> str | None:
    """``nvidia-smi``'s name (and compute capability) of GPU ``device_id``, or None without one."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    result = []
    for query in ("name", "compute_cap"):
        try:
            proc = subprocess.run(
                [exe, f"--query-gpu={query}", "--format=csv,noheader", "-i", str(device_id)],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if proc.returncode == 0 and proc.stdout.strip():
            result.append(proc.stdout.strip().splitlines()[0])
    return " sm".join(result) if result else None


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/remaster/trt`` (``~/.cache/remaster/trt``): TensorRT engines and timing caches."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "remaster" / "trt"


def profile_shapes(input_name: str, shapes: Sequence[tuple[int, int, int, int]]) -> str:
    """TensorRT profile string ``"input:1x3x64x64"`` for onnxruntime's ``trt_profile_*_shapes``."""
    return ",".join(f"{input_name}:{'x'.join(str(d) for d in shape)}" for shape in shapes)


def tensorrt_options(
    *,
    device_id: int,
    fp16: bool,
    engine_cache_path: Path,
    timing_cache_path: Path,
    profile: tuple[tuple[int, int, int, int], tuple[int, int, int, int], tuple[int, int, int, int]] | None,
    input_name: str,
) -> dict[str, str]:
    """onnxruntime TensorRT provider options (values as the strings onnxruntime parses).

    Args:
        device_id: the GPU.
        fp16: let TensorRT use fp16 kernels (``trt_fp16_enable``).
        engine_cache_path: folder for built engines (keyed by ``cache.cache_key``).
        timing_cache_path: folder for the timing cache (keyed by ``cache.timing_cache_key``): it cuts
            later builds from minutes to seconds (onnxruntime PR 14767).
        profile: (min, opt, max) input shapes (N, 3, H, W) so the engine is built once for the tile
            size; None lets onnxruntime build for the first shape seen and rebuild for larger ones.
        input_name: the graph input the profile applies to.
    """
    options = {
        "device_id": str(device_id),
        "trt_fp16_enable": "True" if fp16 else "False",
        "trt_engine_cache_enable": "True",
        "trt_engine_cache_path": str(engine_cache_path),
        "trt_timing_cache_enable": "True",
        "trt_timing_cache_path": str(timing_cache_path),
    }
    if profile is not None:
        low, opt, high = profile
        options["trt_profile_min_shapes"] = profile_shapes(input_name, [low])
        options["trt_profile_opt_shapes"] = profile_shapes(input_name, [opt])
        options["trt_profile_max_shapes"] = profile_shapes(input_name, [high])
    return options


def cuda_options(device_id: int, deterministic: bool = False) -> dict[str, str]:
    """onnxruntime CUDA provider options: the device, cuDNN's algorithm search, no arena over-growth.

    ``deterministic``: cuDNN's heuristic choice (``DEFAULT``) instead of the timed ``EXHAUSTIVE`` search,
    whose winner can change from run to run and machine to machine with the timings (another algorithm,
    other rounding); with the session's ``use_deterministic_compute`` (set by the engine), workers with
    the same GPU model, driver and versions give identical frames. Costs some speed (``bench/gpu.sh``).
    """
    return {
        "device_id": str(device_id),
        "cudnn_conv_algo_search": "DEFAULT" if deterministic else "EXHAUSTIVE",
        "arena_extend_strategy": "kSameAsRequested",
    }
