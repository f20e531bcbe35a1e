"""Tests the whole system as a user meets it, started by the README's run command.

Starts infra/run.sh on free ports with a fresh data folder; runs every ```sh block of
docs/api.md and docs/saga.md against it
(each curl must answer 2xx, each temporal command succeed); validates the OpenAPI
document the gateway serves; runs the browser end-to-end tests (frontend/e2e, Debian's
Chromium) against the UI it serves; runs Schemathesis (`--checks all`, configured by
infra/schemathesis.toml) against the gateway and its document; checks that every
series the Grafana dashboard charts is served; that every process exported its spans to
the OTLP receiver the stack was given (the browser tests check that an order shows the
trace its checkout started); stops it with SIGTERM and checks that nothing it
started is left running. Then starts it once more on the same data, to prove that
setting up again is idempotent.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from checklib import ROOT, SERVICES, free_port, free_port_run, port_free

STARTUP_SECONDS = 900  # the first run may compile the services
STOP_SECONDS = 30


# The documents whose ```sh examples are run against the stack.
CHECKED_DOCS = ["docs/api.md", "docs/saga.md"]


def readme_examples() -> list[str]:
    blocks = []
    for name in CHECKED_DOCS:
        found = re.findall(r"^```sh\n(.*?)^```", (ROOT / name).read_text(), re.M | re.S)
        if not found:
            raise SystemExit(f"{name} has no sh examples")
        blocks += found
    return blocks


def localise(block: str, ports: dict, base: int) -> str:
    """Rewrites the documents' default ports to the ones this check runs on."""
    block = re.sub(r"localhost:300([0-5])", lambda m: f"localhost:{base + int(m.group(1))}", block)
    block = block.replace("localhost:7233", f"localhost:{ports['TEMPORAL_PORT']}")
    block = block.replace("localhost:9464", f"localhost:{ports['WORKER_METRICS_PORT']}")
    return block.replace("localhost:9090", f"localhost:{ports['WORKER_STATUS_PORT']}")


class Stack:
    def __init__(self, env: dict, log: Path):
        self.env, self.log = env, log

    def __enter__(self):
        self.log_file = open(self.log, "w")
        self.process = subprocess.Popen(
            ["bash", str(ROOT / "infra" / "run.sh")],
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while "The stack is up" not in self.log.read_text():
            if self.process.poll() is not None:
                raise SystemExit(f"infra/run.sh exited early:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"infra/run.sh not up in time:\n{self.log.read_text()}")
            time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise SystemExit("infra/run.sh did not stop on SIGTERM")
        finally:
            self.log_file.close()


def validate_openapi(url: str) -> None:
    """The gateway's published document must be a valid OpenAPI 3.1 document."""
    import json
    import urllib.request

    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    with urllib.request.urlopen(url, timeout=10) as response:
        document = json.load(response)
    try:
        validate(document)
    except OpenAPIValidationError as error:
        raise SystemExit(f"{url} is not a valid OpenAPI document: {error}")
    print(f"{url}: valid OpenAPI {document['openapi']}, {len(document['paths'])} paths")


def run_browser_tests(ui_url: str) -> None:
    result = subprocess.run(["npm", "run", "--silent", "e2e"], cwd=ROOT / "frontend",
                            env=dict(os.environ, UI_URL=ui_url, EXPECT_TRACES="1"),
                            timeout=900)
    if result.returncode != 0:
        raise SystemExit("browser end-to-end tests failed (screenshots in frontend/e2e/screenshots)")
    print("browser end-to-end tests passed")


def check_dashboard(metrics_urls: list[str]) -> None:
    """Every series the Grafana dashboard (infra/grafana) charts is one the running
    system serves: a renamed metric, or a typo in a panel, leaves a chart empty."""
    served = set()
    for url in metrics_urls:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        served |= {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                   if line and not line.startswith("#")}
    dashboard = json.loads((ROOT / "infra/grafana/dashboards/order-saga.json").read_text())
    charted = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\b(?:saga|temporal|http)_[a-z_]+", target["expr"])}
    if missing := sorted(charted - served):
        raise SystemExit(f"the Grafana dashboard charts series nothing serves: {missing}")
    print(f"the Grafana dashboard's {len(charted)} series are all served")


class TraceReceiver:
    """An OTLP/HTTP receiver, as Jaeger or a collector would be: it keeps the bodies of
    the `POST /v1/traces` it is sent (ExportTraceServiceRequest, protobuf)."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.path == "/v1/traces":
                    bodies.append(body)
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def services(self) -> set[bytes]:
        """The `service.name` of each resource that sent spans, read from the protobuf:
        KeyValue{key: "service.name", value: AnyValue{string_value: name}}."""
        key = b"\x0a\x0cservice.name\x12"
        names = set()
        for body in list(self.bodies):
            for at in (m.end() for m in re.finditer(re.escape(key), body)):
                length = body[at + 2] if body[at + 1] == 0x0a else 0
                names.add(body[at + 3:at + 3 + length])
        return names


def check_traces(receiver: TraceReceiver) -> None:
    """Every process of the stack sent its spans to the endpoint it was given
    (OTEL_EXPORTER_OTLP_ENDPOINT): a process that does not would break every trace
    that crosses it."""
    wanted = {b"gateway", b"worker", *(name.encode() for name in SERVICES)}
    deadline = time.monotonic() + 30  # the batches leave every 0.5 s
    while (missing := wanted - receiver.services()) and time.monotonic() < deadline:
        time.sleep(0.2)
    if missing:
        raise SystemExit(f"no spans exported by {sorted(m.decode() for m in missing)}")
    print(f"every process exported spans ({len(receiver.bodies)} exports received)")


def run_schemathesis(base_url: str) -> None:
    """Every request the document admits is accepted, every one it refuses is refused,
    and every answer is one the document states (as the demo admin, so that the admin
    operations are reached too)."""
    import json
    import urllib.request

    login = urllib.request.Request(
        f"{base_url}/v1/auth/login", method="POST",
        data=json.dumps({"email": "admin@example.com", "password": "admin-password"}).encode(),
        headers={"content-type": "application/json"})
    with urllib.request.urlopen(login, timeout=10) as response:
        token = json.load(response)["access_token"]
    result = subprocess.run(
        [str(ROOT / ".local/venv/bin/st"), "--config-file", str(ROOT / "infra/schemathesis.toml"),
         "run", f"{base_url}/v1/openapi.json", "--url", base_url, "--checks", "all",
         "-H", f"Authorization: Bearer {token}", "--no-color"],
        capture_output=True, text=True, timeout=900, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"Schemathesis found the API and its document disagree:\n{result.stdout[-20000:]}"
                         f"\n{result.stderr[-2000:]}")
    print("Schemathesis: " + (result.stdout.strip().splitlines() or ["passed"])[-1].strip("= "))


def leftovers(data_dir: str, ports: list[int]) -> list[str]:
    found = [f"port {p} still open" for p in ports if not port_free(p)]
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if data_dir in cmdline and "system_check" not in cmdline:
                found.append(f"process {proc.name} still running: {cmdline}")
    return found


def refuses_clashing_ports(env: dict, base: int) -> None:
    """infra/run.sh starts nothing when two servers are given one port (here the worker's
    status endpoint and the customer service): one of them would answer for the other."""
    clash = dict(env, WORKER_STATUS_PORT=str(base + 1))
    result = subprocess.run(["bash", str(ROOT / "infra" / "run.sh")], env=clash,
                            capture_output=True, text=True, timeout=600)
    if result.returncode == 0 or f"port {base + 1} is given to two servers" not in result.stderr:
        raise SystemExit(f"infra/run.sh did not refuse a port given twice:\n{result.stderr[-2000:]}")
    print("infra/run.sh refuses a port given to two servers")


# The gateway's port, then each service's at its offset (infra/services.json).
FUNCTION_PORTS = 1 + max(service["port_offset"] for service in SERVICES.values())


def main() -> None:
    examples = readme_examples()
    base = free_port_run(FUNCTION_PORTS)
    ports = {
        "DYNAMODB_PORT": free_port(),
        "TEMPORAL_PORT": free_port(),
        "TEMPORAL_UI_PORT": free_port(),
        "WORKER_STATUS_PORT": free_port(),
        "WORKER_METRICS_PORT": free_port(),
        "UI_PORT": free_port(),
    }
    all_ports = list(ports.values()) + [base + i for i in range(FUNCTION_PORTS)]
    traces = TraceReceiver()
    with tempfile.TemporaryDirectory(prefix="readme-check-") as data_dir:
        env = dict(os.environ, DATA_DIR=data_dir, SERVICE_PORT_BASE=str(base),
                   # Every process exports its spans here, soon after they end.
                   OTEL_EXPORTER_OTLP_ENDPOINT=traces.endpoint, OTEL_BSP_SCHEDULE_DELAY="500",
                   TRACE_UI_URL="http://localhost:16686/trace/{trace_id}",
                   # A breaker that opens and probes within the browser test's patience.
                   BREAKER_FAILURE_THRESHOLD="3", BREAKER_COOL_DOWN_MS="3000",
                   # Schemathesis sends ~2000 requests as one user in under a minute; the
                   # limiter has its own tests, and here it would answer most of them 429.
                   RATE_LIMIT_PER_MINUTE="100000",
                   # And its orders, a few hundred, would meet the order limit (its own
                   # tests are the gateway's).
                   ORDER_RATE_PER_MINUTE="100000", ORDER_RATE_BURST="10000",
                   OPEN_ORDERS_PER_CUSTOMER="100000", HELD_UNITS_PER_CUSTOMER="1000000",
                   **{k: str(v) for k, v in ports.items()})
        log = Path(data_dir) / "run.log"
        refuses_clashing_ports(env, base)

        with Stack(env, log):
            for block in examples:
                script = localise(block, ports, base)
                result = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c",
                     'curl() { command curl --fail-with-body -sS "$@"; }\n' + script],
                    capture_output=True, text=True, timeout=120, cwd=ROOT,
                )
                if result.returncode != 0:
                    raise SystemExit(f"documented example failed:\n{script}\n"
                                     f"{result.stdout}\n{result.stderr}")
            print(f"{len(examples)} documented examples passed")
            validate_openapi(f"http://localhost:{base}/v1/openapi.json")
            run_browser_tests(f"http://127.0.0.1:{ports['UI_PORT']}")
            # After the browser tests: they complete and compensate orders and open a
            # breaker, so that every series the dashboard charts has been recorded.
            check_dashboard([f"http://localhost:{base + i}/metrics" for i in range(FUNCTION_PORTS)]
                            + [f"http://localhost:{ports['WORKER_METRICS_PORT']}/metrics"])
            check_traces(traces)
            # Last: it registers accounts and changes products the browser tests use.
            run_schemathesis(f"http://localhost:{base}")

        if left := leftovers(data_dir, all_ports):
            raise SystemExit("infra/run.sh left things running:\n" + "\n".join(left))

        with Stack(env, log):
            print("infra/run.sh started again on the same data")
        if left := leftovers(data_dir, all_ports):
            raise SystemExit("infra/run.sh left things running:\n" + "\n".join(left))
    print("infra/run.sh starts, serves the documented examples and stops cleanly")


if __name__ == "__main__":
    sys.exit(main())
