"""The Nuke side of ``remaster worker``: start it once per Nuke session, send requests, read responses.

Pure standard library, Python 3.7+ (Nuke 13 embeds 3.7): no ``nuke`` import here, so it is tested
outside Nuke against a real worker.

The worker is ``remaster worker`` in the project's own environment, found in this order:

1. the node's ``worker`` knob, when set;
2. the environment variable ``REMASTER_WORKER``;
3. ``remaster`` on the PATH.

The value is the ``remaster`` executable (``/opt/remaster/.venv/bin/remaster``) or a command line that
runs it (``/opt/remaster/.venv/bin/python -m remaster_core``); ``worker`` is appended. A value that
names nothing runnable is reported with what to set (``WorkerNotFound``).

Wire format (``remaster_core/worker/protocol.py`` is the reference): one JSON object per line on the
worker's stdin, one response line per request on its stdout, in order. The worker's stderr (its log)
goes to a file, ``remaster-worker-<Nuke pid>.log`` in the log folder, which error messages quote.

Failures, each a ``WorkerError`` whose message says what happened and what to do:

- ``WorkerNotFound``: the command does not exist or cannot be executed;
- ``WorkerStartError``: it started but did not answer (it died at import: a broken environment; it is
  not a remaster worker; another protocol version), with the end of its log;
- ``WorkerCrashed``: it died during a request (killed, out of memory, a crash in a native library):
  reported, and the next request starts a new worker;
- ``WorkerTimeout``: no answer within the request's time limit: the worker is killed (its state is
  unknown) and the next request starts a new one;
- ``RequestFailed``: the worker answered ``ok: false`` (bad input, a model error); it goes on serving.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import queue
import shlex
import shutil
import signal
import subprocess
import threading
import time
from typing import IO, Any, Sequence

PROTOCOL_VERSION = 1
"""The protocol this client speaks; the worker's ``ping`` must report the same."""

ENV_WORKER = "REMASTER_WORKER"
START_TIMEOUT_S = 120.0
"""Time for a new worker to import its libraries and answer ``ping``."""
REQUEST_TIMEOUT_S = 1800.0
"""Default time limit of one request (a 4K frame of a large model on a CPU takes minutes)."""
LOG_TAIL_LINES = 8

_HINT = (
    f"Set {ENV_WORKER} to the `remaster` executable of the project's environment (for example "
    "/opt/remaster/.venv/bin/remaster, or '/opt/remaster/.venv/bin/python -m remaster_core'), or fill the "
    "node's 'worker' knob, then press 'Restart worker'."
)


class WorkerError(Exception):
    """Base of the errors a node reports; ``str(exc)`` is the message for the user."""


class WorkerNotFound(WorkerError):
    """The worker command does not exist or cannot be executed."""


class WorkerStartError(WorkerError):
    """The worker started but did not answer ``ping`` correctly."""


class WorkerCrashed(WorkerError):
    """The worker process died during a request."""


class WorkerTimeout(WorkerError):
    """The worker did not answer in time (it was killed)."""


class RequestFailed(WorkerError):
    """The worker answered ``ok: false``.

    Attributes:
        kind: "input", "model", "protocol" or "internal" (see the protocol).
        response: the whole response (a render's lists of rendered and failed frames, ...).
    """

    def __init__(self, message: str, kind: str, response: dict[str, Any]) -> None:
        super().__init__(message)
        self.kind = kind
        self.response = response


def _split(value: str) -> list[str]:
    """A command value as an argument list: a path that exists is one argument even with spaces."""
    value = value.strip()
    if os.path.isfile(value):
        return [value]
    if os.name == "nt":  # Windows paths keep their backslashes; quotes only group
        return [part.strip('"') for part in shlex.split(value, posix=False)]
    return shlex.split(value)


def worker_command(setting: str = "", environ: dict[str, str] | None = None) -> list[str]:
    """The argument list that starts ``remaster worker`` (see the module docstring for the order).

    Raises:
        WorkerNotFound: nothing is set and ``remaster`` is not on the PATH, or the program named does
            not exist or is not executable.
    """
    env = os.environ if environ is None else environ
    if setting and setting.strip():
        value, origin = setting, "the node's 'worker' knob"
    elif env.get(ENV_WORKER, "").strip():
        value, origin = env[ENV_WORKER], ENV_WORKER
    else:
        found = shutil.which("remaster")
        if found is None:
            raise WorkerNotFound(
                f"cannot start the remaster worker: {ENV_WORKER} is not set and no `remaster` program is on "
                f"the PATH of this Nuke. {_HINT}"
            )
        value, origin = found, "the PATH"
    try:
        argv = _split(value)
    except ValueError as exc:
        raise WorkerNotFound(
            f"cannot read the worker command {value!r} from {origin} ({exc}). {_HINT}"
        ) from None
    if not argv:
        raise WorkerNotFound(f"the worker command from {origin} is empty. {_HINT}")
    program = argv[0]
    if os.path.dirname(program):
        if not os.path.isfile(program):
            raise WorkerNotFound(
                f"cannot start the remaster worker: {program} (from {origin}) does not exist. {_HINT}"
            )
        if not os.access(program, os.X_OK):
            raise WorkerNotFound(
                f"cannot start the remaster worker: {program} (from {origin}) is not executable (chmod +x "
                f"it, or point to the right file). {_HINT}"
            )
    elif shutil.which(program) is None:
        raise WorkerNotFound(
            f"cannot start the remaster worker: no program {program!r} (from {origin}) on the PATH of this "
            f"Nuke. {_HINT}"
        )
    return argv + ["worker"]


def log_tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of the log file at ``path`` (empty if unreadable)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def describe_exit(returncode: int | None) -> str:
    """How a process ended, for messages: ``killed by signal 9 (SIGKILL)`` or ``exit code 1``."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        hint = " (often: out of memory, or killed by hand)" if -returncode == 9 else ""
        return f"killed by signal {-returncode} ({name}){hint}"
    return f"exit code {returncode}"


class WorkerClient:
    """One ``remaster worker`` process and the requests sent to it (see the module docstring).

    Args:
        command: the argument list (``worker_command()``).
        log_path: the file the worker's stderr is appended to.
        start_timeout: seconds for a new worker to answer ``ping``.
        env: the worker's environment (default: this process's).

    Not started until the first request (or ``start``). A request to a worker that has died starts a
    new one first (``restarts`` counts them); a worker that died between requests leaves a ``note``
    (``pop_note``) for the host to show.
    """

    def __init__(
        self,
        command: Sequence[str],
        log_path: str,
        *,
        start_timeout: float = START_TIMEOUT_S,
        env: dict[str, str] | None = None,
    ) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.env = env
        self.restarts = 0
        self.note: str | None = None
        self.info: dict[str, Any] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._responses: queue.Queue[bytes | None] = queue.Queue()
        self._log: IO[bytes] | None = None
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._started_once = False

    # ------------------------------------------------------------------------------------ process

    @property
    def pid(self) -> int | None:
        """The worker's pid, or None when none runs."""
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        """Whether a worker process is running."""
        return self._proc is not None and self._proc.poll() is None

    def _label(self) -> str:
        return "the remaster worker (pid {pid}, `{cmd}`)".format(pid=self.pid, cmd=" ".join(self.command))

    def start(self) -> dict[str, Any]:
        """Start the worker and check its ``ping`` (protocol version); returns the ping response.

        Raises:
            WorkerNotFound: the program cannot be executed.
            WorkerStartError: it did not answer ``ping`` correctly in ``start_timeout`` seconds.
        """
        with self._lock:
            self._stop_process()
            folder = os.path.dirname(os.path.abspath(self.log_path))
            try:
                os.makedirs(folder, exist_ok=True)
                log = open(self.log_path, "ab")  # noqa: SIM115 (the worker's stderr while it runs)
            except OSError as exc:
                raise WorkerStartError(
                    f"cannot write the worker log {self.log_path} ({exc}); set the node's cache folder to a "
                    "writable folder"
                ) from None
            log.write(
                "\n=== {t} starting: {c}\n".format(
                    t=time.strftime("%Y-%m-%d %H:%M:%S"), c=" ".join(self.command)
                ).encode("utf-8")
            )
            log.flush()
            try:
                proc = subprocess.Popen(
                    self.command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=self.env,
                    close_fds=True,
                )
            except OSError as exc:
                log.close()
                raise WorkerNotFound(
                    "cannot start the remaster worker `{c}`: {e}. {h}".format(
                        c=" ".join(self.command), e=exc.strerror or exc, h=_HINT
                    )
                ) from None
            self._proc, self._log = proc, log
            self._responses = queue.Queue()
            reader = threading.Thread(
                target=_read_lines, args=(proc.stdout, self._responses), name="remaster-worker-reader"
            )
            reader.daemon = True
            reader.start()
            if self._started_once:
                self.restarts += 1
            self._started_once = True
            try:
                info = self._exchange({"op": "ping"}, self.start_timeout, starting=True)
            except WorkerError:
                self._stop_process()
                raise
            if info.get("protocol") != PROTOCOL_VERSION:
                self._stop_process()
                raise WorkerStartError(
                    "{w} speaks protocol {theirs}, this plugin speaks {ours}: install the plugin and the "
                    "remaster package from the same release".format(
                        w=self._label(), theirs=info.get("protocol"), ours=PROTOCOL_VERSION
                    )
                )
            self.info = info
            return info

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self, timeout: float = 10.0) -> None:
        """Ask the worker to shut down (then kill it if it does not within ``timeout`` seconds)."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None and proc.stdin is not None:
                try:
                    proc.stdin.write(b'{"id": 0, "op": "shutdown"}\n')
                    proc.stdin.flush()
                    proc.stdin.close()
                    proc.wait(timeout=timeout)
                except (OSError, ValueError, subprocess.TimeoutExpired):
                    pass
            self._stop_process()

    # ------------------------------------------------------------------------------------ requests

    def request(self, op: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request and return the worker's ``ok: true`` response.

        Args:
            op: "ping", "describe", "render" or "align".
            timeout: seconds to wait for the answer (default ``REQUEST_TIMEOUT_S``).
            fields: the request's other fields (``source``, ``frames``, ``params``, ...).

        Raises:
            WorkerNotFound / WorkerStartError: no worker could be started.
            WorkerCrashed: the worker died before answering (the next request starts a new one).
            WorkerTimeout: no answer in time (the worker was killed).
            RequestFailed: the worker answered with an error.
        """
        with self._lock:
            if not self.alive():
                if self._proc is not None:  # it died while idle: say so, then start a new one
                    how = describe_exit(self._proc.poll())
                    self.note = (
                        f"{self._label()} had exited while idle ({how}) and was restarted.{self._tail()}"
                    )
                self.start()
            message = dict(fields)
            message["op"] = op
            response = self._exchange(message, REQUEST_TIMEOUT_S if timeout is None else timeout)
            if not response.get("ok"):
                raise RequestFailed(
                    str(response.get("error") or "the worker reported an error without a message"),
                    str(response.get("kind") or "internal"),
                    response,
                )
            return response

    def pop_note(self) -> str | None:
        """A note about the worker the caller should show once (it had died while idle), or None."""
        note, self.note = self.note, None
        return note

    def _exchange(self, message: dict[str, Any], timeout: float, starting: bool = False) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None and proc.stdin is not None
        rid = next(self._ids)
        message = dict(message)
        message["id"] = rid
        line = (json.dumps(message, separators=(",", ":")) + "\n").encode("utf-8")
        what = "{op} request".format(op=message.get("op"))
        try:
            proc.stdin.write(line)
            proc.stdin.flush()
        except (OSError, ValueError):
            pass  # the reader sees the end of the output; reported below
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                raw = self._responses.get(timeout=max(0.0, remaining))
            except queue.Empty:
                label = self._label()
                proc.kill()
                self._stop_process()
                err = WorkerStartError if starting else WorkerTimeout
                raise err(
                    f"{label} did not answer the {what} within {timeout:.0f} s; it was stopped and the next "
                    f"request starts a new one.{self._tail()}"
                ) from None
            if raw is None:
                raise self._died(what, starting)
            try:
                response = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                label = self._label()
                self._stop_process()
                raise (WorkerStartError if starting else WorkerCrashed)(
                    f"{label} wrote something that is not a protocol line ({raw[:200]!r}): is the command "
                    f"really `remaster worker`? It was stopped.{self._tail()}"
                ) from None
            if isinstance(response, dict) and response.get("id") == rid:
                return response
            # a stale answer to an abandoned request: skip it

    def _died(self, what: str, starting: bool) -> WorkerError:
        """The error for a worker whose output ended (it exited or was killed)."""
        proc = self._proc
        label = self._label()
        code: int | None = None
        if proc is not None:
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = proc.wait()
        self._stop_process()
        if starting:
            return WorkerStartError(
                f"{label} exited before answering ({describe_exit(code)}); is its environment complete "
                f"(`remaster --version` must work in it)?{self._tail()} {_HINT}"
            )
        return WorkerCrashed(
            f"{label} died during the {what} ({describe_exit(code)}); it will be restarted on the next "
            f"request.{self._tail()}"
        )

    def _tail(self) -> str:
        tail = log_tail(self.log_path)
        if not tail:
            return f" (its log {self.log_path} is empty)"
        return f" Last lines of its log {self.log_path}:\n{tail}"


def _read_lines(stream: IO[bytes] | None, out: queue.Queue[bytes | None]) -> None:
    """Reader thread: every line of ``stream`` into ``out``, then None at its end."""
    try:
        if stream is not None:
            for line in iter(stream.readline, b""):
                out.put(line)
    except (OSError, ValueError):
        pass
    finally:
        out.put(None)


# ---------------------------------------------------------------------------------- session workers

_SESSION: dict[str, WorkerClient] = {}
_SESSION_LOCK = threading.Lock()


def log_path_for(log_dir: str) -> str:
    """The worker log of this Nuke session in ``log_dir``."""
    return os.path.join(log_dir, f"remaster-worker-{os.getpid()}.log")


def session_client(command: Sequence[str], log_dir: str) -> WorkerClient:
    """The worker of this Nuke session for ``command`` (created on first use, then reused).

    Its process starts with the first request and is restarted by the request after a crash.
    """
    key = "\0".join(command)
    with _SESSION_LOCK:
        client = _SESSION.get(key)
        if client is None:
            client = WorkerClient(command, log_path_for(log_dir))
            _SESSION[key] = client
        return client


def restart_session(command: Sequence[str], log_dir: str) -> dict[str, Any]:
    """Stop this session's worker for ``command`` (if any) and start a new one; returns its ping."""
    client = session_client(command, log_dir)
    client.close()
    return client.start()


def shutdown_all() -> None:
    """Shut every session worker down (at exit: the workers also exit when their stdin closes)."""
    with _SESSION_LOCK:
        clients = list(_SESSION.values())
        _SESSION.clear()
    for client in clients:
        client.close(timeout=5.0)


atexit.register(shutdown_all)
