"""Summarises a schemathesis NDJSON report for scripts/fuzz.sh.

    python3 scripts/fuzz_summary.py REPORT_DIR SECONDS [MARKDOWN_OUT]

Prints the number of generated cases and every failed check grouped by check and
operation, each group with its count and its smallest request (method, path, headers the
fuzzer chose, body) and the response status and body. With MARKDOWN_OUT it also writes
the same list as Markdown. Exits 1 when any check failed, 2 when the report is missing.
"""

import base64
import glob
import json
import os
import re
import sys
from collections import defaultdict
from urllib.parse import unquote

CHECKS = {
    "not_a_server_error": "server error (5xx)",
    "status_code_conformance": "undocumented status code",
    "positive_data_acceptance": "schema-valid request rejected",
    "positive_data_acceptance_or_stated_rule": "schema-valid request rejected (no stated rule covers it)",
    "negative_data_rejection": "schema-violating request accepted",
}


def text(content):
    if not content:
        return ""
    if "$base64" in content:
        raw = base64.b64decode(content["$base64"])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return repr(raw)
    return str(content.get("string", content))


def printable(s):
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def short(s, n=300):
    s = printable(s)
    return s if len(s) <= n else s[: n - 3] + "..."


def load(report_dir):
    files = sorted(glob.glob(os.path.join(report_dir, "*.ndjson")))
    if not files:
        return None
    cases = 0
    ran = defaultdict(int)  # check -> evaluations
    groups = defaultdict(list)  # (check, operation) -> [(size, request, response)]
    # Every run of this report folder (fuzz.sh runs the operator's route on its own).
    lines = (line for f in files for line in open(f, encoding="utf-8"))
    for line in lines:
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished.get("recorder") or {}
        cases += len(recorder.get("cases") or {})
        for case_id, checks in (recorder.get("checks") or {}).items():
            for check in checks:
                ran[check.get("name")] += 1
                if check.get("status") != "failure":
                    continue
                case = (recorder["cases"].get(case_id) or {}).get("value", {})
                # The operation (path template), also for the steps of stateful scenarios.
                label = f"{case.get('method', '?')} {case.get('path', recorder.get('label', '?'))}"
                inter = (recorder.get("interactions") or {}).get(case_id) or {}
                req, resp = inter.get("request") or {}, inter.get("response") or {}
                headers = {
                    k: v for k, v in (case.get("headers") or {}).items() if k.lower() != "authorization"
                }
                body = case.get("body")
                request = {
                    "method": req.get("method", case.get("method", "?")),
                    "uri": unquote(req.get("uri", case.get("path", "?")).split("//", 1)[-1].split("/", 1)[-1]),
                    "headers": headers,
                    # The bytes sent (a JSON null body is not in the case at all).
                    "body": text(req.get("body")) or (json.dumps(body, ensure_ascii=False) if "body" in case else ""),
                    "mode": ((case.get("meta") or {}).get("generation") or {}).get("mode", "?"),
                    "scenario": (((case.get("meta") or {}).get("phase") or {}).get("data") or {}).get("description", ""),
                }
                response = {"status": resp.get("status_code", "no response"), "body": text(resp.get("content"))}
                size = len(request["uri"]) + len(request["body"]) + len(json.dumps(headers))
                groups[(check["name"], label)].append((size, request, response))
    return cases, groups, ran


def excused(path):
    """Refusals the stated rules excused (scripts/fuzz_hooks.py): (operation, fields) -> count."""
    counts = defaultdict(int)
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            e = json.loads(line)
            counts[(e["operation"], f"{e['status']} " + ", ".join(e["fields"]))] += 1
    return counts


def causes(request, response):
    """What the answer blames: each field of a validation error, else the error's code and
    message; for an accepted request, what the generator broke (or "accepted")."""
    try:
        error = json.loads(response["body"]).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    fields = (error.get("details") or {}).get("fields") if isinstance(error.get("details"), dict) else None
    if isinstance(fields, dict) and fields:
        # Generated unknown property names would each be a cause of their own.
        return sorted({"(unknown property): is not a known field" if v == "is not a known field" else f"{k}: {v}"
                       for k, v in fields.items()})
    if error.get("code"):
        # Quoted echoes of generated input would each be a cause of their own.
        return [re.sub(r"'[^']*'", "'...'", f"{error['code']}: {error.get('message', '')}")]
    return [request["scenario"] or f"answered {response['status']}"]


def line_of(req):
    hdrs = " ".join(f"{k}: {v!r}" for k, v in req["headers"].items())
    return f"{req['method']} /{req['uri']}" + (f" [{hdrs}]" if hdrs else "") + (f" {req['body']}" if req["body"] else "")


def main():
    report_dir, seconds = sys.argv[1], sys.argv[2]
    out = sys.argv[3] if len(sys.argv) > 3 else None
    loaded = load(report_dir)
    if loaded is None:
        print(f"[fuzz] no schemathesis report in {report_dir}", file=sys.stderr)
        return 2
    cases, groups, ran = loaded
    failed = sum(len(v) for v in groups.values())
    ops = len({op for _, op in groups})
    print(f"[fuzz] {cases} generated cases in {seconds} s: {failed} failed checks over {ops} operations")
    md = [f"{cases} generated cases in {seconds} s; {failed} failed checks over {ops} operations.", ""]
    # A check that never ran (a misspelt or unregistered name) must not pass as "0 failed".
    wanted = [c for c in os.environ.get("FUZZ_CHECKS", "").split(",") if c]
    print("[fuzz] checks evaluated: " + ", ".join(f"{c} {ran.get(c, 0)}" for c in wanted or sorted(ran)))
    missing = [c for c in wanted if not ran.get(c)]
    if missing:
        print(f"[fuzz] ERROR: these checks never ran: {', '.join(missing)}")
        failed += 1
    rules = excused(os.path.join(os.path.dirname(os.path.normpath(report_dir)), "excused.ndjson"))
    if rules:
        total = sum(rules.values())
        print(f"[fuzz] {total} schema-valid requests refused under a rule the operation states (x-rules):")
        md += [f"{total} schema-valid requests refused under a stated rule (x-rules):", ""]
        for (op, fields), n in sorted(rules.items()):
            print(f"    {op}: {fields}  x{n}")
            md.append(f"- {op}: {fields} x{n}")
        md.append("")
    cell = lambda s: short(s, 400).replace("|", "\\|")
    for check in list(CHECKS) + sorted({c for c, _ in groups} - set(CHECKS)):
        keys = sorted(k for k in groups if k[0] == check)
        if not keys:
            continue
        n = sum(len(groups[k]) for k in keys)
        title = f"{check} ({CHECKS.get(check, check)}): {n} cases over {len(keys)} operations"
        print(f"\n  {title}")
        md += [f"## {title}", "", "| operation | cause | cases | smallest request | response |", "|---|---|---|---|---|"]
        for key in keys:
            # cause -> [count, smallest (size, request, response)]
            by_cause = {}
            for item in groups[key]:
                for c in causes(item[1], item[2]):
                    entry = by_cause.setdefault(c, [0, item])
                    entry[0] += 1
                    if item[0] < entry[1][0]:
                        entry[1] = item
            print(f"    {key[1]}  x{len(groups[key])}")
            for c, (count, (_, req, resp)) in sorted(by_cause.items(), key=lambda kv: -kv[1][0]):
                why = f"{req['mode']}: {req['scenario']}" if req["scenario"] else req["mode"]
                print(f"      - {short(c, 160)}  x{count}")
                print(f"        > {short(line_of(req))}  ({why})")
                print(f"        < {resp['status']} {short(resp['body'], 200)}")
                md.append(
                    f"| {key[1]} | {cell(c)} | {count} | `{cell(line_of(req))}` ({cell(why)}) "
                    f"| {resp['status']} `{cell(resp['body'])}` |"
                )
        md.append("")
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write("\n".join(md) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
