"""The service as a background ``nfldeploy serve`` process (``up`` without a Docker engine): it replaces the
one a previous ``up`` left for the same export (its pid is recorded beside the export), refuses a port that
something else holds, and is watched until ready, so a server that dies at start-up is one clear error with
its log's last lines, not a minute's wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from nfldeploy.errors import ConfigError, DeployError
from nfldeploy.ports import port_taken

PID_FILE = "serve.pid"
LOG_FILE = "serve.log"
STOP_SECONDS = 10.0


class ServeProcess:
    """``nfldeploy serve`` of ``export_dir`` on 127.0.0.1:``port``, its pid and log in ``export_dir``'s
    parent."""

    def __init__(self, export_dir: Path, port: int) -> None:
        self.export_dir, self.port = export_dir, port
        self.pid_file = export_dir.parent / PID_FILE
        self.log = export_dir.parent / LOG_FILE
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout: float = 60.0) -> int:
        """Start the server and wait for /ready; its pid. The previous server keeps serving unless it holds
        this port (then it is stopped first). DeployError (nothing of this one left running) when it exits
        or is not ready in time; ConfigError when another program holds the port."""
        previous = recorded(self.pid_file)
        if previous is not None and previous[1] == self.port:
            stop_recorded(self.pid_file)
        elif port_taken("127.0.0.1", self.port):
            raise ConfigError(
                f"port {self.port} is in use by another program",
                hint="Pass --port N, or stop what listens there.",
            )
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nfldeploy", "serve", str(self.export_dir), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self.process.pid

    def take_over(self) -> None:
        """Stop the previous server (if another still serves) and record this one, so the next ``up``
        replaces it."""
        assert self.process is not None
        stop_recorded(self.pid_file)
        self.pid_file.write_text(f"{self.process.pid} {self.port}\n")

    def stop(self) -> None:
        """Stop the server this object started (SIGTERM, then SIGKILL after STOP_SECONDS)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            code = self.process.poll()
            if code is not None:
                raise DeployError(
                    f"nfldeploy serve exited with code {code} before it was ready; its log ends:\n"
                    + log_tail(self.log),
                    hint=f"The whole log: {self.log}",
                )
            try:
                if httpx.get(f"{self.url}/ready", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DeployError(
                    f"nfldeploy serve was not ready after {timeout:g} s; its log ends:\n"
                    + log_tail(self.log),
                    hint=f"The whole log: {self.log}",
                )
            time.sleep(0.2)


def recorded(pid_file: Path) -> tuple[int, int] | None:
    """The pid and port of the server ``pid_file`` names, if it still serves."""
    try:
        pid, port = (int(word) for word in pid_file.read_text().split()[:2])
    except (OSError, ValueError):
        return None
    return (pid, port) if is_serving(pid) else None


def stop_recorded(pid_file: Path) -> int | None:
    """Stop the server ``pid_file`` names, if that process is still an ``nfldeploy serve`` (a pid the system
    has since reused is left alone), and forget it; the pid stopped, else None."""
    found = recorded(pid_file)
    pid_file.unlink(missing_ok=True)
    if found is None:
        return None
    pid = found[0]
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while is_serving(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_serving(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return pid


def is_serving(pid: int) -> bool:
    """``pid`` is a running ``nfldeploy serve`` (not a zombie, not another program that got its number)."""
    if Path("/proc/self").is_dir():
        try:  # a zombie's command line is empty
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return False
    else:  # no /proc (macOS): ask ps
        done = subprocess.run(["ps", "-o", "stat=,command=", "-p", str(pid)], capture_output=True, text=True)
        stat, _, command = done.stdout.strip().partition(" ")
        if stat.startswith("Z"):
            return False
    return "nfldeploy" in command and " serve " in f"{command} "


def log_tail(log: Path, lines: int = 12) -> str:
    """The last ``lines`` lines of ``log`` ('' when it cannot be read)."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
