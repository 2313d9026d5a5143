"""Fixtures of the plugin tests: the ``nuke`` stand-in installed (and removed afterwards), the worker
command a node uses, a small real ONNX model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.nuke import fake_nuke
from tests.render import model
from tests.worker import worker_env, worker_setting


@pytest.fixture(scope="module")
def nuke(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The stand-in as ``sys.modules["nuke"]`` for a module's tests (one worker session for them all)."""
    with pytest.MonkeyPatch.context() as m:
        m.setenv("PYTHONPATH", worker_env()["PYTHONPATH"])
        m.setenv("REMASTER_NUKE_CACHE", str(tmp_path_factory.mktemp("nuke-cache")))
        m.delenv("REMASTER_WORKER", raising=False)
        module = fake_nuke.install()
        try:
            yield module
        finally:
            from remaster_nuke import client

            client.shutdown_all()
            fake_nuke.uninstall()


@pytest.fixture()
def session(nuke: ModuleType) -> ModuleType:
    """A fresh script (no nodes, no messages) in the module's Nuke session."""
    fake_nuke.reset()
    return nuke


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model(tmp_path_factory.mktemp("nuke-model"))


@pytest.fixture(scope="module")
def worker_knob() -> str:
    """What a user puts in the node's 'worker' knob (or REMASTER_WORKER) for this checkout."""
    return worker_setting()
