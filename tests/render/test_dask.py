"""Render on a real Dask cluster on loopback: ``dask scheduler`` and two ``dask worker`` processes, one
offering ``GPU=1``. Same bits as a local render on 1 or 2 workers; GPU chunks go to the GPU worker
only; a worker killed mid-job -> the job completes, every frame right."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from remaster_core.errors import EXIT_OK, InputError
from remaster_core.node import NodeParams
from remaster_core.render.dask_cluster import connect, gpu_resources
from remaster_core.render.job import plan_job, run_job
from remaster_core.render.outputs import output_spec
from tests.render import ROOT, cli_command, cli_env, model, read_log, write_sequence

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # a real scheduler and two worker processes

FRAMES = list(range(1, 13))


class Cluster:
    """A scheduler and named workers, each its own process (``--no-nanny``: killing it loses it)."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / "scheduler.json"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._start(
            "scheduler",
            [
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(self.file),
            ],
        )
        deadline = time.monotonic() + 30
        while not self.file.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        for name, extra in (("gpu", ["--resources", "GPU=1"]), ("cpu", [])):
            self._start(
                name,
                [
                    "worker",
                    "--scheduler-file",
                    str(self.file),
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                    "--name",
                    name,
                    *extra,
                ],
            )
        self.address = json.loads(self.file.read_text())["address"]
        self.client = distributed.Client(self.address, timeout=30, set_as_default=False)
        self.client.wait_for_workers(2, timeout=60)

    def _start(self, name: str, args: list[str]) -> None:
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "dask", *args],
            cwd=ROOT,
            env=cli_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def worker_names_by_address(self) -> dict[str, str]:
        return {addr: info["name"] for addr, info in self.client.scheduler_info()["workers"].items()}

    def close(self) -> None:
        self.client.close()
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # what Ctrl-C does; a worker without nanny ignores SIGTERM
        for proc in self.procs.values():
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def job_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, Path]:
    folder = tmp_path_factory.mktemp("dask-job")
    plates = write_sequence(folder / "in", FRAMES, (128, 96))
    slow = model(folder, "slow.onnx", width=32, convs=6)
    reference = folder / "reference"
    plan = plan_job(
        plates, output_spec(str(reference / "out.####.exr")), NodeParams(model=slow, output_size=(256, 192))
    )
    assert run_job(plan, show_progress=False).exit_code == EXIT_OK
    return plates, slow, reference


def _finals(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("out.*.exr"))}


def test_gpu_resources_only_for_gpu_providers() -> None:
    assert gpu_resources("cuda") == {"GPU": 1} and gpu_resources("tensorrt") == {"GPU": 1}
    assert gpu_resources("cpu") is None and gpu_resources("auto") is None


def test_unreachable_scheduler_is_a_clear_input_error() -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        connect("tcp://127.0.0.1:9", timeout=1)
    assert time.monotonic() - started < 15


@pytest.mark.parametrize("resources", [{"GPU": 1}, None], ids=["1 GPU worker", "2 workers"])
def test_same_bits_as_a_local_render(cluster: Cluster, job_inputs: tuple, tmp_path: Path, resources) -> None:
    plates, slow, reference = job_inputs
    out = tmp_path / "out"
    plan = plan_job(
        plates,
        output_spec(str(out / "out.####.exr")),
        NodeParams(model=slow, output_size=(256, 192)),
        chunk_size=2,
    )
    result = run_job(plan, scheduler=cluster.address, resources=resources, show_progress=False)
    assert result.exit_code == EXIT_OK and result.rendered == FRAMES
    assert _finals(out) == _finals(reference)
    workers = {r.pid for r in result.results}
    if resources:  # only the worker offering GPU=1 may run them
        gpu_pid = cluster.procs["gpu"].pid
        assert workers == {gpu_pid}
    else:
        assert len(workers) == 2


def test_worker_killed_mid_job_the_job_completes(cluster: Cluster, job_inputs: tuple, tmp_path: Path) -> None:
    """Runs last in this module: it kills one of the two workers."""
    plates, slow, reference = job_inputs
    out = tmp_path / "out"
    args = (
        plates,
        "--model",
        str(slow),
        "--out",
        str(out / "out.####.exr"),
        "--format",
        "256x192",
        "--chunk",
        "3",
        "--scheduler",
        cluster.address,
    )
    proc = subprocess.Popen(
        cli_command(*args), cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    victim = None
    deadline = time.monotonic() + 60
    while victim is None and proc.poll() is None and time.monotonic() < deadline:
        if list(out.glob("out.*.exr")):
            busy = [addr for addr, keys in cluster.client.processing().items() if keys]
            if busy:
                victim = cluster.worker_names_by_address()[busy[0]]
                os.kill(cluster.procs[victim].pid, signal.SIGKILL)
                break
        time.sleep(0.005)
    _, stderr = proc.communicate(timeout=120)
    assert victim is not None, "no worker was busy: the job ended before the kill"
    assert cluster.procs[victim].wait(timeout=10) == -signal.SIGKILL
    assert proc.returncode == EXIT_OK, stderr.decode()
    assert _finals(out) == _finals(reference)  # no frame lost, none half-written
    assert list(out.glob(".out.*tmp*")) == []  # a temporary of the killed worker was cleaned by the re-run
    logs = [read_log(p) for p in sorted((out / ".remaster" / "logs").glob("*.jsonl"))]
    assert len(logs) == 4 and all(
        [r for r in log if r["event"] == "end"][-1]["exit_code"] == 0 for log in logs
    )
    pids = {r["pid"] for log in logs for r in log if r["event"] == "start"}
    assert cluster.procs[victim].pid in pids  # the victim was rendering when it died
