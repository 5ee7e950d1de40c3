"""schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

An Idempotency-Key names one request: the server replays the first response for the same
key and refuses the key with another request (422 `idempotency_key_reused`). A generator
repeats short values ("", "0", ...) across unrelated cases, which would make that refusal
look like a schema-valid request being rejected, and would hide how the server treats the
body behind it. So a key this run has already sent is replaced by a fresh one; the first
use of every generated key goes out as generated, and keys over the schema's maxLength
(the negative cases about the header itself) are never touched.
"""

import itertools
import threading

import schemathesis

HEADER = "idempotency-key"
MAX_LENGTH = 255

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
    if not isinstance(key, str) or len(key) > MAX_LENGTH:
        return
    with _lock:
        if key in _sent:
            key = f"fuzz-{next(_fresh)}"
            while key in _sent:
                key = f"fuzz-{next(_fresh)}"
            headers[name] = key
        _sent.add(key)
