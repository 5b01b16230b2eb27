"""schemathesis hooks for `scripts/conformance.sh`.

A client sends a fresh `Idempotency-Key` with each new request, and the server refuses a key
reused for a different request with 422 (as the IETF Idempotency-Key draft asks). The generator
draws short keys ("0", "00", ...) and would reuse them across different bodies, so every
well-formed key it draws is made unique here; malformed keys are sent as drawn, so their
rejection is still tested. Replays of one key are covered by `tests/idempotency.rs`.
"""

import re
import uuid

import schemathesis

HEADER = "Idempotency-Key"
WELL_FORMED = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, kwargs):
    # Before every request of every phase (generated, coverage and stateful cases alike).
    key = (case.headers or {}).get(HEADER)
    if isinstance(key, str) and WELL_FORMED.match(key):
        case.headers[HEADER] = str(uuid.uuid4())
