"""The optional dependencies (the extras), imported where they are used, or one line saying what to install.

``pip install remaster`` carries neither a model runtime nor torch: ``remaster --help``, ``synth``,
``conform`` and ``align`` run without them. What runs a model imports onnxruntime through
``import_onnxruntime`` (session creation, provider queries); ``train`` and ``export`` import torch
through ``import_torch``; the OpenVINO provider imports openvino through ``import_openvino``
(``remaster[openvino]``, installed beside ``remaster[cpu]`` or ``remaster[gpu]``). A missing package
becomes an ``ExtraMissing`` (an input error: exit code 2) whose message names the extra, so the CLI
prints one line, e.g.::

    remaster render: error: onnxruntime is not installed; install remaster[cpu] (CPU) or remaster[gpu] (NVIDIA)

No module of ``remaster_core`` imports onnxruntime, openvino, torch, ``training`` or ``export`` when it is
imported itself (tests/test_import_boundaries.py checks it).
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

from remaster_core.errors import ExtraMissing

RUNTIME_EXTRAS = "remaster[cpu] (CPU) or remaster[gpu] (NVIDIA)"
TRAIN_EXTRA = "remaster[train]"
OPENVINO_EXTRA = "remaster[openvino]"


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


def openvino_installed() -> bool:
    """Whether the ``openvino`` package is installed (found on the path; not imported)."""
    return importlib.util.find_spec("openvino") is not None


def import_openvino() -> ModuleType:
    """The ``openvino`` module (from ``remaster[openvino]``).

    Raises:
        ExtraMissing: openvino is not installed, or cannot be imported.
    """
    try:
        import openvino
    except ImportError as exc:
        raise ExtraMissing(
            _import_failure("openvino", exc, f"{OPENVINO_EXTRA} (pip install '{OPENVINO_EXTRA}')")
        ) from None
    return openvino


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
