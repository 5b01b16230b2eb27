"""Reads QuickFix's Terraform and prints, as one JSON object, what tests/infra.rs checks:

- the messaging topology: names, maxReceiveCount, visibility timeout, dead-letter retention, the
  worker subscription's filter policy and delivery mode (compared with `quickfix provision`'s);
- "tasks": each ECS task definition's container (name, command, ports, plain environment,
  secrets), with the module's locals expanded into the text;
- "api_load_balancer": the container ports the API service registers with a target group;
- "compute_outputs": the compute module's outputs, locals expanded (admin_create_command);
- "kms_statements": the statements of the messaging key's policy (principals, conditions);
- "execution_role_secrets": the secrets the task execution role may read;
- "example": the example environment's module arguments, outputs and secrets.

Expressions are reported as python-hcl2 renders them ("${...}" text), not evaluated.
Every .tf file under the given folder is parsed first, so a file that does not parse fails here.

Usage: python scripts/terraform_topology.py infra/terraform
"""

import json
import pathlib
import re
import sys

import hcl2


def parse_all(root):
    parsed = {}
    for path in sorted(pathlib.Path(root).rglob("*.tf")):
        if ".terraform" in path.parts:
            continue
        with open(path, encoding="utf-8") as handle:
            try:
                parsed[str(path.relative_to(root))] = hcl2.load(handle)
            except Exception as err:  # the parser's errors have no common base
                sys.exit(f"{path}: does not parse: {err}")
    return parsed


def one(value):
    """python-hcl2 wraps attribute values in a one-item list."""
    while isinstance(value, list) and len(value) == 1 and not isinstance(value[0], str):
        value = value[0]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def variables(module):
    out = {}
    for block in module.get("variable", []):
        for name, body in block.items():
            out[name.strip('"')] = one(body.get("default"))
    return out


def resource(module, kind, name):
    for block in module.get("resource", []):
        body = block.get(kind) or block.get(f'"{kind}"')
        if body:
            for key, value in body.items():
                if key.strip('"') == name:
                    return {k: one(v) for k, v in value.items()}
    sys.exit(f"resource {kind}.{name} not found")


def merged(parsed, folder):
    """All blocks of one module folder, as if it were one file."""
    module = {}
    for path, blocks in parsed.items():
        if str(pathlib.PurePath(path).parent) == folder:
            for key, values in blocks.items():
                module.setdefault(key, []).extend(values)
    return module


def named_blocks(module, kind):
    """{name: body} of the module's `kind` blocks (output, module, variable)."""
    out = {}
    for block in module.get(kind, []):
        for name, body in block.items():
            out[name.strip('"')] = {k: one(v) for k, v in body.items()}
    return out


def resources(module, kind, section="resource"):
    """{name: body} of every resource (or data source) of one type."""
    out = {}
    for block in module.get(section, []):
        body = block.get(kind) or block.get(f'"{kind}"')
        for name, value in (body or {}).items():
            out[name.strip('"')] = value
    return out


def locals_of(module):
    out = {}
    for block in module.get("locals", []):
        out.update(block)
    return out


LOCAL_REF = re.compile(r"\$\{local\.(\w+)\}|\blocal\.(\w+)")


def expand(text, local_values):
    """Replaces references to the module's locals by their (rendered) definitions."""

    def rendered(match):
        name = match.group(1) or match.group(2)
        if name not in local_values:
            return match.group(0)
        value = local_values[name]
        return value if isinstance(value, str) else json.dumps(value)

    for _ in range(10):
        expanded = LOCAL_REF.sub(rendered, text)
        if expanded == text:
            break
        text = expanded
    return text


def value_after(text, key):
    """The raw text of `"key": <value>` in a rendered jsonencode(...) argument, or None."""
    start = text.find(f'"{key}": ')
    if start < 0:
        return None
    start += len(key) + 4
    quoted = text[start] == '"'
    depth = 0
    for end in range(start, len(text)):
        char = text[end]
        if char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        if depth == 0 and end > start and (char == '"' if quoted else char in "]})"):
            return text[start : end + 1]
    return text[start:]


def container(definitions, local_values):
    """What tests care about in one task definition's (single) container."""
    text = expand(str(definitions), local_values)
    name = re.search(r'\[\{"name": "([^"]*)"', text)
    command = value_after(text, "command")
    return {
        "name": name.group(1) if name else None,
        "command": command,
        "command_words": re.findall(r'[\w@.\-]+', command or ""),
        "ports": [int(p) for p in re.findall(r'"containerPort": (\d+)', text)],
        "environment": {
            n: v
            for n, v in re.findall(r'\{"name": "([^"$]+)", "value": "([^"]*)"\}', text)
        },
        "secrets": {
            n: v
            for n, v in re.findall(r'\{"name": "([^"$]+)", "valueFrom": "([^"]*)"\}', text)
        },
        "text": text,
    }


def load_balancer_ports(service):
    """The (container name, port) pairs a service registers, static or dynamic blocks."""
    blocks = list(service.get("load_balancer", []))
    for dynamic in service.get("dynamic", []):
        for kind, body in dynamic.items():
            if kind.strip('"') == "load_balancer":
                blocks.extend(body.get("content", []))
    return [
        {
            "container_name": one(block.get("container_name")),
            "container_port": one(block.get("container_port")),
        }
        for block in blocks
    ]


def policy_statements(document, local_values):
    out = []
    for statement in document.get("statement", []):
        out.append({
            "sid": one(statement.get("sid")),
            "effect": one(statement.get("effect")) or "Allow",
            "actions": statement.get("actions", []),
            "principals": [
                {
                    "type": one(p.get("type")),
                    "identifiers": [expand(i, local_values) for i in p.get("identifiers", [])],
                }
                for p in statement.get("principals", [])
            ],
            "conditions": [
                {
                    "test": one(c.get("test")),
                    "variable": one(c.get("variable")),
                    "values": expand(json.dumps(c.get("values")), local_values),
                }
                for c in statement.get("condition", [])
            ],
        })
    return out


def compute_report(parsed):
    compute = merged(parsed, "modules/compute")
    local_values = locals_of(compute)
    tasks = {
        name: {
            "task_role_arn": one(body.get("task_role_arn")),
            "execution_role_arn": one(body.get("execution_role_arn")),
            "container": container(one(body.get("container_definitions")), local_values),
        }
        for name, body in resources(compute, "aws_ecs_task_definition").items()
    }
    services = resources(compute, "aws_ecs_service")
    outputs = {
        name: expand(str(body.get("value")), local_values)
        for name, body in named_blocks(compute, "output").items()
    }
    return tasks, load_balancer_ports(services["api"]), outputs


def kms_report(parsed):
    messaging = merged(parsed, "modules/messaging")
    key = resources(messaging, "aws_kms_key")["messaging"]
    document = re.fullmatch(r"\$\{data\.aws_iam_policy_document\.(\w+)\.json\}", one(key["policy"]))
    if not document:
        sys.exit(f"aws_kms_key.messaging: policy is not a policy document: {key['policy']}")
    documents = resources(messaging, "aws_iam_policy_document", section="data")
    return policy_statements(documents[document.group(1)], locals_of(messaging))


def execution_role_secrets(parsed):
    """The secrets the task execution role may read (modules/iam)."""
    iam = merged(parsed, "modules/iam")
    document = resources(iam, "aws_iam_policy_document", section="data")["execution"]
    return [
        resource
        for statement in document.get("statement", [])
        if "secretsmanager:GetSecretValue" in statement.get("actions", [])
        for resource in statement.get("resources", [])
    ]


def example_report(parsed):
    example = merged(parsed, "environments/example")
    return {
        "locals": locals_of(example),
        "modules": named_blocks(example, "module"),
        "outputs": {n: b.get("value") for n, b in named_blocks(example, "output").items()},
        "variables": sorted(named_blocks(example, "variable")),
        "secrets": sorted(resources(example, "aws_secretsmanager_secret")),
    }


def main():
    root = pathlib.Path(sys.argv[1])
    parsed = parse_all(root)
    messaging = {}
    for name in ("variables.tf", "main.tf"):
        for key, values in parsed[f"modules/messaging/{name}"].items():
            messaging.setdefault(key, []).extend(values)
    defaults = variables(messaging)
    subscription = resource(messaging, "aws_sns_topic_subscription", "worker")
    worker = resource(messaging, "aws_sqs_queue", "worker")
    tasks, api_load_balancer, compute_outputs = compute_report(parsed)
    print(json.dumps({
        "files": len(parsed),
        "topic_name": defaults["topic_name"],
        "queue_name": defaults["queue_name"],
        "dead_letter_queue_name": defaults["dead_letter_queue_name"],
        "max_receive_count": defaults["max_receive_count"],
        "visibility_timeout_seconds": defaults["visibility_timeout_seconds"],
        "dead_letter_retention_seconds": defaults["dead_letter_retention_seconds"],
        "worker_event_types": defaults["worker_event_types"],
        "raw_message_delivery": subscription.get("raw_message_delivery"),
        "filter_policy": subscription.get("filter_policy"),
        "queue_visibility": worker.get("visibility_timeout_seconds"),
        "queue_redrive": worker.get("redrive_policy"),
        "tasks": tasks,
        "api_load_balancer": api_load_balancer,
        "compute_outputs": compute_outputs,
        "kms_statements": kms_report(parsed),
        "execution_role_secrets": execution_role_secrets(parsed),
        "example": example_report(parsed),
    }))


if __name__ == "__main__":
    main()
