//! The OpenAPI 3.1 document, generated from the endpoint table: each endpoint's `Doc`
//! (summary, tags, body, replies) plus what its declaration implies (security and
//! `x-roles` from its access rule, path parameters, the error responses its checks can
//! give). Native only: the
//! Worker serves the generated file (static/openapi.json) as a static asset, so none of
//! this is in the Wasm. `cargo test --lib` fails when the committed files are stale;
//! `PULSE_WRITE_OPENAPI=1 cargo test --lib openapi` rewrites them.

use super::endpoints::{Endpoint, ENDPOINTS, UNGUARDED};
use crate::domain::auth::{Action, Role};
use crate::domain::ids::{IDEMPOTENCY_KEY_PATTERN, PATH_ID_PATTERN};
use crate::domain::pagination::{CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT};
use crate::domain::status::{
    CommissionStatus, CustomerStatus, FollowupStatus, JobStatus, ListingStatus, MatchStatus,
    PropertyStatus, PublicationStatus, ReportStatus, SaleStatus, ScheduleStatus, Status,
};
use crate::domain::version::IF_MATCH_PATTERN;
use crate::web::auth::Access;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// An endpoint's documentation: what the declaration does not already say.
pub struct Doc {
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    desc: Option<&'static str>,
    /// The request body's component name and whether it is required.
    input: Option<(&'static str, bool)>,
    /// A raw (binary) request body instead: the media types it may be sent as.
    binary: &'static [&'static str],
    /// The body may also come as an HTML form (`application/x-www-form-urlencoded`).
    form: bool,
    /// Success replies: status → response object.
    replies: Vec<(u16, Value)>,
    params: Vec<Value>,
    errors: Vec<u16>,
    page: bool,
    versioned: bool,
}

impl Doc {
    /// `id` is the operationId (unique), `tag` its group.
    pub fn new(id: &'static str, tag: &'static str, summary: &'static str) -> Doc {
        Doc {
            id,
            tag,
            summary,
            desc: None,
            input: None,
            binary: &[],
            form: false,
            replies: Vec::new(),
            params: Vec::new(),
            errors: Vec::new(),
            page: false,
            versioned: false,
        }
    }

    pub fn desc(mut self, d: &'static str) -> Doc {
        self.desc = Some(d);
        self
    }

    /// A required JSON body, the component schema `name` (see `input_schema`).
    pub fn input(mut self, name: &'static str) -> Doc {
        self.input = Some((name, true));
        self
    }

    /// A required body, as JSON or as an HTML form with the same fields.
    pub fn form_input(mut self, name: &'static str) -> Doc {
        self.form = true;
        self.input(name)
    }

    /// A JSON body that may be left out (read as `{}`).
    pub fn optional_input(mut self, name: &'static str) -> Doc {
        self.input = Some((name, false));
        self
    }

    /// A required raw body (a file), sent as one of these media types; the server tells
    /// the format by the bytes themselves.
    pub fn binary_input(mut self, media_types: &'static [&'static str]) -> Doc {
        self.binary = media_types;
        self
    }

    /// A JSON reply.
    pub fn reply(self, status: u16, desc: &str, schema: Value) -> Doc {
        self.raw(
            status,
            json!({"description": desc, "content": {"application/json": {"schema": schema}}}),
        )
    }

    /// A reply without a body.
    pub fn empty(self, status: u16, desc: &str) -> Doc {
        self.raw(status, json!({ "description": desc }))
    }

    /// A reply given as its whole response object (other media types).
    pub fn raw(mut self, status: u16, response: Value) -> Doc {
        self.replies.push((status, response));
        self
    }

    /// A header on the last reply declared.
    pub fn header(mut self, name: &str, desc: Option<&str>) -> Doc {
        if let Some((_, r)) = self.replies.last_mut() {
            let mut h = json!({"schema": {"type": "string"}});
            if let Some(d) = desc {
                h["description"] = json!(d);
            }
            r["headers"][name] = h;
        }
        self
    }

    /// A paginated list of `item`: 200 with `{"data", "next_cursor"}`, `?limit=` and
    /// `?cursor=` (`domain::pagination`; 400 when malformed).
    pub fn page(mut self, item: Value) -> Doc {
        self.page = true;
        self.reply(200, "A page", list_of(item))
    }

    /// A shared parameter of `components.parameters`.
    pub fn shared(mut self, name: &str) -> Doc {
        self.params.push(param_ref(name));
        self
    }

    /// A parameter given whole.
    pub fn param(mut self, p: Value) -> Doc {
        self.params.push(p);
        self
    }

    /// Error statuses beyond those the declaration implies.
    pub fn errors(mut self, codes: &[u16]) -> Doc {
        self.errors.extend_from_slice(codes);
        self
    }

    /// An optimistic-concurrency update: `If-Match`, `ETag` on the 200, 409 when stale.
    pub fn versioned(mut self) -> Doc {
        self.versioned = true;
        self.params.push(param_ref("ifMatch"));
        self.etag()
    }

    /// `ETag` (the record's version) on the 200 reply.
    pub fn etag(mut self) -> Doc {
        for (status, r) in &mut self.replies {
            if *status == 200 {
                r["headers"]["ETag"] = json!({
                    "description": "the record's version, quoted; send it back in If-Match",
                    "schema": {"type": "string", "examples": ["\"3\""]}
                });
            }
        }
        self
    }
}

/// `#/components/schemas/<name>`.
pub fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn param_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

/// A page of `item`: `{"data": [...], "next_cursor"}`.
pub fn list_of(item: Value) -> Value {
    json!({"type": "object", "required": ["data", "next_cursor"], "properties": {
        "data": {"type": "array", "items": item}, "next_cursor": {"type": ["string", "null"]}}})
}

pub fn s() -> Value {
    json!({"type": "string"})
}
pub fn ns() -> Value {
    json!({"type": ["string", "null"]})
}
pub fn int() -> Value {
    json!({"type": "integer"})
}
pub fn ni() -> Value {
    json!({"type": ["integer", "null"]})
}
pub fn dt() -> Value {
    json!({"type": "string", "format": "date-time"})
}
pub fn obj() -> Value {
    json!({"type": "object"})
}
pub fn boolean() -> Value {
    json!({"type": "boolean"})
}
pub fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}
pub fn en(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// A status column's values, from its enum.
fn st<S: Status>(all: &[S]) -> Value {
    en(&all.iter().map(|s| s.as_str()).collect::<Vec<_>>())
}

/// The WebSocket upgrade reply.
pub fn switching(desc: &str) -> Value {
    json!({ "description": desc })
}

/// The schema of a request body by its component name: the declaration the validator runs
/// (`domain::inputs::INPUTS`). Only the dev-only queue body (any JSON values, which no
/// `Kind` declares), which no deployment serves, is written here.
pub fn input_schema(name: &str) -> Value {
    if let Some(shape) = crate::domain::inputs::input(name) {
        return crate::domain::schema::json_schema(shape);
    }
    match name {
        "QueueSendInput" => json!({
            "type": "object", "required": ["messages"],
            "properties": {"messages": {"type": "array", "minItems": 1, "maxItems": 100}}}),
        _ => panic!("no request body schema named {name}"),
    }
}

const ERRORS: &[(u16, &str)] = &[
    (400, "Malformed JSON or parameters"),
    (401, "Missing, invalid or expired token"),
    (403, "Role not allowed"),
    (404, "Unknown id (also another tenant's)"),
    (405, "Method not allowed"),
    (409, "Conflict"),
    (410, "Gone (the stored file expired)"),
    (413, "Body too large"),
    (
        415,
        "Unsupported body: not application/json (or, for an upload, not an accepted image)",
    ),
    (422, "Validation failed (details.fields)"),
    (426, "WebSocket upgrade required"),
    (429, "Rate limited (see Retry-After)"),
    (503, "Not available (misconfigured or a dependency is down)"),
];

/// The error body of each status, as the server writes it (`ApiError::to_json`).
fn error_example(code: u16) -> Option<Value> {
    use crate::domain::error::{ApiError, FieldErrors};
    let e = match code {
        400 => ApiError::bad_request("body is not valid JSON"),
        401 => ApiError::unauthorized("token expired"),
        403 => ApiError::forbidden("role viewer may not do this"),
        404 => ApiError::not_found("customer"),
        422 => {
            let mut f = FieldErrors::default();
            f.add("email", "must be an email address");
            f.add("name", "is required");
            ApiError::validation(f)
        }
        _ => return None,
    };
    Some(e.body())
}

/// `/a/:id` → `/a/{id}`.
pub fn openapi_path(path: &str) -> String {
    path.split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `:param` names of a path, in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix(':'))
        .collect()
}

fn path_param(name: &str) -> Value {
    match name {
        "id" => param_ref("id"),
        "name" => param_ref("room"),
        // Another record's id in the same path: the id's own schema under its name.
        "photo" => json!({"name": name, "in": "path", "required": true,
            "schema": {"type": "string", "maxLength": 64, "pattern": PATH_ID_PATTERN}}),
        _ => json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}),
    }
}

/// The error statuses an endpoint can answer: from its declaration, then its doc's own.
fn error_codes(ep: &Endpoint, doc: &Doc) -> BTreeSet<u16> {
    let mut codes = BTreeSet::new();
    if ep.access != Access::Public {
        codes.insert(401);
    }
    if ep.access == Access::Platform {
        codes.insert(503);
    }
    if matches!(
        ep.access,
        Access::Role(Action::Write | Action::Admin)
            | Access::Optional(Action::Write | Action::Admin)
    ) {
        codes.insert(403);
    }
    if doc.input.is_some() {
        codes.extend([400, 413, 415, 422]);
    }
    if !doc.binary.is_empty() {
        codes.extend([413, 415]);
    }
    if !path_params(ep.path).is_empty() || ep.dev_only {
        codes.insert(404);
    }
    if ep.path != UNGUARDED {
        codes.insert(429);
    }
    if ep.method == "POST" && ep.access.has_caller() {
        // Idempotency-Key: malformed (400), first request still running (409), reused for
        // another request (422); the body is read to hash it (413).
        codes.extend([400, 409, 413, 422]);
    }
    if doc.page || !ep.query.is_empty() {
        codes.insert(400);
    }
    if doc.versioned {
        codes.insert(409);
    }
    codes.extend(doc.errors.iter().copied());
    codes
}

/// The operation's rules beyond its schema that can refuse a schema-valid request, as
/// `x-rules: [{"fields": [...], "rule": "..."}]`: those of its body's declaration
/// (`Shape::rules`), and, for a versioned body, that `version` agrees with If-Match. A
/// refusal under one is a 4xx whose `details.fields` names only those fields (the fuzz
/// run holds the server to that).
fn rules(doc: &Doc) -> Vec<Value> {
    let Some(shape) = doc
        .input
        .and_then(|(name, _)| crate::domain::inputs::input(name))
    else {
        return Vec::new();
    };
    let mut out: Vec<Value> = shape
        .rules
        .iter()
        .filter(|r| !r.fields.is_empty())
        .map(|r| json!({"fields": r.fields, "rule": r.text}))
        .collect();
    if shape.fields.iter().any(|f| f.meta) {
        out.push(json!({"fields": ["version"], "rule": crate::domain::version::AGREE_RULE}));
    }
    out
}

/// The roles the access rule admits (`x-roles`; none on public routes).
fn roles(access: Access) -> Vec<&'static str> {
    let action = match access {
        Access::Public | Access::Platform => return Vec::new(),
        Access::Stream => Action::Read,
        Access::Role(a) | Access::Optional(a) => a,
    };
    [Role::Admin, Role::Broker, Role::Viewer]
        .into_iter()
        .filter(|r| r.allows(action))
        .map(Role::as_str)
        .collect()
}

/// One operation object.
pub fn operation(ep: &Endpoint) -> Value {
    let doc = (ep.doc)();
    let mut op = Map::new();
    op.insert("operationId".into(), json!(doc.id));
    op.insert("tags".into(), json!([doc.tag]));
    op.insert("summary".into(), json!(doc.summary));
    if let Some(d) = doc.desc {
        op.insert("description".into(), json!(d));
    }
    match ep.access {
        Access::Public => {
            op.insert("security".into(), json!([]));
        }
        Access::Stream => {
            op.insert(
                "security".into(),
                json!([{"bearerAuth": []}, {"queryToken": []}]),
            );
        }
        Access::Optional(_) => {
            // Either no token at all or a bearer token.
            op.insert("security".into(), json!([{}, {"bearerAuth": []}]));
        }
        Access::Platform => {
            op.insert("security".into(), json!([{"platformToken": []}]));
        }
        Access::Role(_) => {}
    }
    let roles = roles(ep.access);
    if !roles.is_empty() {
        op.insert("x-roles".into(), json!(roles));
    }
    let mut params: Vec<Value> = path_params(ep.path).into_iter().map(path_param).collect();
    if doc.page {
        params.extend([param_ref("limit"), param_ref("cursor")]);
    }
    params.extend(ep.query.iter().map(
        |p| json!({"name": p.name, "in": "query", "schema": crate::domain::params::json_schema(p)}),
    ));
    params.extend(doc.params.iter().cloned());
    if ep.method == "POST" && ep.access.has_caller() {
        params.push(param_ref("idempotencyKey"));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some((name, required)) = doc.input {
        let mut content = json!({"application/json": {"schema": r(name)}});
        if let Some(shape) = crate::domain::inputs::input(name) {
            content["application/json"]["example"] = crate::domain::schema::example(shape);
        }
        if doc.form {
            content["application/x-www-form-urlencoded"] = json!({"schema": r(name)});
        }
        op.insert(
            "requestBody".into(),
            json!({"required": required, "content": content}),
        );
    }
    if !doc.binary.is_empty() {
        let content: Map<String, Value> = doc
            .binary
            .iter()
            .map(|t| {
                let schema = json!({"schema": {"type": "string", "format": "binary"}});
                (t.to_string(), schema)
            })
            .collect();
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": content}),
        );
    }
    let rules = rules(&doc);
    if !rules.is_empty() {
        op.insert("x-rules".into(), Value::Array(rules));
    }
    let mut responses = Map::new();
    for (status, reply) in &doc.replies {
        responses.insert(status.to_string(), reply.clone());
    }
    for code in error_codes(ep, &doc) {
        responses.insert(
            code.to_string(),
            json!({ "$ref": format!("#/components/responses/E{code}") }),
        );
    }
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut inputs = BTreeSet::new();
    for ep in ENDPOINTS {
        if let Some((name, _)) = (ep.doc)().input {
            inputs.insert(name);
        }
        let item = paths
            .entry(openapi_path(ep.path))
            .or_insert_with(|| json!({}));
        item[ep.method.to_ascii_lowercase()] = operation(ep);
    }
    let mut schemas = Map::new();
    for (name, schema) in output_schemas() {
        schemas.insert(name.into(), schema);
    }
    for name in inputs {
        schemas.insert(name.into(), input_schema(name));
    }
    let responses: Map<String, Value> = ERRORS
        .iter()
        .map(|(code, desc)| {
            (format!("E{code}"), {
                let mut media = json!({"schema": r("Error")});
                if let Some(e) = error_example(*code) {
                    media["example"] = e;
                }
                json!({"description": desc, "content": {"application/json": media}})
            })
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Pulse API",
            "version": "0.1.0",
            "description": "Multi-tenant real-time backend for real-estate brokerages. Realtime protocol: docs/realtime.md."
        },
        "servers": [{"url": "http://127.0.0.1:8787", "description": "make dev"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "HS256 (JWT_SECRET) or EdDSA (JWT_JWKS); claims sub, tid, role, exp, iat"
                },
                "queryToken": {
                    "type": "apiKey", "in": "query", "name": "token",
                    "description": "Realtime routes only (browsers cannot set headers on WebSocket/EventSource)"
                },
                "platformToken": {
                    "type": "http", "scheme": "bearer",
                    "description": "The operator's PLATFORM_TOKEN (a Worker secret, not a tenant JWT): creating tenants only"
                }
            },
            "parameters": {
                "id": {"name": "id", "in": "path", "required": true,
                       "schema": {"type": "string", "maxLength": 64, "pattern": PATH_ID_PATTERN}},
                "room": {"name": "name", "in": "path", "required": true,
                         "schema": {"type": "string", "pattern": "^[a-z0-9_-]{1,48}$"}},
                "limit": {"name": "limit", "in": "query",
                          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
                "cursor": {"name": "cursor", "in": "query",
                           "description": "next_cursor of the previous page; any cursor of this form is a position (empty: the first page)",
                           "schema": {"type": "string", "pattern": CURSOR_PATTERN}},
                "ifMatch": {"name": "If-Match", "in": "header",
                            "description": "the version (or ETag) the update expects; `*` or absent: the current one",
                            "schema": {"type": "string", "pattern": IF_MATCH_PATTERN}},
                "idempotencyKey": {"name": "Idempotency-Key", "in": "header",
                                   "description": "replays the first response for 24 h",
                                   "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}}
            },
            "responses": responses,
            "schemas": schemas
        }
    })
}

/// The schemas of what the API answers (request bodies come from `input_schema`).
fn output_schemas() -> Vec<(&'static str, Value)> {
    let version = json!({"type": "integer", "minimum": 1, "description": "bumped by every update (optimistic concurrency: If-Match / ETag)"});
    let money = json!({"type": "integer", "minimum": 1, "maximum": 10_000_000_000_000_i64, "description": "integer minor units"});
    vec![
        (
            "Error",
            json!({
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string", "examples": ["validation_failed"]},
                            "message": s(),
                            "details": {"description": "e.g. `{\"fields\": {\"name\": \"is required\"}}`"}
                        }
                    }
                }
            }),
        ),
        (
            "Health",
            json!({
                "type": "object",
                "properties": {
                    "status": s(),
                    "service": s(),
                    "d1": boolean(),
                    "time": dt()
                }
            }),
        ),
        (
            "Customer",
            json!({
                "type": "object",
                "required": ["id", "name", "status", "assigned_to", "created_by", "created_at", "updated_at", "version"],
                "properties": {
                    "id": s(),
                    "name": {"type": "string", "maxLength": 200},
                    "email": {"type": ["string", "null"], "format": "email"},
                    "phone": ns(),
                    "status": st(CustomerStatus::ALL),
                    "source": ns(),
                    "notes": ns(),
                    "assigned_to": {"type": "string", "description": "the user who owns the lead (a broker or admin); the creator at first"},
                    "created_by": s(),
                    "created_at": dt(),
                    "updated_at": dt(),
                    "version": version.clone()
                }
            }),
        ),
        (
            "Interaction",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "customer_id": s(),
                    "type": en(&["call", "email", "meeting", "sms", "viewing", "note"]),
                    "summary": s(),
                    "occurred_at": dt(),
                    "created_by": s(),
                    "created_at": dt()
                }
            }),
        ),
        (
            "Followup",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "customer_id": s(),
                    "assigned_to": s(),
                    "due_at": dt(),
                    "note": ns(),
                    "status": st(FollowupStatus::ALL),
                    "created_by": s(),
                    "created_at": dt(),
                    "updated_at": dt(),
                    "version": version.clone()
                }
            }),
        ),
        (
            "Appointment",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "title": s(),
                    "assigned_to": s(),
                    "starts_at": s(),
                    "ends_at": s(),
                    "status": s(),
                    "created_by": s(),
                    "created_at": s(),
                    "updated_at": s(),
                    "customer_id": ns(),
                    "location": ns(),
                    "notes": ns(),
                    "outcome": ns()
                }
            }),
        ),
        (
            "PublicCard",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "slug": s(),
                    "display_name": s(),
                    "title": ns(),
                    "phone": ns(),
                    "email": ns(),
                    "bio": ns(),
                    "scans": int()
                }
            }),
        ),
        (
            "Card",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "slug": s(),
                    "owner_id": s(),
                    "display_name": s(),
                    "created_at": s(),
                    "updated_at": s(),
                    "title": ns(),
                    "phone": ns(),
                    "email": ns(),
                    "bio": ns(),
                    "scans": int()
                }
            }),
        ),
        (
            "TenantSettings",
            json!({
                "type": "object",
                "properties": {
                    "name": s(),
                    "timezone": s(),
                    "currency": s(),
                    "commission_default_bps": int(),
                    "commission_max_bps": ni(),
                    "publishing_platforms": strings(),
                    "cors_origins": strings(),
                    "updated_by": ns(),
                    "updated_at": ns()
                }
            }),
        ),
        (
            "Invitation",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "email": s(),
                    "role": {"type": "string", "enum": ["admin", "broker", "viewer"]},
                    "invited_by": s(),
                    "created_at": s(),
                    "expires_at": s()
                }
            }),
        ),
        (
            "TokenPair",
            json!({
                "type": "object",
                "required": ["access_token", "token_type", "expires_in", "refresh_token"],
                "properties": {
                    "access_token": s(),
                    "token_type": {"const": "Bearer"},
                    "expires_in": {"type": "integer", "examples": [900]},
                    "refresh_token": s()
                }
            }),
        ),
        (
            "User",
            json!({
                "type": "object",
                "required": ["id", "email", "name", "role", "created_at", "updated_at", "version"],
                "properties": {
                    "id": s(),
                    "email": {"type": "string", "format": "email"},
                    "name": s(),
                    "role": en(&["admin", "broker", "viewer"]),
                    "created_at": dt(),
                    "updated_at": dt(),
                    "version": version.clone()
                }
            }),
        ),
        (
            "BlockedIp",
            json!({
                "type": "object",
                "properties": {
                    "ip": s(),
                    "reason": ns(),
                    "created_by": s(),
                    "expires_ms": ni()
                }
            }),
        ),
        (
            "AuditEntry",
            json!({
                "type": "object",
                "required": ["id", "at", "actor", "action", "entity", "changes"],
                "properties": {
                    "id": s(),
                    "at": dt(),
                    "actor": s(),
                    "action": s(),
                    "entity": ns(),
                    "changes": {"type": ["object", "array", "null"]}
                }
            }),
        ),
        (
            "Notification",
            json!({
                "type": "object",
                "required": ["id", "event_id", "type", "data", "created_at", "read", "read_at"],
                "properties": {
                    "id": s(),
                    "event_id": s(),
                    "type": s(),
                    "data": obj(),
                    "created_at": dt(),
                    "read": boolean(),
                    "read_at": {"type": ["string", "null"], "format": "date-time"}
                }
            }),
        ),
        (
            "Job",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "queue": s(),
                    "kind": s(),
                    "status": st(JobStatus::ALL),
                    "attempts": int(),
                    "max_attempts": int(),
                    "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                    "payload": obj(),
                    "result": {"type": ["object", "null"]},
                    "last_error": ns(),
                    "subject": ns(),
                    "created_by": s(),
                    "created_at": dt(),
                    "updated_at": dt(),
                    "started_at": ns(),
                    "finished_at": ns()
                }
            }),
        ),
        (
            "Dashboard",
            json!({
                "type": "object",
                "properties": {
                    "customers": obj(),
                    "jobs": obj(),
                    "sales": obj(),
                    "commissions": obj(),
                    "as_of": dt()
                }
            }),
        ),
        (
            "SentMessage",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "job_id": s(),
                    "channel": s(),
                    "recipient": s(),
                    "subject": s(),
                    "body": s(),
                    "created_at": s()
                }
            }),
        ),
        (
            "Event",
            json!({
                "type": "object",
                "required": ["seq", "id", "type", "channels", "data", "ts"],
                "properties": {
                    "seq": {"type": "integer", "minimum": 1},
                    "id": s(),
                    "type": {"type": "string", "examples": ["crm:customer:created"]},
                    "channels": strings(),
                    "data": obj(),
                    "ts": dt()
                }
            }),
        ),
        (
            "EventPage",
            json!({
                "type": "object",
                "properties": {
                    "data": {"type": "array", "items": r("Event")},
                    "head": int(),
                    "oldest": ni(),
                    "epoch": s(),
                    "recovered": boolean(),
                    "next_since": int()
                }
            }),
        ),
        (
            "Published",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "type": s(),
                    "channels": strings(),
                    "seq": ni()
                }
            }),
        ),
        (
            "Room",
            json!({
                "type": "object",
                "properties": {
                    "name": s(),
                    "public": boolean(),
                    "created_by": s(),
                    "created_at": dt()
                }
            }),
        ),
        (
            "Listing",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "property_id": s(),
                    "title": s(),
                    "description": ns(),
                    "price_minor": int(),
                    "currency": s(),
                    "city": ns(),
                    "kind": ns(),
                    "bedrooms": ni(),
                    "platforms": strings(),
                    "status": st(ListingStatus::ALL),
                    "publications": {"type": "array", "items": {
                        "type": "object",
                        "properties": {
                            "platform": s(),
                            "status": st(PublicationStatus::ALL),
                            "job_id": ns(),
                            "external_id": ns(),
                            "url": ns(),
                            "attempts": int(),
                            "last_error": ns(),
                            "published_at": ns(),
                            "updated_at": s()
                        }
                    }},
                    "created_by": s(),
                    "created_at": s(),
                    "updated_at": s(),
                    "published_at": ns()
                }
            }),
        ),
        (
            "Photo",
            json!({
                "type": "object",
                "required": ["id", "property_id", "url", "content_type", "bytes"],
                "properties": {
                    "id": s(),
                    "property_id": s(),
                    "url": {"type": "string", "description": "absolute: GET /api/photos/{id} on the origin it was uploaded through"},
                    "content_type": en(crate::domain::photo::CONTENT_TYPES),
                    "bytes": {"type": "integer", "minimum": 1, "maximum": crate::domain::photo::MAX_BYTES},
                    "width": ni(),
                    "height": ni(),
                    "created_by": s(),
                    "created_at": dt()
                }
            }),
        ),
        (
            "Schedule",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "listing_id": s(),
                    "platforms": strings(),
                    "run_at": s(),
                    "status": st(ScheduleStatus::ALL),
                    "job_ids": strings(),
                    "created_by": s(),
                    "created_at": s(),
                    "started_at": ns()
                }
            }),
        ),
        (
            "Report",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "kind": s(),
                    "format": en(&["csv", "json"]),
                    "from": s(),
                    "to": s(),
                    "status": st(ReportStatus::ALL),
                    "job_id": s(),
                    "size_bytes": ni(),
                    "row_count": ni(),
                    "totals": {"type": ["object", "null"]},
                    "error": ns(),
                    "download_url": ns(),
                    "created_by": s(),
                    "created_at": s(),
                    "finished_at": ns()
                }
            }),
        ),
        (
            "Owner",
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 200},
                    "email": {"type": ["string", "null"], "format": "email"},
                    "phone": ns(),
                    "notes": {"type": ["string", "null"], "maxLength": 2000},
                    "id": s(),
                    "created_by": s(),
                    "created_at": s(),
                    "updated_at": s()
                }
            }),
        ),
        (
            "Property",
            json!({
                "type": "object",
                "properties": {
                    "owner_id": ns(),
                    "title": {"type": "string", "maxLength": 200},
                    "kind": en(&["apartment", "house", "villa", "land", "office", "commercial"]),
                    "listing": en(&["sale", "rent"]),
                    "price_minor": money.clone(),
                    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    "bedrooms": {"type": "integer", "minimum": 0, "maximum": 50},
                    "bathrooms": ni(),
                    "area_sqm": ni(),
                    "city": {"type": "string", "maxLength": 100},
                    "district": ns(),
                    "address": ns(),
                    "description": ns(),
                    "status": st(PropertyStatus::ALL),
                    "id": s(),
                    "created_by": s(),
                    "created_at": s(),
                    "updated_at": s()
                }
            }),
        ),
        (
            "Seeker",
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 200},
                    "email": ns(),
                    "phone": ns(),
                    "customer_id": ns(),
                    "budget_min_minor": ni(),
                    "budget_max_minor": money.clone(),
                    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    "cities": {"type": "array", "items": s(), "maxItems": 20},
                    "kinds": {"type": "array", "items": s(), "maxItems": 6},
                    "listing": en(&["sale", "rent"]),
                    "bedrooms_min": ni(),
                    "notes": ns(),
                    "active": boolean(),
                    "id": s(),
                    "created_by": s(),
                    "created_at": s(),
                    "updated_at": s()
                }
            }),
        ),
        (
            "Match",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "status": st(MatchStatus::ALL),
                    "seeker_id": s(),
                    "property_id": s(),
                    "score": {"type": "integer", "minimum": 0, "maximum": 100},
                    "reasons": strings(),
                    "job_id": s(),
                    "created_at": s(),
                    "decided_by": ns(),
                    "decided_at": ns()
                }
            }),
        ),
        (
            "Commission",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "sale_id": s(),
                    "broker_id": s(),
                    "amount_minor": int(),
                    "currency": s(),
                    "rate_bps": int(),
                    "status": st(CommissionStatus::ALL),
                    "approved_by": ns(),
                    "approved_at": ns(),
                    "paid_by": ns(),
                    "paid_at": ns(),
                    "created_at": s(),
                    "updated_at": s()
                }
            }),
        ),
        (
            "Sale",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "customer_id": s(),
                    "property_id": ns(),
                    "broker_id": s(),
                    "total_minor": int(),
                    "paid_minor": int(),
                    "balance_minor": int(),
                    "currency": s(),
                    "commission_rate_bps": int(),
                    "status": st(SaleStatus::ALL),
                    "sold_at": s(),
                    "notes": ns(),
                    "created_by": s(),
                    "created_at": s(),
                    "updated_at": s(),
                    "commission": {"oneOf": [r("Commission"), {"type": "null"}]}
                }
            }),
        ),
        (
            "FinanceSettings",
            json!({
                "type": "object",
                "properties": {
                    "broker_rate_override_max_bps": ni(),
                    "updated_by": ns(),
                    "updated_at": ns()
                }
            }),
        ),
        (
            "Payment",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "sale_id": s(),
                    "amount_minor": int(),
                    "currency": s(),
                    "method": s(),
                    "reference": ns(),
                    "received_at": s(),
                    "created_by": s(),
                    "created_at": s(),
                    "refunded_minor": int(),
                    "sale_balance_minor": int(),
                    "sale_status": s()
                }
            }),
        ),
        (
            "Refund",
            json!({
                "type": "object",
                "properties": {
                    "id": s(),
                    "payment_id": s(),
                    "sale_id": s(),
                    "amount_minor": int(),
                    "currency": s(),
                    "reason": s(),
                    "created_by": s(),
                    "created_at": s(),
                    "payment_refunded_minor": int(),
                    "sale_balance_minor": int(),
                    "sale_status": st(SaleStatus::ALL)
                }
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed documents are the generated one: the served copy minified, the one in
    /// docs/ indented. `PULSE_WRITE_OPENAPI=1 cargo test --lib openapi` rewrites both.
    #[test]
    fn openapi_files_are_current() {
        pulse_core::assert_generated_files(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
            &document(),
            ("static/openapi.json", "docs/openapi.json"),
            "PULSE_WRITE_OPENAPI",
            "PULSE_WRITE_OPENAPI=1 cargo test --lib openapi",
        );
    }

    #[test]
    fn operation_ids_are_unique() {
        let mut seen = BTreeSet::new();
        for ep in ENDPOINTS {
            let id = (ep.doc)().id;
            assert!(seen.insert(id), "operationId {id} is used twice");
        }
    }

    /// Every `:param` of a path is a parameter of its operation, and nothing else is.
    #[test]
    fn path_params_are_documented() {
        let doc = document();
        for ep in ENDPOINTS {
            let op = &doc["paths"][openapi_path(ep.path)][ep.method.to_ascii_lowercase()];
            let documented: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p["$ref"].as_str() {
                    Some(r) => {
                        doc["components"]["parameters"][r.rsplit('/').next().unwrap()].clone()
                    }
                    None => p.clone(),
                })
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                documented,
                path_params(ep.path),
                "{} {}: path parameters",
                ep.method,
                ep.path
            );
        }
    }

    /// Every response and schema reference resolves, and the document is 3.1.
    #[test]
    fn references_resolve() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        fn walk(v: &Value, doc: &Value) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        let mut at = doc;
                        for part in r.trim_start_matches("#/").split('/') {
                            at = &at[part];
                        }
                        assert!(!at.is_null(), "unresolved {r}");
                    }
                    m.values().for_each(|x| walk(x, doc));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, doc)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }
}
