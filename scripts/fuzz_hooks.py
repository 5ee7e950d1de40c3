"""schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

1. `positive_data_acceptance_or_stated_rule`, the check fuzz.sh runs instead of
schemathesis' `positive_data_acceptance`: a schema-valid request must be accepted, except
when the server refuses it under a rule the operation states beyond its schema. Each
operation lists those rules as `x-rules: [{"fields": [...], "rule": "..."}]` (generated from
the body's declaration: "ends_at must be after starts_at", "sale_id must name a sale of the
tenant", ...). A refusal is excused only when it is a 4xx with the API's error shape
(`{"error": {"code", "message", "details": {"fields": {...}}}}`) and every field named in
`details.fields` is a field of one of those rules. A refusal naming no field, naming a field
no rule covers, or of another shape still fails, as does any other status the original
check refuses.

2. An Idempotency-Key names one request: the server replays the first response for the same
key and refuses the key with another request (422 `idempotency_key_reused`). A generator
repeats short values ("", "0", ...) across unrelated cases, which would make that refusal
look like a schema-valid request being rejected, and would hide how the server treats the
body behind it. So a key this run has already sent is replaced by a fresh one; the first
use of every generated key goes out as generated, and keys the schema's pattern refuses
(the negative cases about the header itself) are never touched.

3. `ast.parse` is serialized. With two workers, hypothesis describes filter lambdas by
parsing their module's source in two threads at once, and CPython 3.11's parser is not
thread-safe there: it fails now and then with "AST constructor recursion depth mismatch",
which schemathesis reports as a runtime error of whichever operation was being generated.
That is the tool failing, not the API, so the parse takes a lock.
"""

import itertools
import json
import os
import re
import ast
import threading

import schemathesis

_AST_LOCK = threading.Lock()
_ast_parse = ast.parse


def _locked_parse(*args, **kwargs):
    with _AST_LOCK:
        return _ast_parse(*args, **kwargs)


ast.parse = _locked_parse

from schemathesis.core.failures import Failure
from schemathesis.specs.openapi.checks import positive_data_acceptance

HEADER = "idempotency-key"
# The document's Idempotency-Key pattern (domain::ids::IDEMPOTENCY_KEY_PATTERN).
VALID_KEY = re.compile(r"^[!-~]{1,255}$")


def stated_rule_fields(case):
    """The fields the operation's stated rules (`x-rules`) are about."""
    rules = case.operation.definition.raw.get("x-rules") or []
    return {f for r in rules for f in r.get("fields") or []}


def refusal_fields(response):
    """The fields a 4xx error answer names in `details.fields`; None when the answer is not
    a 4xx of the error shape with at least one field."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content)
    except (TypeError, ValueError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str):
        return None
    details = error.get("details")
    fields = details.get("fields") if isinstance(details, dict) else None
    if not isinstance(fields, dict) or not fields:
        return None
    return set(fields)


# Each excused refusal is written here (one JSON line: operation, status, fields), so the
# summary can say how many the stated rules excused and which.
EXCUSED = os.environ.get("FUZZ_EXCUSED")
_excused_lock = threading.Lock()


def record_excused(case, response, named):
    if not EXCUSED:
        return
    line = json.dumps({"operation": case.operation.label, "status": response.status_code, "fields": sorted(named)})
    with _excused_lock, open(EXCUSED, "a", encoding="utf-8") as f:
        f.write(line + "\n")


@schemathesis.check
def positive_data_acceptance_or_stated_rule(ctx, response, case):
    try:
        return positive_data_acceptance(ctx, response, case)
    except Failure:
        named = refusal_fields(response)
        if named is not None and named <= stated_rule_fields(case):
            record_excused(case, response, named)
            return None
        raise

_lock = threading.Lock()
_sent: set[str] = set()
_fresh = itertools.count(1)


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers
    if not headers:
        return
    name = next((k for k in headers if k.lower() == HEADER), None)
    if name is None:
        return
    key = headers[name]
    if not isinstance(key, str) or not VALID_KEY.match(key):
        return
    with _lock:
        if key in _sent:
            key = f"fuzz-{next(_fresh)}"
            while key in _sent:
                key = f"fuzz-{next(_fresh)}"
            headers[name] = key
        _sent.add(key)
