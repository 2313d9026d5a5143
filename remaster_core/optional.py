"""The optional dependencies (the extras), imported where they are used, or one line saying what to install.

``pip install remaster`` carries neither a model runtime nor torch: ``remaster --help``, ``synth``,
``conform`` and ``align`` run without them. What runs a model imports onnxruntime through
``import_onnxruntime`` (session creation, provider queries); ``train`` and ``export`` import torch
through ``import_torch``. A missing package becomes an ``ExtraMissing`` (an input error: exit code 2)
whose message names the extra, so the CLI prints one line, e.g.::

    remaster render: error: onnxruntime is not installed; install remaster[cpu] (CPU) or remaster[gpu] (NVIDIA)

No module of ``remaster_core`` imports onnxruntime, torch, ``training`` or ``export`` when it is
imported itself (tests/test_import_boundaries.py checks it).
"""

from __future__ import annotations

from types import ModuleType

from remaster_core.errors import ExtraMissing

RUNTIME_EXTRAS = "remaster[cpu] (CPU) or remaster[gpu] (NVIDIA)"
TRAIN_EXTRA = "remaster[train]"


class TrainExtraMissing(ExtraMissing):
    """torch (the ``train`` extra) is not installed."""


def _import_failure(package: str, exc: ImportError, extra: str) -> str:
    """One line for ``package`` failing to import: not installed, or installed but broken."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == package:
        return f"{package} is not installed; install {extra}"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{package} is installed but cannot be imported ({first_line}); reinstall {extra}"


def import_onnxruntime() -> ModuleType:
    """The ``onnxruntime`` module (from ``remaster[cpu]`` or ``remaster[gpu]``).

    Raises:
        ExtraMissing: onnxruntime is not installed, or cannot be imported.
    """
    try:
        import onnxruntime
    except ImportError as exc:
        raise ExtraMissing(_import_failure("onnxruntime", exc, RUNTIME_EXTRAS)) from None
    return onnxruntime


def import_torch() -> ModuleType:
    """The ``torch`` module (from the ``train`` extra).

    Raises:
        TrainExtraMissing: torch is not installed, or cannot be imported.
    """
    try:
        import torch
    except ImportError as exc:
        raise TrainExtraMissing(
            _import_failure("torch", exc, f"the train extra (pip install '{TRAIN_EXTRA}')")
        ) from None
    return torch
