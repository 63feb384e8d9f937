"""`lookup serve` (SPEC.md 2): a supervisor and one forked worker per core.

Each worker binds its own listening socket to host:port with SO_REUSEPORT, so the kernel spreads
connections over the workers with no accept lock and no shared socket; each runs its own uvloop
event loop and aiohttp app (`lookup.web.app.make_app`), and opens LMDB in its own process, after
the fork (an LMDB environment must not cross a fork).

The supervisor holds no snapshot and serves nothing. It maps the shared metrics block before
forking, restarts a worker that dies (a worker dying at once again is restarted after a growing
pause, so a broken build does not spin), and on SIGTERM, SIGINT or SIGHUP sends SIGTERM to every
worker: each stops accepting, answers for up to a second more what its open connections send
(with `Connection: close`, so clients move on), lets in-flight requests finish (up to
`shutdown_timeout`), closes its audit log and exits; the supervisor exits 0 once all are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from lookup._os import die_with_parent
from lookup.errors import LookupServiceError
from lookup.service.audit import FSYNC_POLICIES, load_secret
from lookup.service.clients import ClientStore
from lookup.service.limits import ConnectionLimits, connection_cap, raise_fd_limit
from lookup.service.metrics import SharedCounters
from lookup.store import DataDir

__all__ = ("ServeError", "serve")

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT = 10.0  # seconds a worker waits for in-flight requests after SIGTERM
DRAIN_GRACE = 1.0  # seconds it still answers on open connections (with Connection: close)
STARTUP_TIMEOUT = 60.0  # seconds for every first worker to listen
STABLE_AFTER = 10.0  # a worker that lived this long is restarted at once; sooner: back off
MAX_BACKOFF = 10.0
LISTEN_BACKLOG = 1024
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class ServeError(LookupServiceError):
    """The service could not start (port taken, no snapshot, a worker failed to start)."""


def serve(
    data_dir: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int | None = None,
    audit_fsync: str = "interval",
    metrics: bool = True,
    shutdown_timeout: float = SHUTDOWN_TIMEOUT,
    limits: ConnectionLimits | None = None,
    on_ready: Callable[[str, int], None] | None = None,
    out: TextIO | None = None,
) -> int:
    """Serve the HTTP API until SIGTERM/SIGINT; return the exit status (0: drained cleanly)."""
    if audit_fsync not in FSYNC_POLICIES:
        raise ServeError(f"--audit-fsync must be one of {', '.join(FSYNC_POLICIES)}")
    limits = limits or ConnectionLimits()
    # Before the fork, so every worker inherits it.
    fd_limit = raise_fd_limit()
    cap = connection_cap(limits.max_connections)
    if cap < limits.max_connections:
        print(
            f"lookup serve: the open-file limit ({fd_limit}) allows {cap} connections per worker, "
            f"not {limits.max_connections}; raise it (ulimit -Hn) for more",
            file=sys.stderr,
            flush=True,
        )
    data = DataDir(data_dir)
    snapshot = data.current_path().name  # StoreError says how to build one
    # Done once here, before any fork: workers never race to create the audit secret, and a
    # broken clients.json is reported now rather than by every worker.
    load_secret(data_dir)
    ClientStore(data_dir)
    # Imported (not run) before the fork so workers share the pages and an import error shows
    # here, once; make_app opens nothing until a worker's runner starts it.
    import lookup.web.app  # noqa: F401

    count = workers or os.cpu_count() or 1
    port = _check_port(host, port)
    supervisor = Supervisor(
        _WorkerSpec(data_dir, host, port, count, audit_fsync, metrics, shutdown_timeout, limits),
        shared=SharedCounters(count),
    )
    out = out or sys.stdout

    def ready() -> None:
        where = f"[{host}]" if ":" in host else host
        plural = "worker" if count == 1 else "workers"
        print(
            f"serving http://{where}:{port} with {count} {plural}, snapshot {snapshot}",
            file=out,
            flush=True,
        )
        if on_ready is not None:
            on_ready(host, port)

    return supervisor.run(ready)


def _check_port(host: str, port: int) -> int:
    """Fail early and clearly when the port is taken; resolve port 0 to a free port."""
    family = _family(host)
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR only: binding fails if anything listens there, even a SO_REUSEPORT
        # group (say, another `lookup serve`) that our workers would otherwise silently join.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(
                    f"port {port} on {host} is in use; stop what listens there or pick another "
                    "with --port"
                ) from None
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        return int(probe.getsockname()[1])


def _family(host: str) -> socket.AddressFamily:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: {exc.strerror}") from None
    return infos[0][0]


def listen_socket(host: str, port: int) -> socket.socket:
    """Return a socket bound to host:port with SO_REUSEPORT, one per worker."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


# -- worker ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _WorkerSpec:
    data_dir: str
    host: str
    port: int
    workers: int
    audit_fsync: str
    metrics: bool
    shutdown_timeout: float
    limits: ConnectionLimits


def _service_config(spec: _WorkerSpec, index: int, shared: SharedCounters) -> Any:
    from lookup.web.app import ServiceConfig

    return ServiceConfig(
        data_dir=spec.data_dir,
        worker_index=index,
        workers=spec.workers,
        audit_fsync=spec.audit_fsync,
        metrics=spec.metrics,
        shared_metrics=shared,
        limits=spec.limits,
    )


def _worker_main(spec: _WorkerSpec, index: int, shared: SharedCounters, ready_fd: int) -> int:
    """Run one worker until SIGTERM; return its exit status. Runs in the forked child."""
    import uvloop

    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format=f"%(asctime)s lookup worker {index} %(levelname)s %(name)s: %(message)s",
    )
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_run_worker(spec, index, shared, ready_fd))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
    return 0


async def _run_worker(spec: _WorkerSpec, index: int, shared: SharedCounters, ready_fd: int) -> None:
    from aiohttp import web

    from lookup.web.app import ServiceRunner, make_app

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    sock = listen_socket(spec.host, spec.port)
    app = make_app(_service_config(spec, index, shared))
    # ServiceRunner is web.AppRunner whose connections answer even unparseable requests in
    # the SPEC 3 JSON error shape.
    runner = ServiceRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=spec.shutdown_timeout
    )
    await runner.setup()  # cleanup_ctx: the snapshot reader, clients, audit log open here
    try:
        await web.SockSite(runner, sock, backlog=LISTEN_BACKLOG).start()
        os.write(ready_fd, b"1")
        os.close(ready_fd)
        await stop.wait()
    finally:
        # Stops accepting, answers what the open connections still send for a moment, waits
        # for requests in progress, then closes the app's resources (the audit log flushes and
        # fsyncs last).
        await runner.drain(DRAIN_GRACE)


# -- supervisor -----------------------------------------------------------------------------
@dataclass
class _Child:
    index: int
    started: float
    ready_fd: int
    ready: bool = False


@dataclass
class Supervisor:
    """Fork, watch, restart and stop the workers."""

    spec: _WorkerSpec
    shared: SharedCounters
    children: dict[int, _Child] = field(default_factory=dict)
    quick_deaths: dict[int, int] = field(default_factory=dict)  # index -> deaths in a row
    restarts_due: dict[int, float] = field(default_factory=dict)  # index -> monotonic time
    stopping: float | None = None  # monotonic time SIGTERM went out
    killed: bool = False
    started: bool = False
    fatal: str | None = None
    _wake: tuple[int, int] = (-1, -1)

    def run(self, on_ready: Callable[[], None]) -> int:
        self.selector = selectors.DefaultSelector()
        wake_r, wake_w = self._wake = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        self.selector.register(wake_r, selectors.EVENT_READ)
        old_wakeup = signal.set_wakeup_fd(wake_w)
        handled = (*STOP_SIGNALS, signal.SIGCHLD)
        # The handlers do nothing: the C handler writes the signal number to wake_w, and the
        # loop below acts on it in order, outside signal context.
        previous = {s: signal.signal(s, lambda *_: None) for s in handled}
        try:
            for index in range(self.spec.workers):
                self._spawn(index)
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while self.children or (self.restarts_due and self.stopping is None):
                self._wait(wake_r, deadline)
                if self.started or self.stopping is not None:
                    self.shared.set_workers(len(self.children))
                elif self._all_listening():
                    self.started = True
                    self.shared.set_workers(len(self.children))
                    on_ready()
                elif time.monotonic() > deadline:
                    self.fatal = f"workers did not listen within {STARTUP_TIMEOUT:.0f} s"
                    self._stop()
        finally:
            if self.children:  # an error in the supervisor itself: do not leave workers behind
                self._stop()
            signal.set_wakeup_fd(old_wakeup)
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.selector.close()
            os.close(wake_r)
            os.close(wake_w)
        if self.fatal:
            raise ServeError(self.fatal)
        return 1 if self.killed else 0

    def _all_listening(self) -> bool:
        return len(self.children) == self.spec.workers and all(
            c.ready for c in self.children.values()
        )

    def _wait(self, wake_r: int, startup_deadline: float) -> None:
        now = time.monotonic()
        timeouts = [t - now for t in self.restarts_due.values()]
        if self.stopping is not None:
            timeouts.append(self.stopping + self.spec.shutdown_timeout + 10.0 - now)
        elif not self.started:
            timeouts.append(startup_deadline - now)
        timeout = max(0.0, min(timeouts)) if timeouts else None
        for key, _ in self.selector.select(timeout):
            if key.fd == wake_r:
                self._signals(os.read(wake_r, 512))
            else:
                self._readiness(key.fd, key.data)
        self._reap()
        self._deadlines()

    def _signals(self, received: bytes) -> None:
        for signum in received:
            if signum in STOP_SIGNALS:
                if self.stopping is None:
                    self._stop()
                elif signum == signal.SIGINT:  # a second Ctrl-C: do not wait for the drain
                    self._kill_all()

    def _readiness(self, fd: int, pid: int) -> None:
        try:
            got = os.read(fd, 1)
        except OSError:
            got = b""
        self.selector.unregister(fd)
        os.close(fd)
        child = self.children.get(pid)
        if child is not None:
            child.ready_fd = -1
            child.ready = got == b"1"

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if child.ready_fd >= 0:
                self.selector.unregister(child.ready_fd)
                os.close(child.ready_fd)
            if self.stopping is not None:
                continue
            code = os.waitstatus_to_exitcode(status)
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            if not self.started:
                self.fatal = f"worker {child.index} {how} while starting; see its error above"
                self._stop()
                return
            lived = time.monotonic() - child.started
            deaths = 0 if lived >= STABLE_AFTER else self.quick_deaths.get(child.index, 0) + 1
            self.quick_deaths[child.index] = deaths
            delay = 0.0 if deaths <= 1 else min(MAX_BACKOFF, 0.5 * 2 ** (deaths - 2))
            print(
                f"lookup serve: worker {child.index} (pid {pid}) {how}; restarting"
                + (f" in {delay:.1f}s" if delay else ""),
                file=sys.stderr,
                flush=True,
            )
            self.restarts_due[child.index] = time.monotonic() + delay

    def _deadlines(self) -> None:
        now = time.monotonic()
        if self.stopping is not None:
            self.restarts_due.clear()
            if now > self.stopping + self.spec.shutdown_timeout + 10.0 and self.children:
                print(
                    "lookup serve: workers did not stop in time; killing them",
                    file=sys.stderr,
                    flush=True,
                )
                self._kill_all()
            return
        for index, due in list(self.restarts_due.items()):
            if due <= now:
                del self.restarts_due[index]
                self.shared.add_restart()
                self._spawn(index)

    def _spawn(self, index: int) -> None:
        ready_r, ready_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                os.close(ready_r)
                signal.set_wakeup_fd(-1)
                for s in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(s, signal.SIG_DFL)
                # A closing terminal hangs up the whole group; the supervisor then stops the
                # workers gracefully, so a worker ignores the hang-up itself.
                signal.signal(signal.SIGHUP, signal.SIG_IGN)
                self.selector.close()  # the supervisor's epoll fd is not the worker's
                for fd in self._wake:
                    os.close(fd)
                die_with_parent(signal.SIGTERM)  # no orphaned workers
                status = _worker_main(self.spec, index, self.shared, ready_w)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        os.close(ready_w)
        self.children[pid] = _Child(index, time.monotonic(), ready_r)
        self.selector.register(ready_r, selectors.EVENT_READ, pid)

    def _stop(self) -> None:
        self.stopping = time.monotonic()
        self.restarts_due.clear()
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _kill_all(self) -> None:
        self.killed = True
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
