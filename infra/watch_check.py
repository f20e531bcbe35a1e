"""Tests the `cargo lambda watch` path: every function served by cargo lambda's Lambda
runtime emulator through its lambda_http entry, as function-URL events.

Creates fresh tables (a unique TABLE_PREFIX) in the DynamoDB Local named by
AWS_ENDPOINT_URL_DYNAMODB, starts infra/watch.sh on a free port and sends requests to
each function at /lambda-url/<binary>/...: the five services directly, and the gateway,
which calls the services through the emulator in turn. Every answer must carry the
Lambda invocation's request id rather than the x-request-id the request sent, which only
the Lambda entry does (the plain HTTP server echoes the caller's), so a pass proves the
Lambda entry served it.
"""

import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from checklib import ROOT, Background, free_port, wait_until

SENT_REQUEST_ID = "sent-by-watch-check"
FIRST_ANSWER_SECONDS = 600  # the emulator compiles a function on its first invocation


def call(base: str, method: str, path: str, body=None, token=None) -> tuple[int, dict, object]:
    """Returns (status, headers, JSON body); checks that the Lambda entry answered."""
    headers = {"content-type": "application/json", "x-request-id": SENT_REQUEST_ID}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=FIRST_ANSWER_SECONDS) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    request_id = answer_headers.get("x-request-id")
    if not request_id or request_id == SENT_REQUEST_ID:
        raise SystemExit(f"{method} {path}: answered by something other than the Lambda "
                         f"entry (x-request-id {request_id!r}): {status} {raw[:300]!r}")
    return status, answer_headers, json.loads(raw) if raw else None


def expect(status: int, wanted: int, what: str, body) -> None:
    if status != wanted:
        raise SystemExit(f"{what}: expected {wanted}, got {status}: {body}")


def emulator_up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    except urllib.error.HTTPError:
        return True  # the emulator answers unknown paths with an error status
    except OSError:
        return False
    return True


def main() -> None:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if not endpoint:
        raise SystemExit("set AWS_ENDPOINT_URL_DYNAMODB to a running DynamoDB Local")
    prefix = f"watch-{uuid.uuid4().hex[:8]}-"
    port = free_port()
    env = dict(os.environ, TABLE_PREFIX=prefix, INVOKE_PORT=str(port), RUST_LOG="warn")
    env.pop("TABLE_NAME", None)

    # Every binary built up front, so the emulator's first invocations start at once.
    subprocess.run(["cargo", "build", "--quiet", "--bins"], cwd=ROOT, check=True)
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    devstack = Path(metadata["target_directory"]) / "debug" / "devstack"
    subprocess.run([devstack, "create-tables"], env=env, check=True, stdout=subprocess.DEVNULL)

    with tempfile.TemporaryDirectory(prefix="watch-check-") as logs:
        with Background(["bash", str(ROOT / "infra" / "watch.sh")],
                        Path(logs) / "watch.log", env) as watch:
            try:
                wait_until("cargo lambda watch", lambda: emulator_up(port), 120, watch.alive)
                exercise(f"http://127.0.0.1:{port}/lambda-url")
            except SystemExit:
                print(watch.output()[-4000:], file=sys.stderr)
                raise
    print("cargo lambda watch: all six functions answered through their Lambda entry")


def exercise(url: str) -> None:
    customer, inventory, order = f"{url}/customer", f"{url}/inventory", f"{url}/order"
    payment, notification, gateway = f"{url}/payment", f"{url}/notification", f"{url}/gateway"

    status, _, body = call(customer, "POST", "/customers", b"{not json")
    expect(status, 400, "customer: a malformed body", body)
    status, _, body = call(customer, "POST", "/customers", {
        "email": "ada@example.com", "password": "correct horse", "name": "Ada"})
    expect(status, 201, "customer: register", body)

    status, _, body = call(inventory, "POST", "/products", {
        "sku": "WATCH-MUG", "name": "Mug", "price": 1250, "currency": "EUR", "available": 5})
    expect(status, 201, "inventory: create a product", body)

    status, _, body = call(order, "PUT", "/orders/watch-order-1", {
        "customer_id": "c-watch", "currency": "EUR",
        "lines": [{"sku": "WATCH-MUG", "quantity": 1, "unit_price": 1250}]})
    expect(status, 201, "order: create", body)

    status, _, body = call(payment, "POST", "/payments/watch-order-1/charge",
                           {"amount": 1250, "currency": "EUR", "method": "card_approve"})
    if status not in (200, 201):
        raise SystemExit(f"payment: charge answered {status}: {body}")

    status, _, body = call(notification, "POST", "/users/c-watch/notifications", {
        "key": "watch-order-1.completed", "kind": "order.completed",
        "title": "Order completed", "order_id": "watch-order-1"})
    if status not in (200, 201):
        raise SystemExit(f"notification: create answered {status}: {body}")

    # The gateway, calling the services through the emulator.
    status, _, body = call(gateway, "POST", "/v1/auth/register", {
        "email": "grace@example.com", "password": "correct horse", "name": "Grace"})
    expect(status, 201, "gateway: register (through customer)", body)
    status, _, body = call(gateway, "POST", "/v1/auth/login",
                           {"email": "grace@example.com", "password": "correct horse"})
    expect(status, 200, "gateway: log in (through customer)", body)
    token = body["access_token"]
    status, _, body = call(gateway, "GET", "/v1/products?limit=10")
    expect(status, 200, "gateway: catalog (through inventory)", body)
    if [p["sku"] for p in body["items"]] != ["WATCH-MUG"]:
        raise SystemExit(f"gateway: the catalog should list WATCH-MUG alone: {body}")
    status, _, body = call(gateway, "GET", "/v1/orders", token=token)
    expect(status, 200, "gateway: orders (through order)", body)
    status, _, body = call(gateway, "GET", "/v1/notifications?after=0", token=token)
    expect(status, 200, "gateway: notifications (through notification)", body)
    status, _, body = call(gateway, "GET", "/v1/orders")
    expect(status, 401, "gateway: orders without a token", body)


if __name__ == "__main__":
    sys.exit(main())
