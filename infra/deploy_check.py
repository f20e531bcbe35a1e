"""Checks the deployment artefacts that cannot run on a machine without AWS or Docker.

- template.yaml (SAM): cfn-lint and `sam validate --lint` pass; its tables have exactly
  the keys, indexes and TTL of infra/tables.json; every function is built from a
  binary of this workspace; the IAM policy of each function, and of the worker's
  task role, grants every DynamoDB action its code calls (a missing grant is an
  AccessDenied only seen on AWS); each of them may invoke exactly the services whose
  URL its code reads, and is given exactly those URLs; no function gets a Secrets
  Manager secret resolved into a plaintext environment variable: it fetches its
  secrets at run time (`*_ARN`), which it is granted to read; every function has
  reserved concurrency, the WebSocket stage is throttled, and no function URL has a
  CORS configuration over the gateway's own; the UI's bucket is private, read by its
  CloudFront distribution only, which serves the UI with the security headers nginx
  serves and the API under /v1/* with the origin secret the gateway checks; the
  candidate worker of a rollout is the worker's task but for its image and build id;
  its service functions, their tables, and the URLs the callers' code reads, are those
  infra/services.json declares. Each rule is shown to refuse a copy of the template
  (or of the declaration) broken against it.
- docker-compose.yml: valid against the Compose Specification's JSON schema; every
  image is built from a Dockerfile of this repository for a binary of this workspace;
  every table it names is one of infra/tables.json; every mounted path exists; every
  port is published on 127.0.0.1 only (and a copy publishing one more widely is refused);
  Prometheus scrapes every process that serves metrics, every process built here
  exports its traces to Jaeger, and it runs the services of infra/services.json on
  their tables and gives their callers their URLs (each shown to refuse a copy broken
  against it).
- localstack/init: the hook that LocalStack runs is run here, twice, against DynamoDB
  Local (the same DynamoDB API), with the AWS CLI. It must create the tables exactly
  as infra/tables.json defines them, and its demo data must work with the real
  services: the demo users log in, and the catalog lists the demo products.

Needs AWS_ENDPOINT_URL_DYNAMODB (a running DynamoDB Local) and the tools of
infra/requirements.txt in .local/venv; infra/test.sh provides both.
"""

import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import yaml

from checklib import ROOT, SERVICES, Background, free_port, http, wait_until

VENV_BIN = ROOT / ".local" / "venv" / "bin"
TABLES = json.loads((ROOT / "infra" / "tables.json").read_text())
SEED = json.loads((ROOT / "infra" / "seed.json").read_text())


def template_tables(resources: dict) -> dict:
    """infra/tables.json's owner -> the template's table of the same name (`orders` ->
    `OrdersTable`, `ratelimits` -> `RateLimitsTable`: compared without case). Refuses
    a template whose tables are not exactly those of infra/tables.json."""
    tables = {rid.lower(): rid for rid, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}
    found = {owner: tables.get(f"{owner}table") for owner in TABLES}
    if None in found.values() or len(tables) != len(TABLES):
        raise SystemExit(f"template.yaml's tables {sorted(tables.values())} are not "
                         f"infra/tables.json's {sorted(TABLES)}")
    return found


# How the Rust SDK's calls appear in the source, and the IAM action each needs.
SDK_CALLS = {
    r"\.get_item\(": "dynamodb:GetItem",
    r"\.put_item\(|\bPut::builder\(": "dynamodb:PutItem",
    r"\.update_item\(|\bUpdate::builder\(": "dynamodb:UpdateItem",
    r"\.delete_item\(|\bDelete::builder\(": "dynamodb:DeleteItem",
    r"\bConditionCheck::builder\(": "dynamodb:ConditionCheckItem",
    r"\.query\(\)": "dynamodb:Query",
    r"\.scan\(\)": "dynamodb:Scan",
    r"\.batch_get_item\(": "dynamodb:BatchGetItem",
    r"\.batch_write_item\(": "dynamodb:BatchWriteItem",
}


def function_of(crate: str) -> str:
    """The template's logical id of a function's crate (`order` -> `OrderFunction`)."""
    return f"{crate.capitalize()}Function"


# A function's crate -> its logical id in the template: the declared services' and the
# gateway's.
TEMPLATE_FUNCTIONS = {crate: function_of(crate) for crate in [*SERVICES, "gateway"]}

# Who calls services, and the file where it reads their URLs (see urls_read_in).
SERVICE_CALLERS = {
    "GatewayFunction": "functions/gateway/src/config.rs",
    "GatewayFanoutFunction": "functions/gateway/src/events/fanout.rs",
    "worker": "worker/src/config.rs",
}
# A service's URL variable -> its function's logical id.
SERVICE_FUNCTIONS = {service["url"]: function_of(name) for name, service in SERVICES.items()}
# Who calls the services (infra/services.json's `callers`): its code, its compose service.
CALLER_CONFIGS = {"gateway": SERVICE_CALLERS["GatewayFunction"], "worker": SERVICE_CALLERS["worker"]}


def run(command: list, **kwargs) -> str:
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, **kwargs)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, command))} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


class CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !GetAtt ...) as {tag: value}."""


def _tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CloudFormationLoader.add_multi_constructor("!", _tagged)


def cargo_metadata() -> dict:
    return json.loads(run(["cargo", "metadata", "--no-deps", "--format-version", "1"]))


def workspace_binaries(metadata: dict) -> set[str]:
    return {target["name"] for package in metadata["packages"]
            for target in package["targets"] if "bin" in target["kind"]}


def normalised(definition: dict) -> dict:
    """A table definition reduced to what must agree, in a comparable order."""
    by_name = lambda items, key: sorted(items, key=lambda item: item[key])  # noqa: E731
    ttl = definition.get("TimeToLiveSpecification") or {}
    return {
        "attributes": by_name(definition["AttributeDefinitions"], "AttributeName"),
        "keys": definition["KeySchema"],
        "indexes": by_name([
            {"IndexName": index["IndexName"], "KeySchema": index["KeySchema"],
             "Projection": index["Projection"]}
            for index in definition.get("GlobalSecondaryIndexes", [])
        ], "IndexName"),
        "ttl": ttl.get("AttributeName") if ttl.get("Enabled", True) else None,
    }


def check_template(binaries: set[str]) -> None:
    env = dict(os.environ, SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1")
    run([VENV_BIN / "cfn-lint", "template.yaml"], env=env)
    run([VENV_BIN / "sam", "validate", "--lint", "--template", "template.yaml"], env=env)

    resources = yaml.load((ROOT / "template.yaml").read_text(), CloudFormationLoader)["Resources"]
    tables = template_tables(resources)
    without_orders = {rid: r for rid, r in resources.items() if rid != tables["orders"]}
    must_refuse("the table check", "a template without the orders table",
                template_tables, without_orders)
    for owner, logical_id in tables.items():
        declared = normalised(resources[logical_id]["Properties"])
        if declared != normalised(TABLES[owner]):
            raise SystemExit(f"template.yaml's {logical_id} differs from infra/tables.json's "
                             f"{owner}:\n{declared}\n{normalised(TABLES[owner])}")

    functions = {rid: r for rid, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    for logical_id, function in functions.items():
        binary = function["Metadata"]["BuildProperties"]["Binary"]
        if binary not in binaries:
            raise SystemExit(f"template.yaml's {logical_id} builds {binary}, not a workspace binary")

    granted_to = {
        f"functions/{crate}": functions[logical_id]["Properties"]["Policies"]
        for crate, logical_id in TEMPLATE_FUNCTIONS.items()
    }
    granted_to["worker"] = [policy["PolicyDocument"]
                            for policy in resources["WorkerTaskRole"]["Properties"]["Policies"]]
    kit = service_kit_actions()
    check_dynamodb_grants(granted_to, kit)
    # The customer service reaches DynamoDB only through service-kit: without one action
    # it needs, the check must refuse.
    broken = copy.deepcopy(granted_to)
    drop_action(broken["functions/customer"], "dynamodb:GetItem")
    must_refuse("the DynamoDB grant check", "the customer service without GetItem",
                check_dynamodb_grants, broken, kit)
    check_invocations(resources, functions)
    check_invocations_can_fail(resources, functions)
    check_declared_functions(resources, SERVICES)
    misdeclared = copy.deepcopy(SERVICES)
    misdeclared["payment"]["table"] = "orders"
    must_refuse("the declared services check", "a service declared with another's table",
                check_declared_functions, resources, misdeclared)
    misdeclared = copy.deepcopy(SERVICES)
    misdeclared["customer"]["callers"].append("worker")
    must_refuse("the declared services check", "a caller whose code reads other URLs",
                check_declared_functions, resources, misdeclared)
    check_public_url()
    check_secrets(resources, functions)
    check_secrets_can_fail(resources, functions)
    check_ui(resources)
    for broken_name, breaking in UI_BREAKS.items():
        broken = copy.deepcopy(resources)
        breaking(broken)
        must_refuse("the UI check", broken_name, check_ui, broken)
    check_entry_points(resources, functions)
    for broken_name, breaking in ENTRY_POINT_BREAKS.items():
        broken = copy.deepcopy(resources)
        breaking(broken)
        must_refuse("the entry point check", broken_name, check_entry_points,
                    broken, {rid: broken[rid] for rid in functions})
    check_alarms(resources)
    check_candidate_worker(resources)
    broken = copy.deepcopy(resources)
    broken["CandidateWorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0][
        "Environment"].pop(0)
    must_refuse("the candidate worker check", "a candidate worker without TEMPORAL_ADDRESS",
                check_candidate_worker, broken)
    print(f"template.yaml: cfn-lint and sam validate pass; {len(TABLES)} tables match "
          f"infra/tables.json; {len(functions)} functions build workspace binaries; the "
          f"functions and the worker are granted the DynamoDB actions they call, may "
          f"invoke exactly the services they call (both actions of a function URL; the "
          f"gateway's public URL is open through the URL only), and read their secrets at "
          f"run time; every function has reserved concurrency, the WebSocket stage is "
          f"throttled, CORS is the gateway's alone; the UI is served from a private bucket "
          f"with nginx's security headers and the API under its origin, whose secret the "
          f"gateway checks; the alarms count lines the worker logs; a candidate worker "
          f"is the worker but for its image and build id; the service functions and the "
          f"URLs their callers read are those infra/services.json declares")


# The variables of Worker Versioning, as worker/src/config.rs reads them.
VERSIONING_VARIABLES = {"WORKER_DEPLOYMENT_NAME": "WorkerDeploymentName", "BUILD_ID": None}


def urls_read_in(source: str) -> set[str]:
    """The service URL variables a caller's code reads: each of its `base_url("…_URL")`,
    and with `services::urls_from_env("<caller>")`, those infra/services.json declares
    for that caller."""
    code = (ROOT / source).read_text()
    read = set(re.findall(r'base_url\("([A-Z]+_URL)"\)', code))
    for caller in re.findall(r'services::urls_from_env\("(\w+)"\)', code):
        read |= {service["url"] for service in SERVICES.values() if caller in service["callers"]}
    return read


def check_declared_functions(resources: dict, services: dict) -> None:
    """The template's functions, and the callers' code, are those infra/services.json
    declares: each service a function of its binary on its table, and each caller's
    code reads the URLs of exactly the services declared as called by it (the
    template's grants and URLs are held to that code by check_invocations)."""
    for name, service in services.items():
        function = resources.get(function_of(name), {})
        binary = function.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        table = function.get("Properties", {}).get("Environment", {}).get("Variables", {}).get("TABLE_NAME")
        if binary != name or table != {"Ref": template_tables(resources)[service["table"]]}:
            raise SystemExit(f"template.yaml: infra/services.json declares {name} on table "
                             f"{service['table']}; {function_of(name)} builds {binary} on {table}")
    for caller in CALLER_CONFIGS:
        declared = {service["url"] for service in services.values() if caller in service["callers"]}
        read = urls_read_in(CALLER_CONFIGS[caller])
        if read != declared:
            raise SystemExit(f"{CALLER_CONFIGS[caller]} reads {sorted(read)}; "
                             f"infra/services.json declares {sorted(declared)} for the {caller}")


def check_declared_compose(compose: dict, services: dict) -> None:
    """Compose runs the services infra/services.json declares, each on its table, and
    gives each caller the URLs of exactly the services declared as called by it."""
    for name, service in compose["services"].items():
        binary = (service.get("build") or {}).get("args", {}).get("BIN")
        if binary and binary not in services and binary not in CALLER_CONFIGS:
            raise SystemExit(f"compose service {name} runs {binary}, which infra/services.json "
                             f"does not declare")
    for name, service in services.items():
        environment = compose["services"].get(name, {}).get("environment", {})
        if environment.get("TABLE_NAME") != f"local-{service['table']}":
            raise SystemExit(f"compose: infra/services.json declares {name} on table "
                             f"{service['table']}; compose gives it {environment.get('TABLE_NAME')}")
    urls = {service["url"] for service in services.values()} | set(SERVICE_FUNCTIONS)
    for caller in CALLER_CONFIGS:
        environment = compose["services"][caller]["environment"]
        given = {key: value for key, value in environment.items() if key in urls}
        declared = {service["url"]: f"http://{name}:8080" for name, service in services.items()
                    if caller in service["callers"]}
        if given != declared:
            raise SystemExit(f"compose: the {caller} is given {given}; infra/services.json "
                             f"declares {declared}")


def check_candidate_worker(resources: dict) -> None:
    """The candidate worker of a rollout (docs/deploy.md) runs the worker's task and
    service but for its image, its build id and its log stream: a rollout changes the
    code and nothing else. Both declare the deployment that worker/src/config.rs reads."""
    config = (ROOT / "worker/src/config.rs").read_text()
    comparable = {}
    for prefix, stream in (("", "worker"), ("Candidate", "worker-candidate")):
        task = copy.deepcopy(resources[f"{prefix}WorkerTaskDefinition"]["Properties"])
        container = task["ContainerDefinitions"][0]
        environment = {e["Name"]: e.get("Value") for e in container["Environment"]}
        wanted = {name: {"Ref": parameter or f"{prefix}WorkerBuildId"}
                  for name, parameter in VERSIONING_VARIABLES.items()}
        for name, value in wanted.items():
            if environment.get(name) != value or f'"{name}"' not in config:
                raise SystemExit(f"template.yaml: {prefix}WorkerTaskDefinition's {name} is "
                                 f"{environment.get(name)}, not {value} read by the worker")
        if container.pop("Image") != {"Ref": f"{prefix}WorkerImage"}:
            raise SystemExit(f"template.yaml: {prefix}WorkerTaskDefinition's image is not "
                             f"{prefix}WorkerImage")
        if container["LogConfiguration"]["Options"].pop("awslogs-stream-prefix") != stream:
            raise SystemExit(f"template.yaml: {prefix}WorkerTaskDefinition logs under "
                             f"another prefix than {stream}")
        container["Environment"] = [e for e in container["Environment"] if e["Name"] != "BUILD_ID"]
        service = copy.deepcopy(resources[f"{prefix}WorkerService"]["Properties"])
        del service["TaskDefinition"]
        comparable[prefix or "Worker"] = (task, service)
    if comparable["Worker"] != comparable["Candidate"]:
        raise SystemExit("template.yaml: the candidate worker's task or service differs from "
                         "the worker's beyond its image and build id")


def check_alarms(resources: dict) -> None:
    """Each log metric filter matches a line the worker really logs (JSON, `message`
    first words), and an alarm on the alarm topic watches its metric."""
    source = "".join(p.read_text() for p in (ROOT / "worker/src").rglob("*.rs"))
    filters = {r["Properties"]["MetricTransformations"][0]["MetricName"]: r["Properties"]
               for r in resources.values() if r["Type"] == "AWS::Logs::MetricFilter"}
    alarmed = {r["Properties"]["MetricName"] for r in resources.values()
               if r["Type"] == "AWS::CloudWatch::Alarm"
               and r["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]}
    if set(filters) != {"CompensationStuck", "WorkflowTaskFailed"} or set(filters) != alarmed:
        raise SystemExit(f"template.yaml: log metrics {sorted(filters)}, alarmed {sorted(alarmed)}")
    for metric, properties in filters.items():
        if properties["LogGroupName"] != {"Ref": "WorkerLogGroup"}:
            raise SystemExit(f"template.yaml: {metric} does not read the worker's log group")
        line = re.fullmatch(r'\{ \$\.message = "(.+)\*" \}', properties["FilterPattern"])
        if not line or f'"{line.group(1)}' not in source:
            raise SystemExit(f"template.yaml: {metric}'s pattern matches no worker log line")


def statements(policies: list) -> list:
    return [statement for policy in policies
            for statement in policy["Statement"] if statement["Effect"] == "Allow"]


def rust_sources(folder: Path) -> str:
    """The non-test code of a crate's `src`, without comments: files named tests.rs or
    testing.rs and everything from a `#[cfg(test)]` on are left out."""
    texts = []
    for path in sorted(folder.rglob("*.rs")):
        if path.name in ("tests.rs", "testing.rs"):
            continue
        code = path.read_text().split("#[cfg(test)]")[0]
        texts.append(re.sub(r"//.*", "", code))
    return "\n".join(texts)


def called(name: str, source: str, foreign_types: frozenset[str] = frozenset()) -> bool:
    """Whether `source` calls a function `name`, other than as an associated function
    of a type named in `foreign_types` (`Span::current()` is not service-kit's
    `current`)."""
    for match in re.finditer(rf"(?:\b(\w+)::)?\b{name}\s*(::<[^>]*>)?\(", source):
        if match.group(1) is None or match.group(1) not in foreign_types:
            return True
    return False


def foreign_types(source: str, kit_source: str) -> frozenset[str]:
    """The capitalised names `source` calls functions on that service-kit does not
    define (Span, Handle, Client...)."""
    kit_types = set(re.findall(r"\b(?:struct|enum|trait|type)\s+(\w+)", kit_source))
    return frozenset(set(re.findall(r"\b([A-Z]\w*)::\w+\s*\(", source)) - kit_types)


def sdk_actions(source: str) -> set[str]:
    return {action for pattern, action in SDK_CALLS.items() if re.search(pattern, source)}


def service_kit_actions() -> dict[str, set[str]]:
    """For each function of service-kit, the DynamoDB actions it makes, itself or
    through the service-kit functions it calls. A function's text runs from its `fn` to
    the next one, which may count a neighbour's actions too: the error is towards
    asking for a grant, never towards missing one."""
    source = rust_sources(ROOT / "crates/service-kit/src")
    starts = [(m.start(), m.group(1)) for m in re.finditer(r"\bfn\s+(\w+)", source)]
    bodies: dict[str, str] = {}
    for i, (start, name) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(source)
        bodies[name] = bodies.get(name, "") + source[start:end]
    made = {name: sdk_actions(body) for name, body in bodies.items()}
    changed = True
    while changed:
        changed = False
        for name, body in bodies.items():
            for other, other_made in made.items():
                if other != name and other_made - made[name] and called(other, body):
                    made[name] |= other_made
                    changed = True
    return {name: found for name, found in made.items() if found}


def check_dynamodb_grants(granted_to: dict, kit: dict[str, set[str]]) -> None:
    """Each function and the worker are granted every DynamoDB action their code
    makes, directly or through the service-kit functions it calls."""
    kit_source = rust_sources(ROOT / "crates/service-kit/src")
    for code, policies in granted_to.items():
        source = rust_sources(ROOT / code / "src")
        foreign = foreign_types(source, kit_source)
        needed = sdk_actions(source).union(
            *(made for name, made in kit.items() if called(name, source, foreign)))
        granted = {action for statement in statements(policies) for action in actions(statement)}
        if missing := needed - granted:
            raise SystemExit(f"template.yaml lacks {sorted(missing)} for {code}, which calls them")


def actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def check_public_url() -> None:
    """The gateway's public URL (`AuthType: NONE`) is invocable by anyone through the
    URL only: SAM's transform adds both permissions, `lambda:InvokeFunction` limited to
    calls through a function URL. Checked on the transformed template, since an older
    SAM adds only the first (and every request would then answer 403)."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((ROOT / "template.yaml").read_text())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"  # as `sam package` makes it

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    resources = transform(template, {}, NoManagedPolicies())["Resources"]
    granted = {(p["Properties"]["Action"], p["Properties"].get("FunctionUrlAuthType"),
                p["Properties"].get("InvokedViaFunctionUrl"))
               for p in resources.values()
               if p["Type"] == "AWS::Lambda::Permission"
               and p["Properties"]["FunctionName"] == {"Ref": "GatewayFunction"}
               and p["Properties"]["Principal"] == "*"}
    wanted = {("lambda:InvokeFunctionUrl", "NONE", None), ("lambda:InvokeFunction", None, True)}
    if granted != wanted:
        raise SystemExit(f"template.yaml: the gateway's public URL grants {sorted(map(str, granted))}, "
                         f"not {sorted(map(str, wanted))}")


def check_invocations_can_fail(resources: dict, functions: dict) -> None:
    """The invocation check refuses a copy of the template where one caller lost
    `lambda:InvokeFunction`: a check that cannot fail checks nothing."""
    broken = copy.deepcopy(resources)
    broken_functions = {rid: broken[rid] for rid in functions}
    drop_action(broken_functions["GatewayFunction"]["Properties"]["Policies"], "lambda:InvokeFunction")
    must_refuse("the invocation check", "a gateway without lambda:InvokeFunction",
                check_invocations, broken, broken_functions)


def drop_action(policies: list, action: str) -> None:
    """Removes `action` from every statement of `policies` (a copy's)."""
    for statement in statements(policies):
        statement["Action"] = sorted(actions(statement) - {action})


def must_refuse(check_name: str, broken: str, check, *args) -> None:
    """A check that cannot fail checks nothing: `check(*args)` must refuse `broken`."""
    try:
        check(*args)
    except SystemExit:
        return
    raise SystemExit(f"{check_name} passed {broken}")


def runtimes(resources: dict, functions: dict) -> dict:
    """Every function, and the worker's task: (its policies, its environment)."""
    worker = resources["WorkerTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    found = {
        logical_id: (function["Properties"]["Policies"],
                     function["Properties"].get("Environment", {}).get("Variables", {}))
        for logical_id, function in functions.items()
    }
    found["worker"] = (
        [p["PolicyDocument"] for p in resources["WorkerTaskRole"]["Properties"]["Policies"]],
        {e["Name"]: e.get("Value") for e in worker["Environment"]},
    )
    return found


# Since October 2025 a new function URL needs both actions from a caller of the same
# account ("Control access to Lambda function URLs", AWS Lambda Developer Guide,
# https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html): one alone is a 403.
INVOKE_URL = {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}


def check_invocations(resources: dict, functions: dict) -> None:
    """Each caller may invoke exactly the services whose URLs its code reads and its
    environment gives, with both actions a function URL needs; every other function
    may invoke none."""
    for caller, (policies, environment) in runtimes(resources, functions).items():
        source = SERVICE_CALLERS.get(caller)
        read = urls_read_in(source) if source else set()
        needed = {SERVICE_FUNCTIONS[url] for url in read}
        given = {SERVICE_FUNCTIONS[name] for name in environment if name in SERVICE_FUNCTIONS}
        invoking = [statement for statement in statements(policies)
                    if INVOKE_URL & actions(statement)]
        half = [statement["Action"] for statement in invoking
                if not INVOKE_URL <= actions(statement)]
        if half:
            raise SystemExit(f"template.yaml: {caller} is granted {half}: a function URL "
                             f"needs both {sorted(INVOKE_URL)}")
        granted = {resource["GetAtt"].split(".")[0]
                   for statement in invoking
                   for resource in (statement["Resource"] if isinstance(statement["Resource"], list)
                                    else [statement["Resource"]])}
        if granted != needed or given != needed:
            raise SystemExit(f"template.yaml: {caller} calls {sorted(needed)}, but may invoke "
                             f"{sorted(granted)} and is given the URLs of {sorted(given)}")


# Secrets the code fetches at run time: its `<NAME>_ARN` variable, read by
# `Secret::from_env`-style code or named explicitly.
RUNTIME_SECRETS = {"GatewayFunction": ["JWT_SECRET", "PAYLOAD_KEYS", "TEMPORAL_SECRET",
                                       "CLOUDFRONT_ORIGIN_SECRET"],
                   "worker": ["PAYLOAD_KEYS"]}


def nginx_headers() -> dict:
    """The UI's security headers as nginx serves them (which a unit test of the UI
    holds to frontend/security-headers.ts)."""
    conf = (ROOT / "infra" / "docker" / "nginx.conf").read_text()
    return dict(re.findall(r'^\s*add_header\s+(\S+)\s+"([^"]*)"\s+always;$', conf, re.M))


def check_ui(resources: dict) -> None:
    """The UI on AWS: a private bucket that only its distribution reads; the UI's
    security headers on every answer of the UI's behaviour, the same as nginx's (the
    CSP's connect-src adds the WebSocket API, on another origin on AWS); the API under
    /v1/* on the gateway's URL, with the origin secret the gateway requires before it
    believes CloudFront's viewer address."""
    def fail(why: str):
        raise SystemExit(f"template.yaml: the UI {why}")

    block = resources["UiBucket"]["Properties"].get("PublicAccessBlockConfiguration", {})
    if not all(block.get(flag) is True for flag in
               ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")):
        fail("bucket does not block public access")
    readers = [(statement["Principal"], statement.get("Condition"))
               for statement in resources["UiBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]]
    if readers != [({"Service": "cloudfront.amazonaws.com"},
                    {"StringEquals": {"AWS:SourceArn": {"Sub": "arn:${AWS::Partition}:cloudfront::"
                                                              "${AWS::AccountId}:distribution/${UiDistribution}"}}})]:
        fail(f"bucket may be read by {readers}, not by its distribution alone")
    config = resources["UiDistribution"]["Properties"]["DistributionConfig"]
    origins = {origin["Id"]: origin for origin in config["Origins"]}
    default = config["DefaultCacheBehavior"]
    if "OriginAccessControlId" not in origins[default["TargetOriginId"]]:
        fail("bucket is read without an origin access control")
    if default.get("ResponseHeadersPolicyId") != {"Ref": "UiHeadersPolicy"}:
        fail("is served without its security headers")
    policy = resources["UiHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
    security = policy["SecurityHeadersConfig"]
    served = {header["Header"]: header["Value"] for header in policy["CustomHeadersConfig"]["Items"]}
    csp = security["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Sub"]
    served["Content-Security-Policy"] = csp.replace(
        " wss://${EventsApi}.execute-api.${AWS::Region}.amazonaws.com", "")
    served["X-Content-Type-Options"] = "nosniff" if "ContentTypeOptions" in security else None
    served["Referrer-Policy"] = security["ReferrerPolicy"]["ReferrerPolicy"]
    served["X-Frame-Options"] = security["FrameOptions"]["FrameOption"]
    if served != nginx_headers():
        fail(f"headers {served} differ from nginx's {nginx_headers()}")
    if security.get("StrictTransportSecurity", {}).get("AccessControlMaxAgeSec", 0) < 31536000:
        fail("is served without HSTS of a year or more")
    if not all(header.get("Override") for header in
               [*security.values(), *policy["CustomHeadersConfig"]["Items"]]):
        fail("headers do not override the origin's")
    api = [behavior for behavior in config.get("CacheBehaviors", []) if behavior["PathPattern"] == "/v1/*"]
    if len(api) != 1:
        fail("distribution does not serve the API under /v1/*")
    api_origin = origins[api[0]["TargetOriginId"]]
    if "GatewayFunctionUrl.FunctionUrl" not in json.dumps(api_origin["DomainName"]):
        fail("API origin is not the gateway's function URL")
    sent = {header["HeaderName"]: header["HeaderValue"] for header in api_origin.get("OriginCustomHeaders", [])}
    if "${OriginVerifySecret}" not in json.dumps(sent.get("X-Origin-Verify")):
        fail("API origin does not send the origin secret")
    gateway = resources["GatewayFunction"]["Properties"]["Environment"]["Variables"]
    if (gateway.get("TRUSTED_PROXIES"), gateway.get("CLOUDFRONT_ORIGIN_SECRET_ARN")) != (
            "cloudfront", {"Ref": "OriginVerifySecret"}):
        fail("distribution's origin secret is not the one the gateway checks")


UI_BREAKS = {
    "a UI without its headers policy": lambda r: r["UiDistribution"]["Properties"]
    ["DistributionConfig"]["DefaultCacheBehavior"].pop("ResponseHeadersPolicyId"),
    "a CSP with inline scripts": lambda r: r["UiHeadersPolicy"]["Properties"]
    ["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"]
    ["ContentSecurityPolicy"].update(Sub=r["UiHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]
                                     ["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
                                     ["Sub"].replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")),
    "a public UI bucket": lambda r: r["UiBucket"]["Properties"]
    ["PublicAccessBlockConfiguration"].update(RestrictPublicBuckets=False),
    "an API origin without the origin secret": lambda r: r["UiDistribution"]["Properties"]
    ["DistributionConfig"]["Origins"][1].pop("OriginCustomHeaders"),
}


def check_entry_points(resources: dict, functions: dict) -> None:
    """Every function has reserved concurrency (a flood of the public entry cannot take
    the private services' share), the WebSocket stage is throttled, and the gateway's
    URL has no CORS configuration of its own: the gateway's CORS layer is the one place
    (its per-path rule and credentials cannot be said in a URL's configuration)."""
    for logical_id, function in functions.items():
        if "ReservedConcurrentExecutions" not in function["Properties"]:
            raise SystemExit(f"template.yaml: {logical_id} has no reserved concurrency")
    stages = [r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage"]
    for stage in stages:
        settings = stage["Properties"].get("DefaultRouteSettings", {})
        if not {"ThrottlingRateLimit", "ThrottlingBurstLimit"} <= settings.keys():
            raise SystemExit(f"template.yaml: the WebSocket stage {stage['Properties']['StageName']} "
                             f"is not throttled")
    for logical_id, function in functions.items():
        if "Cors" in function["Properties"].get("FunctionUrlConfig", {}):
            raise SystemExit(f"template.yaml: {logical_id}'s URL answers CORS itself, over the "
                             f"gateway's own rules")


ENTRY_POINT_BREAKS = {
    "a gateway without reserved concurrency": lambda r: r["GatewayFunction"]["Properties"]
    .pop("ReservedConcurrentExecutions"),
    "an unthrottled WebSocket stage": lambda r: r["EventsStage"]["Properties"]
    .pop("DefaultRouteSettings"),
    "a gateway URL with its own CORS": lambda r: r["GatewayFunction"]["Properties"]
    ["FunctionUrlConfig"].update(Cors={"AllowOrigins": ["*"]}),
}


def check_secrets_can_fail(resources: dict, functions: dict) -> None:
    """The secret check refuses the gateway as it was deployed before: its Temporal API
    key resolved at deploy time into its environment."""
    broken = copy.deepcopy(resources)
    variables = broken["GatewayFunction"]["Properties"]["Environment"]["Variables"]
    variables["TEMPORAL_API_KEY"] = {"Fn::Sub": "{{resolve:secretsmanager:${TemporalSecretArn}}}"}
    must_refuse("the secret check", "a Temporal API key resolved into the gateway's environment",
                check_secrets, broken, {rid: broken[rid] for rid in functions})


def check_secrets(resources: dict, functions: dict) -> None:
    worker_secrets = json.dumps(resources["WorkerTaskDefinition"]["Properties"]
                                ["ContainerDefinitions"][0].get("Secrets", []))
    found = runtimes(resources, functions)
    for holder, (_, environment) in found.items():
        resolved = [name for name, value in environment.items()
                    if "resolve:secretsmanager" in json.dumps(value)]
        if resolved:
            raise SystemExit(f"template.yaml: {holder} has {resolved} resolved from Secrets "
                             f"Manager into its environment, readable by anyone who may read "
                             f"its configuration; give the ARN and let it fetch the secret")
    for holder, names in RUNTIME_SECRETS.items():
        policies, environment = found[holder]
        for name in names:
            if name in environment or (holder == "worker" and f'"{name}"' in worker_secrets):
                raise SystemExit(f"template.yaml: {holder} gets {name} as a plaintext "
                                 f"variable; give {name}_ARN and let it fetch the secret")
            arn = environment.get(f"{name}_ARN")
            if arn is None:
                raise SystemExit(f"template.yaml: {holder} lacks {name}_ARN")
            readable = [statement for statement in statements(policies)
                        if "secretsmanager:GetSecretValue" in statement["Action"]
                        and statement["Resource"] == arn]
            if not readable:
                raise SystemExit(f"template.yaml: {holder} may not read {name}_ARN's secret")


def check_compose(binaries: set[str]) -> None:
    import jsonschema

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    schema = json.loads((ROOT / "infra" / "schemas" / "compose-spec.json").read_text())
    # The schema names draft-07 without the trailing "#" jsonschema looks it up by.
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(compose))
    if errors:
        raise SystemExit("docker-compose.yml is not valid Compose:\n" +
                         "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors))

    table_names = {f"local-{owner}" for owner in TABLES}
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            dockerfile = ROOT / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                raise SystemExit(f"compose service {name}: no {dockerfile}")
            binary = build.get("args", {}).get("BIN")
            if binary is not None and binary not in binaries:
                raise SystemExit(f"compose service {name} builds {binary}, not a workspace binary")
        environment = service.get("environment", {})
        for key in ("TABLE_NAME", "RATE_LIMIT_TABLE", "BREAKERS_TABLE"):
            if key in environment and environment[key] not in table_names:
                raise SystemExit(f"compose service {name}: {key}={environment[key]} is no table")
        for other in service.get("depends_on", {}):
            if other not in compose["services"]:
                raise SystemExit(f"compose service {name} depends on unknown {other}")
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and not (ROOT / source).exists():
                raise SystemExit(f"compose service {name} mounts missing {source}")
    check_local_ports(compose)
    check_scrape_targets(compose)
    check_trace_exports(compose)
    check_declared_compose(compose, SERVICES)
    undeclared = copy.deepcopy(SERVICES)
    undeclared["shipping"] = {**undeclared["payment"], "url": "SHIPPING_URL"}
    must_refuse("the declared services check", "a declared service compose does not run",
                check_declared_compose, compose, undeclared)
    exposed = copy.deepcopy(compose)
    exposed["services"]["gateway"]["ports"] = ["3000:8080"]
    must_refuse("the port check", "a gateway published on every interface",
                check_local_ports, exposed)
    unscraped = copy.deepcopy(compose)
    unscraped["services"]["payment2"] = unscraped["services"]["payment"]
    must_refuse("the scrape check", "a service Prometheus does not scrape",
                check_scrape_targets, unscraped)
    untraced = copy.deepcopy(compose)
    del untraced["services"]["payment"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    must_refuse("the trace check", "a service that exports no traces",
                check_trace_exports, untraced)
    ignored = (ROOT / ".dockerignore").read_text().split()
    for heavy in ("target", ".local", "frontend/node_modules"):
        if heavy not in ignored:
            raise SystemExit(f".dockerignore must exclude {heavy} from the build context")
    print(f"docker-compose.yml: valid Compose; {len(compose['services'])} services, whose "
          f"builds are workspace binaries, whose tables are real, which listen on 127.0.0.1 "
          f"only, are all scraped by Prometheus when they serve metrics, all send their "
          f"traces to Jaeger, and run the services infra/services.json declares")


def check_scrape_targets(compose: dict) -> None:
    """Prometheus (infra/prometheus) scrapes every process of this repository that
    serves metrics, the worker and each function, at an address compose gives it."""
    config = yaml.safe_load((ROOT / "infra" / "prometheus" / "prometheus.yml").read_text())
    targets = {target for job in config["scrape_configs"]
               for group in job["static_configs"] for target in group["targets"]}
    for target in targets:
        host = target.split(":")[0]
        if host not in compose["services"]:
            raise SystemExit(f"infra/prometheus/prometheus.yml scrapes {target}: no such service")
    for name, service in compose["services"].items():
        binary = (service.get("build") or {}).get("args", {}).get("BIN")
        if binary is None:
            continue  # not built from this repository: the UI's nginx, images
        port = "9464" if binary == "worker" else "8080"
        if f"{name}:{port}" not in targets:
            raise SystemExit(f"infra/prometheus/prometheus.yml does not scrape {name}:{port}")


def check_trace_exports(compose: dict) -> None:
    """Every process of this repository sends its spans to the Jaeger service: a trace
    with a hop missing would end at that hop."""
    for name, service in compose["services"].items():
        if (service.get("build") or {}).get("args", {}).get("BIN") is None:
            continue
        endpoint = service.get("environment", {}).get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        host = endpoint.removeprefix("http://").split(":")[0]
        image = compose["services"].get(host, {}).get("image", "")
        if not (image.startswith("jaegertracing/") and endpoint.endswith(":4318")):
            raise SystemExit(f"compose service {name} does not export its traces to Jaeger's "
                             f"OTLP/HTTP port (OTEL_EXPORTER_OTLP_ENDPOINT={endpoint!r})")


def check_local_ports(compose: dict) -> None:
    """Every port is published on 127.0.0.1 only: the compose stack signs tokens with
    the public development secret and runs Temporal and LocalStack without auth."""
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host_ip = (port.get("host_ip") if isinstance(port, dict)
                       else str(port).split(":")[0] if str(port).count(":") == 2 else None)
            if host_ip != "127.0.0.1":
                raise SystemExit(f"compose service {name} publishes {port} beyond 127.0.0.1")


def aws_cli(endpoint: str) -> list:
    region = os.environ.get("AWS_REGION", "us-east-1")  # AWS CLI v1 does not read AWS_REGION
    return [VENV_BIN / "aws", "--endpoint-url", endpoint, "--region", region, "--output", "json"]


def check_localstack_hook(endpoint: str, binaries_dir: Path) -> None:
    prefix = f"hook-{uuid.uuid4().hex[:8]}-"
    hook = ROOT / "localstack" / "init" / "ready.d" / "10-tables-and-seed.sh"
    env = dict(os.environ, TABLE_PREFIX=prefix,
               AWS_CLI=" ".join(map(str, aws_cli(endpoint))),
               PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    first = run(["bash", hook], env=env)
    again = run(["bash", hook], env=env)  # LocalStack may run it on every start
    if first.count("created") != len(TABLES) or again.count("exists") != len(TABLES):
        raise SystemExit(f"the hook did not create each table once:\n{first}\n{again}")

    for owner, definition in TABLES.items():
        table = json.loads(run([*aws_cli(endpoint), "dynamodb", "describe-table",
                                "--table-name", prefix + owner]))["Table"]
        if normalised({**table, "TimeToLiveSpecification": None}) != \
                normalised({**definition, "TimeToLiveSpecification": None}):
            raise SystemExit(f"the hook's {prefix}{owner} differs from infra/tables.json")
        ttl = definition.get("TimeToLiveSpecification")
        if ttl:
            described = json.loads(run([*aws_cli(endpoint), "dynamodb", "describe-time-to-live",
                                        "--table-name", prefix + owner]))
            if described["TimeToLiveDescription"].get("AttributeName") != ttl["AttributeName"]:
                raise SystemExit(f"the hook did not enable TTL on {prefix}{owner}")

    with tempfile.TemporaryDirectory(prefix="hook-check-") as logs:
        customer_port, inventory_port = free_port(), free_port()
        base_env = dict(os.environ, AWS_ENDPOINT_URL_DYNAMODB=endpoint, RUST_LOG="warn")
        customer = Background([binaries_dir / "customer"], Path(logs) / "customer.log",
                              dict(base_env, PORT=str(customer_port),
                                   TABLE_NAME=prefix + "customers"))
        inventory = Background([binaries_dir / "inventory"], Path(logs) / "inventory.log",
                               dict(base_env, PORT=str(inventory_port),
                                    TABLE_NAME=prefix + "inventory"))
        with customer, inventory:
            for name, port, process in (("customer", customer_port, customer),
                                        ("inventory", inventory_port, inventory)):
                wait_until(f"{name} on port {port}",
                           lambda: http_ok(f"http://127.0.0.1:{port}/health"), 60, process.alive)
            for user in SEED["users"]:
                status, body = http("POST", f"http://127.0.0.1:{customer_port}/credentials/verify",
                                    {"email": user["email"], "password": user["password"]})
                if status != 200 or body["role"] != user["role"]:
                    raise SystemExit(f"seeded user {user['email']} cannot log in: {status} {body}")
            status, page = http("GET", f"http://127.0.0.1:{inventory_port}/products?limit=100")
            listed = {p["sku"]: (p["name"], p["price"], p["currency"], p["available"])
                      for p in page["items"]} if status == 200 else {}
            wanted = {p["sku"]: (p["name"], p["price"], p["currency"], p["available"])
                      for p in SEED["products"]}
            if listed != wanted:
                raise SystemExit(f"the seeded catalog differs from infra/seed.json:\n{listed}")
    print(f"localstack hook: creates the {len(TABLES)} tables of infra/tables.json once; its "
          f"{len(SEED['users'])} demo users log in and its {len(wanted)} products are listed")


def http_ok(url: str) -> bool:
    try:
        return http("GET", url, timeout=2)[0] == 200
    except OSError:
        return False


def main() -> None:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
    if not endpoint:
        raise SystemExit("set AWS_ENDPOINT_URL_DYNAMODB to a running DynamoDB Local")
    metadata = cargo_metadata()
    binaries = workspace_binaries(metadata)
    check_template(binaries)
    check_compose(binaries)
    run(["cargo", "build", "--quiet", "--bin", "customer", "--bin", "inventory"])
    check_localstack_hook(endpoint, Path(metadata["target_directory"]) / "debug")


if __name__ == "__main__":
    sys.exit(main())
