"""Reads QuickFix's Terraform and prints, as one JSON object, the messaging topology it declares:
names, maxReceiveCount, visibility timeout, dead-letter retention, the worker subscription's
filter policy and delivery mode. tests/infra.rs compares it with `quickfix provision`'s.

Every .tf file under the given folder is parsed first, so a file that does not parse fails here.

Usage: python scripts/terraform_topology.py infra/terraform
"""

import json
import pathlib
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
    }))


if __name__ == "__main__":
    main()
