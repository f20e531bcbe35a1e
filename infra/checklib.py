"""Plumbing shared by the infra/*_check.py scripts: free ports, polling with a deadline,
JSON over HTTP, and background processes that are always stopped."""

import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The one declaration of the services: for each, its binary's name, its table (the
# owner's name in infra/tables.json), the variable that gives its callers its base URL,
# its port's offset from the gateway's in infra/run.sh, and who calls it. The scripts
# read it; infra/deploy_check.py holds compose, the template and the code to it.
SERVICES: dict[str, dict] = json.loads((ROOT / "infra" / "services.json").read_text())


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


# Ports for the servers the checks start, below the kernel's ephemeral range (Linux's
# ip_local_port_range is 32768-60999): a port the kernel hands out itself can be taken
# by some outgoing connection's source port between this check and the start of the
# server that should listen on it.
PORTS = range(20000, 32000)


# Every port handed out by this process: two servers of one check never get the same
# port, although neither listens yet when the second port is chosen.
_handed_out: set[int] = set()


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_run(length: int) -> int:
    """The first of `length` consecutive free ports, none handed out before."""
    for _ in range(1000):
        first = random.randrange(PORTS.start, PORTS.stop - length + 1)
        run = range(first, first + length)
        if _handed_out.isdisjoint(run) and all(_bindable(port) for port in run):
            _handed_out.update(run)
            return first
    raise SystemExit(f"no {length} free ports in a row in {PORTS.start}-{PORTS.stop - 1}")


def free_port() -> int:
    return free_port_run(1)


def wait_until(what: str, ready, seconds: float, alive=lambda: True):
    """Polls ready() until it returns something truthy, failing after `seconds` or as
    soon as alive() turns false (the process that should get ready has died)."""
    deadline = time.monotonic() + seconds
    while True:
        result = ready()
        if result:
            return result
        if not alive():
            raise SystemExit(f"{what}: the process died first")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: not within {seconds:.0f}s")
        time.sleep(0.2)


def http(method: str, url: str, body=None, timeout: float = 30,
         headers: dict | None = None) -> tuple[int, object]:
    """Sends JSON, returns (status, decoded JSON body or None); never raises on 4xx/5xx."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None


class Background:
    """A command run in its own process group with output to a log file; on exit the
    whole group gets SIGTERM, then SIGKILL if it lingers."""

    def __init__(self, command: list[str], log: Path, env: dict | None = None, cwd=ROOT,
                 append: bool = False):
        self.command, self.log, self.env, self.cwd = command, log, env, cwd
        self.mode = "a" if append else "w"

    def __enter__(self):
        self.log_file = open(self.log, self.mode)
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd,
                                        stdout=self.log_file, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def __exit__(self, *exc):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        finally:
            self.log_file.close()


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["services"]:
        # `checklib.py services`: one line per service for the shell scripts
        # (infra/lib.sh's declared_services): name, table, port offset, URL variable,
        # callers (comma-separated).
        for name, service in SERVICES.items():
            print(name, service["table"], service["port_offset"], service["url"],
                  ",".join(service["callers"]))
        sys.exit(0)
    # `checklib.py free-ports 6 1 1`: for each argument, the first port of a run of that
    # many free ports; all different (infra/lib.sh's free_ports).
    if sys.argv[1:2] != ["free-ports"] or not all(a.isdigit() and int(a) > 0 for a in sys.argv[2:]):
        raise SystemExit("usage: checklib.py free-ports LENGTH... | checklib.py services")
    print(" ".join(str(free_port_run(int(length))) for length in sys.argv[2:]))
