"""Real Debian nginx and haproxy on loopback for the deploy tests, each with a temporary
configuration on a free port, run in the foreground as a child process.

A test that needs one skips when the program is not installed (`apt-get install nginx haproxy`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

__all__ = ("Haproxy", "Nginx", "free_port", "wait_for_port")

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout=20.0) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def _program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install -y {name})")
    return found


class Nginx:
    """nginx serving the directory `root` on 127.0.0.1:<free port>; `limit_rate` slows it."""

    def __init__(self, root: Path, work: Path, *, limit_rate: str | None = None) -> None:
        self.root, self.work, self.port = root, work, free_port()
        self.limit_rate = limit_rate

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Nginx:
        program = _program("nginx")
        self.work.mkdir(parents=True, exist_ok=True)
        rate = f"limit_rate {self.limit_rate};" if self.limit_rate else ""
        temp = " ".join(
            f"{kind}_temp_path {self.work}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = self.work / "nginx.conf"
        # user root: pytest's temporary directories are private to root.
        conf.write_text(
            f"""daemon off; user root; worker_processes 1;
error_log {self.work}/error.log; pid {self.work}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off; {temp}
  server {{ listen 127.0.0.1:{self.port}; root {self.root}; location / {{ {rate} }} }}
}}
"""
        )
        self.process = subprocess.Popen([program, "-c", str(conf), "-p", str(self.work)])
        wait_for_port(self.port, self.process)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)


class Haproxy:
    """haproxy with deploy/haproxy/haproxy.cfg, its ports and servers substituted."""

    def __init__(self, work: Path, backends: list[int]) -> None:
        self.work, self.backends = work, backends
        self.port, self.stats_port = free_port(), free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        """Return the deployed configuration with this test's ports and nodes."""
        text = (REPO / "deploy/haproxy/haproxy.cfg").read_text()
        servers = "\n".join(
            f"    server node{i} 127.0.0.1:{port}" for i, port in enumerate(self.backends, 1)
        )
        start, end = "    # -- nodes --", "    # -- end of nodes --"
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        assert rest, "deploy/haproxy/haproxy.cfg lost its node markers"
        text = f"{head}{start}\n{servers}\n{end}{tail}"
        text = text.replace("bind :8080", f"bind 127.0.0.1:{self.port}")
        return text.replace("bind :8404", f"bind 127.0.0.1:{self.stats_port}")

    def __enter__(self) -> Haproxy:
        program = _program("haproxy")
        self.work.mkdir(parents=True, exist_ok=True)
        conf = self.work / "haproxy.cfg"
        conf.write_text(self.config())
        subprocess.run([program, "-c", "-q", "-f", str(conf)], check=True)
        self.process = subprocess.Popen([program, "-db", "-f", str(conf)])
        wait_for_port(self.port, self.process)
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(10)
