#!/usr/bin/env python3
"""Writes docs/openapi.json (OpenAPI 3.1). Edit here, run it, commit both files;
`cargo test` fails when the spec and the route table (src/web/routes.rs) disagree."""
import json, os

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def resp(desc, schema=None, headers=None):
    r = {"description": desc}
    if schema is not None:
        r["content"] = {"application/json": {"schema": schema}}
    if headers:
        r["headers"] = headers
    return r
def err(*codes): return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}
def body(schema): return {"required": True, "content": {"application/json": {"schema": schema}}}
P = lambda n: {"$ref": f"#/components/parameters/{n}"}
def op(summary, tag, responses, *, params=None, request=None, security="bearer", desc=None, op_id=None):
    o = {"summary": summary, "tags": [tag], "operationId": op_id, "responses": responses}
    if desc: o["description"] = desc
    if params: o["parameters"] = params
    if request: o["requestBody"] = request
    if security == "public": o["security"] = []
    elif security == "realtime": o["security"] = [{"bearerAuth": []}, {"queryToken": []}]
    return o

ws_responses = {"101": {"description": "Switching Protocols: the WebSocket (protocol in docs/realtime.md)"}, **err(401, 404, 426)}
etag_h = {"ETag": {"description": "the record's version, quoted; send it back in If-Match", "schema": {"type": "string", "examples": ["\"3\""]}}}
version_p = {"type": "integer", "minimum": 1, "description": "the version you read: the update applies only to that version (409 `conflict` otherwise); leave it (and If-Match) out to apply to the current one"}
version_f = {"type": "integer", "minimum": 1, "description": "bumped by every update (optimistic concurrency: If-Match / ETag)"}
list_of = lambda item: {"type": "object", "required": ["data", "next_cursor"], "properties": {
    "data": {"type": "array", "items": item}, "next_cursor": {"type": ["string", "null"]}}}

paths = {
  "/health": {"get": op("Liveness and a D1 round trip", "system", {"200": resp("Healthy", ref("Health")), "503": resp("D1 unreachable", ref("Health"))}, security="public", op_id="health")},
  "/api/openapi.json": {"get": op("This document", "system", {"200": resp("OpenAPI 3.1", {"type": "object"})}, security="public", op_id="openapi")},
  "/api/docs": {"get": op("Browsable API docs (HTML)", "system", {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}}, security="public", op_id="docs")},
  "/api/crm/customers": {
    "get": op("List customers (newest first)", "crm", {"200": resp("A page", list_of(ref("Customer"))), **err(400, 401)}, params=[P("limit"), P("cursor")], op_id="listCustomers"),
    "post": op("Create a customer (broker, admin)", "crm", {"201": resp("Created", ref("Customer"), {"Location": {"schema": {"type": "string"}}, "Pulse-Job-Id": {"description": "the welcome-email job, when an email was given", "schema": {"type": "string"}}}), **err(400, 401, 403, 409, 413, 415, 422)},
               params=[P("idempotencyKey")], request=body(ref("CustomerInput")), op_id="createCustomer",
               desc="Emits `crm:customer:created`. With an email, a welcome-email job starts."),
  },
  "/api/crm/customers/{id}": {
    "get": op("Get a customer", "crm", {"200": resp("The customer", ref("Customer"), etag_h), **err(401, 404)}, params=[P("id")], op_id="getCustomer"),
    "put": op("Update a customer (partial; broker, admin)", "crm", {"200": resp("Updated", ref("Customer"), etag_h), **err(400, 401, 403, 404, 409, 413, 415, 422)}, params=[P("id"), P("ifMatch")], request=body(ref("CustomerPatch")), op_id="updateCustomer",
              desc="Emits `crm:customer:updated`. With `version` (or If-Match): 409 `conflict` unless it is the current version. Without: applied to the current version; concurrent updates of other fields are never lost."),
    "delete": op("Delete a customer (admin)", "crm", {"204": {"description": "Deleted"}, **err(401, 403, 404)}, params=[P("id")], op_id="deleteCustomer", desc="Emits `crm:customer:deleted`."),
  },
  "/api/crm/interactions": {
    "get": op("List interactions (newest first)", "crm", {"200": resp("A page", list_of(ref("Interaction"))), **err(400, 401)}, params=[P("limit"), P("cursor"), {"name": "customer_id", "in": "query", "schema": {"type": "string"}}], op_id="listInteractions"),
    "post": op("Log an interaction (broker, admin)", "crm", {"201": resp("Logged", ref("Interaction")), **err(400, 401, 403, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("InteractionInput")), op_id="createInteraction", desc="Emits `crm:interaction:created`. An unknown customer is a 422."),
  },
  "/api/crm/followups": {
    "get": op("List follow-ups", "crm", {"200": resp("A page", list_of(ref("Followup"))), **err(400, 401)}, params=[P("limit"), P("cursor")] + [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ["assigned_to", "status", "customer_id", "due_before"]], op_id="listFollowups"),
    "post": op("Create a follow-up (broker, admin)", "crm", {"201": resp("Created", ref("Followup")), **err(400, 401, 403, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("FollowupInput")), op_id="createFollowup",
               desc="Emits `crm:followup:created`; when due, the cron emits `crm:followup:due` to the assignee once."),
  },
  "/api/crm/followups/{id}": {
    "get": op("Get a follow-up", "crm", {"200": resp("The follow-up", ref("Followup"), etag_h), **err(401, 404)}, params=[P("id")], op_id="getFollowup"),
    "put": op("Complete, cancel, reopen or reschedule (broker, admin)", "crm", {"200": resp("Updated", ref("Followup"), etag_h), **err(400, 401, 403, 404, 409, 415, 422)}, params=[P("id"), P("ifMatch")], request=body(ref("FollowupPatch")), op_id="updateFollowup",
              desc="Emits `crm:followup:completed` (status → done) or `crm:followup:updated`. Versioned like customers (`version` or If-Match, else 409)."),
  },
  "/api/calendar/appointments": {
    "get": op("List appointments", "calendar", {"200": resp("A page", list_of(ref("Appointment"))), **err(400, 401)}, params=[P("limit"), P("cursor")] + [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ["assigned_to", "status", "from", "to"]], op_id="listAppointments"),
    "post": op("Schedule an appointment (broker, admin)", "calendar", {"201": resp("Scheduled", ref("Appointment")), **err(400, 401, 403, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("AppointmentInput")), op_id="createAppointment",
               desc="Emits `calendar:appointment:created`; 30 min before the start the cron emits `calendar:reminder` to the assignee once."),
  },
  "/api/calendar/appointments/{id}/complete": {"put": op("Complete an appointment (broker, admin)", "calendar", {"200": resp("Completed", ref("Appointment")), **err(400, 401, 403, 404, 409, 415, 422)}, params=[P("id")],
        request={"required": False, "content": {"application/json": {"schema": {"type": "object", "properties": {"outcome": {"type": "string", "maxLength": 2000}}}}}}, op_id="completeAppointment", desc="Emits `calendar:appointment:completed`; a second completion is a 409.")},
  "/api/cards": {
    "get": op("List the tenant's cards", "cards", {"200": resp("A page", list_of(ref("Card"))), **err(400, 401)}, params=[P("limit"), P("cursor"), {"name": "owner_id", "in": "query", "schema": {"type": "string"}}], op_id="listCards"),
    "post": op("Create a card (broker, admin)", "cards", {"201": resp("Created", ref("Card")), **err(400, 401, 403, 409, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("CardInput")), op_id="createCard", desc="Slugs are global (409 when taken). Emits `card:created`."),
  },
  "/api/cards/public/{slug}": {"get": op("A card's public page data", "cards", {"200": resp("Public card", ref("PublicCard")), **err(404, 429)}, params=[{"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}], security="public", op_id="publicCard")},
  "/api/cards/{id}/scan": {"post": op("Record a scan (public)", "cards", {"202": resp("Recorded", {"type": "object", "properties": {"counted": {"type": "boolean"}, "scans": {"type": "integer"}}}), **err(404, 415, 422, 429)}, params=[P("id")],
        request={"required": False, "content": {"application/json": {"schema": {"type": "object", "properties": {"source": {"type": "string", "enum": ["qr", "nfc", "link"]}}}}}}, security="public", op_id="scanCard",
        desc="Counted once per visitor (hashed IP) per 10 minutes; a counted scan emits `card:scanned` to the owner.")},
  "/api/auth/login": {"post": op("Log in with email and password", "auth", {"200": resp("Tokens", ref("TokenPair")), **err(400, 401, 415, 422, 429)}, request=body(ref("LoginInput")), security="public", op_id="login",
        desc="Repeated failures per (tenant, email) and per IP are rate limited (429 with Retry-After).")},
  "/api/auth/refresh": {"post": op("Rotate a refresh token", "auth", {"200": resp("New tokens", ref("TokenPair")), **err(400, 401, 415, 422)}, request=body(ref("RefreshInput")), security="public", op_id="refresh",
        desc="A reused (already rotated) refresh token revokes its whole session: 401.")},
  "/api/auth/logout": {"post": op("End a session", "auth", {"204": {"description": "Logged out"}, **err(400, 415, 422)}, request=body(ref("RefreshInput")), security="public", op_id="logout")},
  "/api/users": {
    "get": op("List users (broker, admin)", "users", {"200": resp("A page", list_of(ref("User"))), **err(400, 401, 403)}, params=[P("limit"), P("cursor")], op_id="listUsers"),
    "post": op("Create a user (admin)", "users", {"201": resp("Created", ref("User")), **err(400, 401, 403, 409, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("UserInput")), op_id="createUser", desc="Emits `users:user:created`."),
  },
  "/api/users/{id}": {
    "get": op("Get a user (broker, admin; a viewer only itself)", "users", {"200": resp("The user", ref("User"), etag_h), **err(401, 403, 404)}, params=[P("id")], op_id="getUser"),
    "put": op("Change a user's name, role or password (admin)", "users", {"200": resp("Updated", ref("User"), etag_h), **err(400, 401, 403, 404, 409, 415, 422)}, params=[P("id"), P("ifMatch")], request=body(ref("UserPatch")), op_id="updateUser",
              desc="Emits `users:user:updated`; a password reset ends the user's sessions. Versioned like customers (`version` or If-Match, else 409)."),
    "delete": op("Delete a user (admin; not yourself)", "users", {"204": {"description": "Deleted"}, **err(401, 403, 404, 409)}, params=[P("id")], op_id="deleteUser", desc="Emits `users:user:deleted`."),
  },
  "/api/security/blocked-ips": {
    "get": op("The tenant's IP blocklist (admin)", "security", {"200": resp("Blocked addresses", list_of(ref("BlockedIp"))), **err(401, 403)}, op_id="listBlockedIps"),
    "post": op("Block an address for this tenant (admin)", "security", {"201": resp("Blocked", ref("BlockedIp")), **err(400, 401, 403, 409, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("BlockIpInput")), op_id="blockIp",
               desc="Requests with a token of this tenant from the address then get 403 `ip_blocked` (within BLOCKLIST_CACHE_MS, 10 s)."),
  },
  "/api/security/blocked-ips/{ip}": {"delete": op("Unblock an address (admin)", "security", {"204": {"description": "Unblocked"}, **err(401, 403, 404)}, params=[{"name": "ip", "in": "path", "required": True, "schema": {"type": "string"}}], op_id="unblockIp")},
  "/api/jobs/{id}": {"get": op("A background job's status", "jobs", {"200": resp("The job", ref("Job")), **err(401, 404)}, params=[P("id")], op_id="getJob")},
  "/api/analytics/snapshot": {"get": op("Events by type over the last 24 h", "reports", {"200": resp("Snapshot", {"type": "object", "properties": {"window_hours": {"type": "integer"}, "events": {"type": "integer"}, "events_by_type": {"type": "object"}, "connections": {"type": "integer"}, "head": {"type": "integer"}}}), **err(401)}, op_id="analyticsSnapshot")},
  "/api/stats": {"get": op("Tenant totals (admin)", "reports", {"200": resp("Stats", {"type": "object", "additionalProperties": True}), **err(401, 403)}, op_id="stats")},
  "/api/dashboard": {"get": op("Tenant totals", "reports", {"200": resp("Dashboard", ref("Dashboard")), **err(401)}, op_id="getDashboard")},
  "/api/dev/messages": {"get": op("Messages recorded by the `record` providers (dev only)", "dev", {"200": resp("A page", list_of(ref("SentMessage"))), **err(400, 401, 404)}, params=[P("limit"), P("cursor")], op_id="listDevMessages")},
  "/api/realtime/ws": {"get": op("Open the tenant's WebSocket", "realtime", ws_responses, security="realtime", op_id="realtimeWs")},
  "/api/realtime/stream": {"get": op("Server-Sent Events stream", "realtime", {"200": {"description": "text/event-stream; each `id:` is the event's seq", "content": {"text/event-stream": {"schema": {"type": "string"}}}}, **err(400, 401, 403, 429)},
        params=[P("channels"), P("types"), P("since"), {"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}], security="realtime", op_id="realtimeStream")},
  "/api/realtime/events": {"get": op("History for polling clients", "realtime", {"200": resp("Events after `since`", ref("EventPage")), **err(400, 401, 403)}, params=[P("since"), P("eventLimit"), P("channels"), P("types")], op_id="realtimeEvents")},
  "/api/realtime/stats": {"get": op("Hub statistics (admin)", "realtime", {"200": resp("Stats", {"type": "object"}), **err(401, 403)}, op_id="realtimeStats")},
  "/api/realtime/publish": {"post": op("Publish a system alert (admin)", "realtime", {"202": resp("Accepted into the history", ref("Published")), **err(400, 401, 403, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("PublishInput")), op_id="realtimePublish")},
  "/api/realtime/rooms": {
    "get": op("List rooms", "realtime", {"200": resp("Rooms", list_of(ref("Room"))), **err(401)}, op_id="listRooms"),
    "post": op("Create a room (admin)", "realtime", {"201": resp("Created", ref("Room")), **err(400, 401, 403, 409, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("RoomInput")), op_id="createRoom"),
  },
  "/api/realtime/rooms/{name}/ws": {"get": op("Join a room's WebSocket", "realtime", ws_responses, params=[P("room")], security="realtime", op_id="roomWs")},
  "/api/realtime/rooms/{name}/publish": {"post": op("Publish into a room (broker, admin)", "realtime", {"202": resp("Accepted", ref("Published")), **err(400, 401, 403, 404, 415, 422)}, params=[P("room"), P("idempotencyKey")], request=body(ref("RoomPublishInput")), op_id="roomPublish")},
  "/api/public/rooms/{tenant}/{name}/ws": {"get": op("Anonymous join of a public room", "realtime", {"101": {"description": "Switching Protocols"}, **err(404, 426)}, params=[{"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}}, P("room")], security="public", op_id="publicRoomWs")},
}

nullable = lambda t, **kw: {"type": [t, "null"], **kw}
schemas = {
  "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
      "code": {"type": "string", "examples": ["validation_failed"]}, "message": {"type": "string"},
      "details": {"description": "e.g. `{\"fields\": {\"name\": \"is required\"}}`"}}}}},
  "Health": {"type": "object", "properties": {"status": {"type": "string"}, "service": {"type": "string"}, "d1": {"type": "boolean"}, "time": {"type": "string", "format": "date-time"}}},
  "Customer": {"type": "object", "required": ["id", "name", "status", "created_by", "created_at", "updated_at", "version"], "properties": {
      "id": {"type": "string"}, "name": {"type": "string", "maxLength": 200}, "email": nullable("string", format="email"), "phone": nullable("string"),
      "status": {"type": "string", "enum": ["lead", "prospect", "active", "inactive", "closed"]}, "source": nullable("string"), "notes": nullable("string"),
      "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}, "version": version_f}},
  "CustomerInput": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {
      "name": {"type": "string", "minLength": 1, "maxLength": 200}, "email": nullable("string", format="email", maxLength=254), "phone": nullable("string", maxLength=32),
      "status": {"type": "string", "enum": ["lead", "prospect", "active", "inactive", "closed"]}, "source": nullable("string", maxLength=100), "notes": nullable("string", maxLength=5000)}},
  "CustomerPatch": {"type": "object", "minProperties": 1, "additionalProperties": False, "description": "Fields present change; null clears an optional field.", "properties": {
      "name": {"type": "string", "minLength": 1, "maxLength": 200}, "email": nullable("string", format="email", maxLength=254), "phone": nullable("string", maxLength=32),
      "status": {"type": "string", "enum": ["lead", "prospect", "active", "inactive", "closed"]}, "source": nullable("string", maxLength=100), "notes": nullable("string", maxLength=5000), "version": version_p}},
  "Interaction": {"type": "object", "properties": {"id": {"type": "string"}, "customer_id": {"type": "string"}, "type": {"type": "string", "enum": ["call", "email", "meeting", "sms", "viewing", "note"]},
      "summary": {"type": "string"}, "occurred_at": {"type": "string", "format": "date-time"}, "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}},
  "InteractionInput": {"type": "object", "required": ["customer_id", "type", "summary"], "additionalProperties": False, "properties": {"customer_id": {"type": "string"},
      "type": {"type": "string", "enum": ["call", "email", "meeting", "sms", "viewing", "note"]}, "summary": {"type": "string", "minLength": 1, "maxLength": 2000}, "occurred_at": {"type": "string", "format": "date-time"}}},
  "Followup": {"type": "object", "properties": {"id": {"type": "string"}, "customer_id": {"type": "string"}, "assigned_to": {"type": "string"}, "due_at": {"type": "string", "format": "date-time"},
      "note": {"type": ["string", "null"]}, "status": {"type": "string", "enum": ["open", "done", "cancelled"]}, "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}, "version": version_f}},
  "FollowupInput": {"type": "object", "required": ["customer_id", "due_at"], "additionalProperties": False, "properties": {"customer_id": {"type": "string"}, "assigned_to": {"type": "string"},
      "due_at": {"type": "string", "format": "date-time"}, "note": {"type": "string", "maxLength": 2000}}},
  "FollowupPatch": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {"status": {"type": "string", "enum": ["open", "done", "cancelled"]},
      "due_at": {"type": "string", "format": "date-time"}, "note": {"type": ["string", "null"], "maxLength": 2000}, "version": version_p}},
  "Appointment": {"type": "object", "properties": {k: {"type": "string"} for k in ["id", "title", "assigned_to", "starts_at", "ends_at", "status", "created_by", "created_at", "updated_at"]} | {k: {"type": ["string", "null"]} for k in ["customer_id", "location", "notes", "outcome"]}},
  "AppointmentInput": {"type": "object", "required": ["title", "starts_at", "ends_at"], "additionalProperties": False, "properties": {
      "title": {"type": "string", "minLength": 1, "maxLength": 200}, "starts_at": {"type": "string", "format": "date-time"}, "ends_at": {"type": "string", "format": "date-time"},
      "customer_id": {"type": "string"}, "assigned_to": {"type": "string"}, "location": {"type": "string", "maxLength": 300}, "notes": {"type": "string", "maxLength": 2000}}},
  "PublicCard": {"type": "object", "properties": {k: {"type": "string"} for k in ["id", "slug", "display_name"]} | {k: {"type": ["string", "null"]} for k in ["title", "phone", "email", "bio"]} | {"scans": {"type": "integer"}}},
  "Card": {"type": "object", "properties": {k: {"type": "string"} for k in ["id", "slug", "owner_id", "display_name", "created_at", "updated_at"]} | {k: {"type": ["string", "null"]} for k in ["title", "phone", "email", "bio"]} | {"scans": {"type": "integer"}}},
  "CardInput": {"type": "object", "required": ["slug", "display_name"], "additionalProperties": False, "properties": {"slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,46}[a-z0-9]$"},
      "display_name": {"type": "string", "maxLength": 120}, "title": {"type": "string", "maxLength": 120}, "phone": {"type": "string", "maxLength": 32}, "email": {"type": "string", "format": "email"}, "bio": {"type": "string", "maxLength": 1000}}},
  "LoginInput": {"type": "object", "required": ["tenant", "email", "password"], "properties": {"tenant": {"type": "string"}, "email": {"type": "string", "format": "email"}, "password": {"type": "string"}}},
  "RefreshInput": {"type": "object", "required": ["refresh_token"], "properties": {"refresh_token": {"type": "string"}}},
  "TokenPair": {"type": "object", "required": ["access_token", "token_type", "expires_in", "refresh_token"], "properties": {
      "access_token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_in": {"type": "integer", "examples": [900]}, "refresh_token": {"type": "string"}}},
  "User": {"type": "object", "required": ["id", "email", "name", "role", "created_at", "updated_at", "version"], "properties": {
      "id": {"type": "string"}, "email": {"type": "string", "format": "email"}, "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "broker", "viewer"]},
      "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}, "version": version_f}},
  "UserInput": {"type": "object", "required": ["email", "name", "role", "password"], "additionalProperties": False, "properties": {
      "email": {"type": "string", "format": "email"}, "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "broker", "viewer"]}, "password": {"type": "string", "minLength": 10, "maxLength": 1024}}},
  "UserPatch": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
      "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "broker", "viewer"]}, "password": {"type": "string", "minLength": 10, "maxLength": 1024}, "version": version_p}},
  "BlockedIp": {"type": "object", "properties": {"ip": {"type": "string"}, "reason": {"type": ["string", "null"]}, "created_by": {"type": "string"}, "expires_ms": {"type": ["integer", "null"]}}},
  "BlockIpInput": {"type": "object", "required": ["ip"], "additionalProperties": False, "properties": {"ip": {"type": "string"}, "reason": {"type": "string", "maxLength": 200}, "ttl_seconds": {"type": "integer", "minimum": 60, "maximum": 31536000}}},
  "Job": {"type": "object", "properties": {"id": {"type": "string"}, "queue": {"type": "string"}, "kind": {"type": "string"}, "status": {"type": "string"},
      "attempts": {"type": "integer"}, "payload": {"type": "object"}, "result": {"type": ["object", "null"]}, "last_error": nullable("string"),
      "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}},
  "Dashboard": {"type": "object", "properties": {"customers": {"type": "object"}, "jobs": {"type": "object"}, "sales": {"type": "object"}, "commissions": {"type": "object"}, "as_of": {"type": "string", "format": "date-time"}}},
  "SentMessage": {"type": "object", "properties": {k: {"type": "string"} for k in ["id", "job_id", "channel", "recipient", "subject", "body", "created_at"]}},
  "Event": {"type": "object", "required": ["seq", "id", "type", "channels", "data", "ts"], "properties": {
      "seq": {"type": "integer", "minimum": 1}, "id": {"type": "string"}, "type": {"type": "string", "examples": ["crm:customer:created"]},
      "channels": {"type": "array", "items": {"type": "string"}}, "data": {"type": "object"}, "ts": {"type": "string", "format": "date-time"}}},
  "EventPage": {"type": "object", "properties": {"data": {"type": "array", "items": ref("Event")}, "head": {"type": "integer"}, "oldest": {"type": ["integer", "null"]},
      "epoch": {"type": "string"}, "recovered": {"type": "boolean"}, "next_since": {"type": "integer"}}},
  "PublishInput": {"type": "object", "additionalProperties": False, "properties": {"type": {"type": "string", "pattern": "^system:"},
      "channels": {"type": "array", "items": {"type": "string"}, "maxItems": 20}, "target_roles": {"type": "array", "items": {"type": "string", "enum": ["admin", "broker", "viewer"]}},
      "target_users": {"type": "array", "items": {"type": "string"}, "maxItems": 20}, "data": {"type": "object"}}},
  "Published": {"type": "object", "properties": {"id": {"type": "string"}, "type": {"type": "string"}, "channels": {"type": "array", "items": {"type": "string"}}, "seq": {"type": ["integer", "null"]}}},
  "Room": {"type": "object", "properties": {"name": {"type": "string"}, "public": {"type": "boolean"}, "created_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}},
  "RoomInput": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": {"name": {"type": "string", "pattern": "^[a-z0-9_-]{1,48}$"}, "public": {"type": "boolean"}}},
  "RoomPublishInput": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}, "channels": {"type": "array", "items": {"type": "string"}}, "data": {"type": "object"}}},
}
# --- Background jobs, SMS, publishing and reports ---
Q = lambda *names: [{"name": n, "in": "query", "schema": {"type": "string"}} for n in names]
S = lambda: {"type": "string"}
NS = lambda: {"type": ["string", "null"]}
paths.update({
  "/api/jobs": {"get": op("List jobs, newest first (admins: all; others: their own)", "jobs", {"200": resp("A page", list_of(ref("Job"))), **err(400, 401)}, params=[P("limit"), P("cursor")] + Q("status", "queue", "subject"), op_id="listJobs")},
  "/api/jobs/{id}/retry": {"post": op("Re-run a dead or failed job (admin)", "jobs", {"202": resp("Queued again", ref("Job")), **err(401, 403, 404, 409)}, params=[P("id"), P("idempotencyKey")], op_id="retryJob",
        desc="Resets the attempt count and emits `job:queued`. Only `dead` and `failed` jobs: anything else is a 409.")},
  "/api/crm/customers/{id}/sms": {"post": op("Text a customer (broker, admin)", "crm", {"202": resp("The sms job", ref("Job")), **err(400, 401, 403, 404, 409, 413, 415, 422)}, params=[P("id"), P("idempotencyKey")],
        request=body({"type": "object", "required": ["message"], "additionalProperties": False, "properties": {"message": {"type": "string", "minLength": 1, "maxLength": 480}}}), op_id="sendCustomerSms",
        desc="Runs on the `sms` queue through the configured SMS provider; progress arrives as `job:*` events. A customer without a phone is a 409.")},
  "/api/publishing/listings": {
    "get": op("List listings", "publishing", {"200": resp("A page", list_of(ref("Listing"))), **err(400, 401)}, params=[P("limit"), P("cursor")] + Q("status", "property_id"), op_id="listListings"),
    "post": op("Create a listing of a property (broker, admin)", "publishing", {"201": resp("Created (draft)", ref("Listing")), **err(400, 401, 403, 413, 415, 422, 503)}, params=[P("idempotencyKey")], request=body(ref("ListingInput")), op_id="createListing",
               desc="Copies the property's title, description, price and facts (overridable). Emits `publishing:listing:created`."),
  },
  "/api/publishing/listings/{id}": {"get": op("Get a listing with its publications", "publishing", {"200": resp("The listing", ref("Listing")), **err(401, 404)}, params=[P("id")], op_id="getListing")},
  "/api/publishing/listings/{id}/publish": {"post": op("Publish now (broker, admin)", "publishing", {"202": resp("Jobs started", {"type": "object", "properties": {"listing": ref("Listing"), "jobs": {"type": "array", "items": ref("Job")}}}), **err(400, 401, 403, 404, 409, 415, 422)},
        params=[P("id"), P("idempotencyKey")], request={"required": False, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": False, "properties": {"platforms": {"type": "array", "items": S()}}}}}}, op_id="publishListing",
        desc="One `publishing` job per platform (sent in one batch). Each emits `publishing:started`, then `publishing:completed` or `publishing:failed`. A platform still in flight is a 409.")},
  "/api/publishing/schedules": {
    "get": op("List publishing schedules", "publishing", {"200": resp("A page", list_of(ref("Schedule"))), **err(400, 401)}, params=[P("limit"), P("cursor")] + Q("status", "listing_id"), op_id="listSchedules"),
    "post": op("Schedule a publication (broker, admin)", "publishing", {"201": resp("Scheduled", ref("Schedule")), **err(400, 401, 403, 413, 415, 422, 503)}, params=[P("idempotencyKey")], request=body(ref("ScheduleInput")), op_id="createSchedule",
               desc="The every-minute cron starts it once `run_at` has passed (publishing jobs, as with publish-now)."),
  },
  "/api/publishing/schedules/{id}": {"delete": op("Cancel a pending schedule (broker, admin)", "publishing", {"200": resp("Cancelled", ref("Schedule")), **err(401, 403, 404, 409)}, params=[P("id")], op_id="cancelSchedule")},
  "/api/reports": {
    "get": op("List reports (admin)", "reports", {"200": resp("A page", list_of(ref("Report"))), **err(400, 401, 403)}, params=[P("limit"), P("cursor")] + Q("kind", "status"), op_id="listReports"),
    "post": op("Request a report (admin)", "reports", {"202": resp("Queued", ref("Report")), **err(400, 401, 403, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("ReportInput")), op_id="createReport",
               desc="Built on the `reports` queue from D1 aggregates (with `job:progress`), stored in R2; `reports:generated` when ready."),
  },
  "/api/reports/{id}": {"get": op("Get a report's status (admin)", "reports", {"200": resp("The report", ref("Report")), **err(401, 403, 404)}, params=[P("id")], op_id="getReport")},
  "/api/reports/{id}/download": {"get": op("Download a ready report (admin)", "reports", {"200": {"description": "The file", "content": {"text/csv": {"schema": S()}, "application/json": {"schema": {"type": "object"}}}}, **err(401, 403, 404, 409, 410)}, params=[P("id")], op_id="downloadReport")},
  "/api/dev/dead-letters": {"get": op("Poison queue messages (dev only, admin)", "dev", {"200": resp("A page", list_of({"type": "object"})), **err(400, 401, 403, 404)}, params=[P("limit"), P("cursor")], op_id="listDeadLetters")},
  "/api/dev/hub-append": {"post": op("Append an event straight to the hub, skipping D1 (dev only, admin; for benchmarks)", "dev", {"202": resp("Appended", {"type": "object"}), **err(400, 401, 403, 404, 415, 422)},
        params=[P("idempotencyKey")], request=body({"type": "object", "required": ["type", "channels"], "properties": {"type": S(), "channels": {"type": "array", "items": S()}, "data": {}}}), op_id="devHubAppend")},
  "/api/dev/queues/{queue}": {"post": op("Send raw messages to a job queue (dev only, admin)", "dev", {"202": resp("Sent", {"type": "object"}), **err(400, 401, 403, 404, 415, 422)},
        params=[{"name": "queue", "in": "path", "required": True, "schema": S()}, P("idempotencyKey")], request=body({"type": "object", "required": ["messages"], "properties": {"messages": {"type": "array", "minItems": 1, "maxItems": 100}}}), op_id="devQueueSend")},
})
publication = {"type": "object", "properties": {"platform": S(), "status": {"type": "string", "enum": ["queued", "publishing", "published", "failed"]}, "job_id": NS(), "external_id": NS(), "url": NS(),
    "attempts": {"type": "integer"}, "last_error": NS(), "published_at": NS(), "updated_at": S()}}
schemas.update({
  "Job": {"type": "object", "properties": {"id": S(), "queue": S(), "kind": S(), "status": {"type": "string", "enum": ["queued", "running", "retrying", "completed", "failed", "dead"]},
      "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"}, "progress": {"type": "integer", "minimum": 0, "maximum": 100}, "payload": {"type": "object"}, "result": {"type": ["object", "null"]},
      "last_error": NS(), "subject": NS(), "created_by": S(), "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
      "started_at": NS(), "finished_at": NS()}},
  "Listing": {"type": "object", "properties": {"id": S(), "property_id": S(), "title": S(), "description": NS(), "price_minor": {"type": "integer"}, "currency": S(), "city": NS(), "kind": NS(),
      "bedrooms": {"type": ["integer", "null"]}, "platforms": {"type": "array", "items": S()}, "status": {"type": "string", "enum": ["draft", "publishing", "published", "partially_published", "failed"]},
      "publications": {"type": "array", "items": publication}, "created_by": S(), "created_at": S(), "updated_at": S(), "published_at": NS()}},
  "ListingInput": {"type": "object", "required": ["property_id", "platforms"], "additionalProperties": False, "properties": {"property_id": S(), "platforms": {"type": "array", "minItems": 1, "items": S()},
      "title": {"type": "string", "maxLength": 200}, "description": {"type": "string", "maxLength": 5000}, "price_minor": {"type": "integer", "minimum": 1}}},
  "Schedule": {"type": "object", "properties": {"id": S(), "listing_id": S(), "platforms": {"type": "array", "items": S()}, "run_at": S(), "status": {"type": "string", "enum": ["pending", "started", "cancelled"]},
      "job_ids": {"type": "array", "items": S()}, "created_by": S(), "created_at": S(), "started_at": NS()}},
  "ScheduleInput": {"type": "object", "required": ["listing_id", "run_at"], "additionalProperties": False, "properties": {"listing_id": S(), "run_at": {"type": "string", "format": "date-time"}, "platforms": {"type": "array", "items": S()}}},
  "Report": {"type": "object", "properties": {"id": S(), "kind": S(), "format": {"type": "string", "enum": ["csv", "json"]}, "from": S(), "to": S(), "status": {"type": "string", "enum": ["queued", "running", "ready", "failed"]},
      "job_id": S(), "size_bytes": {"type": ["integer", "null"]}, "row_count": {"type": ["integer", "null"]}, "totals": {"type": ["object", "null"]}, "error": NS(), "download_url": NS(), "created_by": S(), "created_at": S(), "finished_at": NS()}},
  "ReportInput": {"type": "object", "required": ["kind", "from", "to"], "additionalProperties": False, "properties": {"kind": {"type": "string", "enum": ["sales_summary", "commissions_by_broker", "pipeline", "appointments"]},
      "format": {"type": "string", "enum": ["csv", "json"], "default": "csv"}, "from": {"type": "string", "format": "date-time"}, "to": {"type": "string", "format": "date-time"}}},
})

# --- Finance, owners/properties/seekers and matching ---
I = lambda: {"type": "integer"}
NI = lambda: {"type": ["integer", "null"]}
money = {"type": "integer", "minimum": 1, "maximum": 10000000000000, "description": "integer minor units"}
cur = {"type": "string", "pattern": "^[A-Z]{3}$"}
fin = lambda s: s + " (broker, admin)"
paths.update({
  "/api/finance/sales": {
    "get": op(fin("List sales"), "finance", {"200": resp("A page", list_of(ref("Sale"))), **err(400, 401, 403)}, params=[P("limit"), P("cursor")] + Q("broker_id", "customer_id", "status", "from", "to"), op_id="listSales"),
    "post": op(fin("Record a sale and its commission"), "finance", {"201": resp("Created", ref("Sale")), **err(400, 401, 403, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("SaleInput")), op_id="createSale",
               desc="Emits `finance:sale:created` and `finance:commission:calculated` (to the broker, admins and `entity:sale:<id>`). Rate: the sale's own, else the broker's, else the tenant's, else 300 bps. Only admins may give a sale its own rate, or brokers up to the tenant's `broker_rate_override_max_bps` (403 `forbidden` otherwise)."),
  },
  "/api/finance/sales/{id}": {"get": op(fin("Get a sale"), "finance", {"200": resp("The sale", ref("Sale")), **err(401, 403, 404)}, params=[P("id")], op_id="getSale")},
  "/api/finance/payments": {
    "get": op(fin("List payments"), "finance", {"200": resp("A page", list_of(ref("Payment"))), **err(400, 401, 403)}, params=[P("limit"), P("cursor")] + Q("sale_id"), op_id="listPayments"),
    "post": op(fin("Record a payment"), "finance", {"201": resp("Recorded", ref("Payment")), **err(400, 401, 403, 409, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref("PaymentInput")), op_id="createPayment",
               desc="409 when it would pay the sale past its total (nothing is written). `sale_balance_minor`/`sale_status` (in the answer and in `finance:payment:received`) are the sale's right after this payment, even under concurrent payments."),
  },
  "/api/finance/commissions": {"get": op(fin("List commissions (brokers: their own)"), "finance", {"200": resp("A page", list_of(ref("Commission"))), **err(400, 401, 403)}, params=[P("limit"), P("cursor")] + Q("broker_id", "status", "sale_id"), op_id="listCommissions")},
  "/api/finance/commissions/{id}/approve": {"put": op("Approve a commission (admin)", "finance", {"200": resp("Approved", ref("Commission")), **err(401, 403, 404, 409)}, params=[P("id")], op_id="approveCommission", desc="Once (409 after). Emits `finance:commission:approved`.")},
  "/api/finance/commission-rates": {
    "get": op("Commission rates (admin)", "finance", {"200": resp("Rates", {"type": "object"}), **err(401, 403)}, op_id="listCommissionRates"),
    "put": op("Set the tenant's or a broker's rate (admin)", "finance", {"200": resp("Set", {"type": "object"}), **err(400, 401, 403, 415, 422)}, request=body({"type": "object", "required": ["rate_bps"], "additionalProperties": False, "properties": {"broker_id": S(), "rate_bps": {"type": "integer", "minimum": 0, "maximum": 10000}}}), op_id="putCommissionRate"),
  },
  "/api/finance/settings": {
    "get": op("Finance settings (admin)", "finance", {"200": resp("Settings", ref("FinanceSettings")), **err(401, 403)}, op_id="getFinanceSettings"),
    "put": op("Set the finance settings (admin)", "finance", {"200": resp("Set", ref("FinanceSettings")), **err(400, 401, 403, 415, 422)}, request=body({"type": "object", "required": ["broker_rate_override_max_bps"], "additionalProperties": False, "properties": {"broker_rate_override_max_bps": {"type": ["integer", "null"], "minimum": 0, "maximum": 10000}}}), op_id="putFinanceSettings",
              desc="`broker_rate_override_max_bps`: the highest `commission_rate_bps` a broker may give their own sale; `null` (the default): brokers may not set one. Emits `finance:settings:updated` to admins."),
  },
  "/api/matching/run": {"post": op("Match seekers with properties (broker, admin)", "owners", {"202": resp("The matching job", ref("Job")), **err(400, 401, 403, 415, 422)}, params=[P("idempotencyKey")],
        request={"required": False, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": False, "properties": {"seeker_id": S()}}}}}, op_id="runMatching",
        desc="Runs on the `matching` queue; emits `owners:match:found` once per new match."),
  },
  "/api/matches": {"get": op("Matches found (best first)", "owners", {"200": resp("A page", list_of(ref("Match"))), **err(400, 401)}, params=[P("limit"), P("cursor")] + Q("seeker_id", "property_id"), op_id="listMatches")},
})
for res, name, schema, filters in [("owners", "owner", "Owner", []), ("properties", "property", "Property", ["kind", "listing", "city", "status", "owner_id", "min_price", "max_price", "bedrooms_min"]), ("seekers", "seeker", "Seeker", ["customer_id", "listing", "active"])]:
    ev = {"owners": "owners:owner", "properties": "owners:property", "seekers": "owners:seeker"}[res]
    paths[f"/api/{res}"] = {
        "get": op(f"List {res}", "owners", {"200": resp("A page", list_of(ref(schema))), **err(400, 401)}, params=[P("limit"), P("cursor")] + Q(*filters), op_id=f"list{schema}s"),
        "post": op(f"Create a {name} (broker, admin)", "owners", {"201": resp("Created", ref(schema)), **err(400, 401, 403, 413, 415, 422)}, params=[P("idempotencyKey")], request=body(ref(schema + "Input")), op_id=f"create{schema}", desc=f"Emits `{ev}:added`."),
    }
    paths[f"/api/{res}/{{id}}"] = {
        "get": op(f"Get a {name}", "owners", {"200": resp("Found", ref(schema)), **err(401, 404)}, params=[P("id")], op_id=f"get{schema}"),
        "put": op(f"Update a {name} (partial; broker, admin)", "owners", {"200": resp("Updated", ref(schema)), **err(400, 401, 403, 404, 409, 415, 422)}, params=[P("id")], request=body({"type": "object"}), op_id=f"update{schema}", desc=f"`null` clears an optional field. Emits `{ev}:updated`."),
        "delete": op(f"Delete a {name} (admin)", "owners", {"204": {"description": "Deleted"}, **err(401, 403, 404)}, params=[P("id")], op_id=f"delete{schema}", desc=f"Emits `{ev}:deleted`."),
    }
meta = {"id": S(), "created_by": S(), "created_at": S(), "updated_at": S()}
owner_in = {"name": {"type": "string", "maxLength": 200}, "email": {"type": ["string", "null"], "format": "email"}, "phone": NS(), "notes": {"type": ["string", "null"], "maxLength": 2000}}
prop_in = {"owner_id": NS(), "title": {"type": "string", "maxLength": 200}, "kind": {"type": "string", "enum": ["apartment", "house", "villa", "land", "office", "commercial"]}, "listing": {"type": "string", "enum": ["sale", "rent"]},
    "price_minor": money, "currency": cur, "bedrooms": {"type": "integer", "minimum": 0, "maximum": 50}, "bathrooms": NI(), "area_sqm": NI(), "city": {"type": "string", "maxLength": 100},
    "district": NS(), "address": NS(), "description": NS(), "status": {"type": "string", "enum": ["available", "under_offer", "sold", "rented"]}}
seek_in = {"name": {"type": "string", "maxLength": 200}, "email": NS(), "phone": NS(), "customer_id": NS(), "budget_min_minor": NI(), "budget_max_minor": money, "currency": cur,
    "cities": {"type": "array", "items": S(), "maxItems": 20}, "kinds": {"type": "array", "items": S(), "maxItems": 6}, "listing": {"type": "string", "enum": ["sale", "rent"]},
    "bedrooms_min": NI(), "notes": NS(), "active": {"type": "boolean"}}
schemas.update({
  "Owner": {"type": "object", "properties": owner_in | meta},
  "OwnerInput": {"type": "object", "required": ["name"], "additionalProperties": False, "properties": owner_in},
  "Property": {"type": "object", "properties": prop_in | meta},
  "PropertyInput": {"type": "object", "required": ["title", "kind", "price_minor", "currency", "city"], "additionalProperties": False, "properties": prop_in},
  "Seeker": {"type": "object", "properties": seek_in | meta},
  "SeekerInput": {"type": "object", "required": ["name", "budget_max_minor", "currency"], "additionalProperties": False, "properties": seek_in},
  "Match": {"type": "object", "properties": {"seeker_id": S(), "property_id": S(), "score": {"type": "integer", "minimum": 0, "maximum": 100}, "reasons": {"type": "array", "items": S()}, "job_id": S(), "created_at": S()}},
  "Commission": {"type": "object", "properties": {"id": S(), "sale_id": S(), "broker_id": S(), "amount_minor": I(), "currency": S(), "rate_bps": I(), "status": {"type": "string", "enum": ["pending", "approved"]},
      "approved_by": NS(), "approved_at": NS(), "created_at": S(), "updated_at": S()}},
  "Sale": {"type": "object", "properties": {"id": S(), "customer_id": S(), "property_id": NS(), "broker_id": S(), "total_minor": I(), "paid_minor": I(), "balance_minor": I(), "currency": S(),
      "commission_rate_bps": I(), "status": {"type": "string", "enum": ["open", "paid"]}, "sold_at": S(), "notes": NS(), "created_by": S(), "created_at": S(), "updated_at": S(),
      "commission": {"oneOf": [ref("Commission"), {"type": "null"}]}}},
  "SaleInput": {"type": "object", "required": ["customer_id", "total_minor", "currency"], "additionalProperties": False, "properties": {"customer_id": S(), "property_id": S(), "broker_id": {"type": "string", "description": "admins only: another broker"},
      "total_minor": money, "currency": cur, "commission_rate_bps": {"type": "integer", "minimum": 0, "maximum": 10000, "description": "admins; brokers only up to the tenant's broker_rate_override_max_bps"}, "sold_at": {"type": "string", "format": "date-time"}, "notes": {"type": "string", "maxLength": 2000}}},
  "FinanceSettings": {"type": "object", "properties": {"broker_rate_override_max_bps": NI(), "updated_by": NS(), "updated_at": NS()}},
  "Payment": {"type": "object", "properties": {"id": S(), "sale_id": S(), "amount_minor": I(), "currency": S(), "method": S(), "reference": NS(), "received_at": S(), "created_by": S(), "created_at": S(),
      "sale_balance_minor": I(), "sale_status": S()}},
  "PaymentInput": {"type": "object", "required": ["sale_id", "amount_minor", "currency", "method"], "additionalProperties": False, "properties": {"sale_id": S(), "amount_minor": money, "currency": cur,
      "method": {"type": "string", "enum": ["cash", "card", "transfer", "check", "other"]}, "reference": {"type": "string", "maxLength": 200}, "received_at": {"type": "string", "format": "date-time"}}},
})

errors = {400: "Malformed JSON or parameters", 401: "Missing, invalid or expired token", 403: "Role not allowed", 404: "Unknown id (also another tenant's)",
          405: "Method not allowed", 409: "Conflict", 413: "Body too large", 415: "Not application/json", 422: "Validation failed (details.fields)",
          410: "Gone (the stored file expired)", 426: "WebSocket upgrade required", 429: "Rate limited (see Retry-After)",
          503: "Not available (misconfigured or a dependency is down)"}
doc = {
  "openapi": "3.1.0",
  "info": {"title": "Pulse API", "version": "0.1.0", "description": "Multi-tenant real-time backend for real-estate brokerages. Realtime protocol: docs/realtime.md."},
  "servers": [{"url": "http://127.0.0.1:8787", "description": "make dev"}],
  "security": [{"bearerAuth": []}],
  "paths": paths,
  "components": {
    "securitySchemes": {
      "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "HS256 (JWT_SECRET) or EdDSA (JWT_JWKS); claims sub, tid, role, exp, iat"},
      "queryToken": {"type": "apiKey", "in": "query", "name": "token", "description": "Realtime routes only (browsers cannot set headers on WebSocket/EventSource)"}},
    "parameters": {
      "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}},
      "room": {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[a-z0-9_-]{1,48}$"}},
      "limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}},
      "eventLimit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
      "cursor": {"name": "cursor", "in": "query", "description": "next_cursor of the previous page (opaque)", "schema": {"type": "string"}},
      "since": {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}},
      "channels": {"name": "channels", "in": "query", "description": "comma-separated channels", "schema": {"type": "string"}},
      "types": {"name": "types", "in": "query", "description": "comma-separated types or prefixes ending in *", "schema": {"type": "string"}},
      "ifMatch": {"name": "If-Match", "in": "header", "description": "the version (or ETag) the update expects; `*` or absent: the current one", "schema": {"type": "string"}},
      "idempotencyKey": {"name": "Idempotency-Key", "in": "header", "description": "replays the first response for 24 h", "schema": {"type": "string", "maxLength": 255}}},
    "responses": {f"E{c}": {"description": d, "content": {"application/json": {"schema": ref("Error")}}} for c, d in errors.items()},
    "schemas": schemas,
  },
}
for item in paths.values():
    for o in item.values():
        if o.get("operationId") is None:
            o.pop("operationId")
out = os.path.join(os.path.dirname(__file__), "..", "docs", "openapi.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
# The copy the Worker serves (Workers static assets, minified; see wrangler.toml [assets]).
served = os.path.join(os.path.dirname(__file__), "..", "static", "openapi.json")
with open(served, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
print("wrote", os.path.normpath(out), "and", os.path.normpath(served), len(paths), "paths")
