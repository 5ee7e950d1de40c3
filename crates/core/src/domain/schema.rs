//! Declared request bodies (pure): one declaration per body (`Shape`: its fields' kinds and
//! limits, and its cross-field rules as sentences) from which come both the validation
//! (`check`) and the JSON Schema the OpenAPI document publishes (`json_schema`), so the two
//! cannot drift; and the record-style resources (`Spec`) that `api::records` serves.

use super::error::{ApiResult, FieldErrors};
use super::time;
use serde_json::{Map, Value};

/// The largest amount of money accepted (10^13 minor units).
pub const MAX_MINOR: i64 = 10_000_000_000_000;
pub const EMAIL_MAX: usize = 254;
pub const PHONE_MAX: usize = 32;
/// Integers are read up to 2^53 - 1 (exact in every JSON parser, also as `5.0`).
pub const MAX_SAFE_INT: i64 = 9_007_199_254_740_991;

/// What a field holds. Lengths count characters (Unicode scalar values) of the string as
/// sent, surrounding whitespace included; "trimmed" kinds then drop that whitespace.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Trimmed text of at most `max` characters with a non-whitespace character.
    Text(usize),
    /// A string as sent (not trimmed) of `min` to `max` characters.
    Str(usize, usize),
    /// An email address: one `@`, a dotted domain, no whitespace or control characters
    /// (trimmed; at most 254 characters).
    Email,
    /// A phone number: 5 to 20 digits among `+ - . ( )` and spaces (trimmed; at most 32).
    Phone,
    /// An integer in `[min, max]` (`5.0` reads as 5).
    Int(i64, i64),
    /// Integer minor units, 1 to 10^13.
    Money,
    /// An ISO 4217 code (three capital letters).
    Currency,
    /// One of these strings, exactly.
    Enum(&'static [&'static str]),
    /// The id of a row of this table (its existence in the tenant is checked when writing).
    Ref(&'static str),
    /// A string of a fixed grammar.
    Pattern(&'static Pattern),
    /// An RFC 3339 date-time (`T`, no leap second), normalised to UTC milliseconds `…Z`.
    DateTime,
    /// A list of `min` to `max` items of a kind; repeated items count once.
    List(&'static Kind, usize, usize),
    Bool,
    /// A JSON object, any content.
    Object,
    /// An IPv4 or IPv6 address (trimmed), normalised to its canonical text.
    Ip,
}

/// A string grammar: the check the validator runs and the same grammar as an ECMA-262
/// regex for the document (the unit tests hold the two equal).
#[derive(Debug)]
pub struct Pattern {
    pub test: fn(&str) -> bool,
    /// Anchored regex (`^…$`) over ASCII classes only.
    pub regex: &'static str,
    /// A bound the regex leaves to `maxLength`.
    pub max_len: Option<usize>,
    pub problem: &'static str,
    pub example: &'static str,
}

/// One field of a body.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// On create: the field must be present.
    pub required: bool,
    /// `null` is accepted (absent on create, cleared on a patch).
    pub nullable: bool,
    /// A blank string (whitespace only) reads as `null`.
    pub blank_null: bool,
    /// The value when absent on create (JSON text), e.g. `"\"available\""`, `"true"`, `"[]"`.
    pub default: Option<&'static str>,
    /// Not a change of its own (`version`): does not count for "at least one field".
    pub meta: bool,
}

/// A required field (`null` is refused).
pub const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
        nullable: false,
        blank_null: false,
        default: None,
        meta: false,
    }
}

/// An optional field; `null` is accepted (absent on create, cleared on a patch).
pub const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        required: false,
        nullable: true,
        ..req(name, kind)
    }
}

/// An optional field with a default; `null` on create means the default, and a patch
/// cannot clear it.
pub const fn dflt(name: &'static str, kind: Kind, default: &'static str) -> Field {
    Field {
        default: Some(default),
        ..opt(name, kind)
    }
}

/// The optimistic-concurrency `version` a versioned patch may carry (`domain::version`
/// takes it out of the body before the field checks).
pub const VERSION: Field = Field {
    meta: true,
    nullable: false,
    ..opt("version", Kind::Int(1, MAX_SAFE_INT))
};

impl Field {
    /// `null` is refused (the field may still be left out).
    pub const fn not_null(self) -> Field {
        Field {
            nullable: false,
            ..self
        }
    }
    /// Present but possibly `null`.
    pub const fn or_null(self) -> Field {
        Field {
            nullable: true,
            ..self
        }
    }
    /// A blank string is `null` (so `""` clears the field).
    pub const fn blank_is_null(self) -> Field {
        Field {
            nullable: true,
            blank_null: true,
            ..self
        }
    }
    /// Whether `null` is accepted in this mode.
    pub fn nullable_in(&self, mode: Mode) -> bool {
        match mode {
            Mode::Create => self.nullable,
            Mode::Patch => self.nullable && !self.required && self.default.is_none(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Required fields must be present; defaults fill absent ones.
    Create,
    /// Every field optional, at least one (not `meta`) given.
    Patch,
}

/// A rule checked by hand beyond the fields: the sentence the document states, and the
/// fields a refusal under it names in `details.fields` (none: a statement that refuses
/// nothing). The document lists the pairs as the operation's `x-rules`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub fields: &'static [&'static str],
    pub text: &'static str,
}

pub const fn rule(fields: &'static [&'static str], text: &'static str) -> Rule {
    Rule { fields, text }
}

/// A request body: its component name in the OpenAPI document, fields, and the rules
/// checked by hand beyond the fields.
#[derive(Debug)]
pub struct Shape {
    pub name: &'static str,
    pub mode: Mode,
    pub fields: &'static [Field],
    /// Unknown fields are refused (otherwise ignored).
    pub closed: bool,
    pub rules: &'static [Rule],
}

impl Shape {
    pub const fn create(
        name: &'static str,
        fields: &'static [Field],
        rules: &'static [Rule],
    ) -> Shape {
        Shape {
            name,
            mode: Mode::Create,
            fields,
            closed: true,
            rules,
        }
    }
    pub const fn patch(
        name: &'static str,
        fields: &'static [Field],
        rules: &'static [Rule],
    ) -> Shape {
        Shape {
            mode: Mode::Patch,
            ..Shape::create(name, fields, rules)
        }
    }
    /// The names of the fields a body may change (not `version`): what an update event's
    /// `changes` compares.
    pub fn editable(&self) -> Vec<&'static str> {
        self.fields
            .iter()
            .filter(|f| !f.meta)
            .map(|f| f.name)
            .collect()
    }
    /// Unknown fields are ignored rather than refused.
    pub const fn open(self) -> Shape {
        Shape {
            closed: false,
            ..self
        }
    }
}

/// The checked, normalised values of a body: present fields (`null` when given as null or
/// blank-as-null) and, on create, defaults of absent ones.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Values(pub Map<String, Value>);

impl Values {
    pub fn has(&self, f: &str) -> bool {
        self.0.contains_key(f)
    }
    pub fn get(&self, f: &str) -> Option<&Value> {
        self.0.get(f)
    }
    /// A given, non-null string.
    pub fn str(&self, f: &str) -> Option<String> {
        self.0.get(f).and_then(Value::as_str).map(String::from)
    }
    /// `None`: not given; `Some(None)`: given as null (or blank).
    pub fn opt_str(&self, f: &str) -> Option<Option<String>> {
        self.0.get(f).map(|v| v.as_str().map(String::from))
    }
    pub fn int(&self, f: &str) -> Option<i64> {
        self.0.get(f).and_then(Value::as_i64)
    }
    pub fn bool(&self, f: &str) -> Option<bool> {
        self.0.get(f).and_then(Value::as_bool)
    }
    pub fn strings(&self, f: &str) -> Option<Vec<String>> {
        self.0.get(f).and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
    }
    /// A `DateTime` field as epoch milliseconds.
    pub fn ms(&self, f: &str) -> Option<i64> {
        self.0
            .get(f)
            .and_then(Value::as_str)
            .and_then(time::parse_rfc3339)
    }
}

/// Checks `body` against `shape`: the values of the fields that passed, and every problem
/// found (`body`, unknown fields, then each field in declaration order).
pub fn check(shape: &Shape, body: &Value) -> (Values, FieldErrors) {
    let mut errs = FieldErrors::default();
    let mut out = Map::new();
    let Some(o) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return (Values(out), errs);
    };
    if shape.closed {
        for k in o
            .keys()
            .filter(|k| !shape.fields.iter().any(|f| f.name == k.as_str()))
        {
            errs.add(k, "is not a known field");
        }
    }
    if shape.mode == Mode::Patch
        && !shape
            .fields
            .iter()
            .any(|f| !f.meta && o.contains_key(f.name))
    {
        let names: Vec<&str> = shape
            .fields
            .iter()
            .filter(|f| !f.meta)
            .map(|f| f.name)
            .collect();
        errs.add(
            "body",
            format!("give at least one of: {}", names.join(", ")),
        );
    }
    let create = shape.mode == Mode::Create;
    let default = |f: &Field| {
        f.default
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null)
    };
    for f in shape.fields {
        let Some(v) = o.get(f.name) else {
            if create && f.required {
                errs.add(f.name, "is required");
            } else if create && f.default.is_some() {
                out.insert(f.name.to_string(), default(f));
            }
            continue;
        };
        match value(&f.kind, v, f.blank_null) {
            Ok(Some(v)) => {
                out.insert(f.name.to_string(), v);
            }
            Err(problem) => errs.add(f.name, problem),
            Ok(None) if f.nullable_in(shape.mode) => {
                let v = if create { default(f) } else { Value::Null };
                out.insert(f.name.to_string(), v);
            }
            Ok(None) if create && f.required => errs.add(f.name, "is required"),
            Ok(None) if !create && (f.required || f.default.is_some()) => {
                errs.add(f.name, "cannot be cleared")
            }
            Ok(None) => errs.add(f.name, type_problem(&f.kind)),
        }
    }
    (Values(out), errs)
}

/// `check`, failing with the 422 when any field is wrong.
pub fn validate(shape: &Shape, body: &Value) -> ApiResult<Values> {
    let (v, errs) = check(shape, body);
    errs.into_result()?;
    Ok(v)
}

/// An integer, also written as `5.0` or `5e0` (JSON Schema's `integer`), up to 2^53.
pub fn int_value(v: &Value) -> Option<i64> {
    if let Some(n) = v.as_i64() {
        return Some(n);
    }
    let f = v.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
}

fn type_problem(kind: &Kind) -> String {
    match kind {
        Kind::Text(_) | Kind::Str(..) | Kind::Email | Kind::Phone => "must be a string".into(),
        Kind::Int(min, max) => format!("must be an integer from {min} to {max}"),
        Kind::Money => "must be an integer of minor units from 1 to 10^13".into(),
        Kind::Currency => "must be an ISO 4217 code such as EUR".into(),
        Kind::Enum(values) => format!("must be one of: {}", values.join(", ")),
        Kind::Ref(_) => "must be an id".into(),
        Kind::Pattern(p) => p.problem.into(),
        Kind::DateTime => "must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z".into(),
        Kind::List(_, min, max) => format!("must be a list of {min} to {max} items"),
        Kind::Bool => "must be true or false".into(),
        Kind::Object => "must be a JSON object".into(),
        Kind::Ip => "must be an IPv4 or IPv6 address".into(),
    }
}

/// One value: `Ok(None)` for null (or a blank string where blank means null).
fn value(kind: &Kind, v: &Value, blank_null: bool) -> Result<Option<Value>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let bad = || Err(type_problem(kind));
    let s = v.as_str();
    let string = |s: &str| Ok(Some(Value::String(s.to_string())));
    match *kind {
        Kind::Text(_) | Kind::Email | Kind::Phone => {
            let Some(s) = s else { return bad() };
            let max = match *kind {
                Kind::Text(max) => max,
                Kind::Email => EMAIL_MAX,
                _ => PHONE_MAX,
            };
            if s.chars().count() > max {
                return Err(format!("must be at most {max} characters"));
            }
            let t = s.trim();
            match *kind {
                _ if t.is_empty() && blank_null => Ok(None),
                Kind::Text(_) if t.is_empty() => Err("must not be empty".into()),
                Kind::Email if !valid_email(t) => Err("is not a valid email address".into()),
                Kind::Phone if !valid_phone(t) => Err("is not a valid phone number".into()),
                _ => string(t),
            }
        }
        Kind::Str(min, max) => {
            let Some(s) = s else { return bad() };
            match s.chars().count() {
                0 if min > 0 => Err("must not be empty".into()),
                n if n < min => Err(format!("must be at least {min} characters")),
                n if n > max => Err(format!("must be at most {max} characters")),
                _ => string(s),
            }
        }
        Kind::Int(min, max) => match int_value(v) {
            Some(n) if (min..=max).contains(&n) => Ok(Some(Value::from(n))),
            _ => bad(),
        },
        Kind::Money => match int_value(v) {
            Some(n) if (1..=MAX_MINOR).contains(&n) => Ok(Some(Value::from(n))),
            _ => bad(),
        },
        Kind::Currency => match s {
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) => string(c),
            _ => bad(),
        },
        Kind::Enum(values) => match s {
            Some(x) if values.contains(&x) => string(x),
            _ => bad(),
        },
        Kind::Ref(_) => match s {
            Some(x) if super::auth::valid_user_id(x) => string(x),
            _ => bad(),
        },
        Kind::Pattern(p) => match s {
            Some(x) if (p.test)(x) => string(x),
            _ => bad(),
        },
        Kind::DateTime => match s.and_then(time::parse_strict) {
            Some(ms) => Ok(Some(Value::String(time::format_ms(ms)))),
            None => bad(),
        },
        Kind::List(item, min, max) => {
            let Some(a) = v.as_array().filter(|a| (min..=max).contains(&a.len())) else {
                return bad();
            };
            let mut out: Vec<Value> = Vec::with_capacity(a.len());
            for x in a {
                match value(item, x, false) {
                    Ok(Some(x)) => {
                        if !out.contains(&x) {
                            out.push(x);
                        }
                    }
                    Ok(None) => return Err(format!("each item {}", type_problem(item))),
                    Err(p) => return Err(format!("each item {p}")),
                }
            }
            Ok(Some(Value::Array(out)))
        }
        Kind::Bool => v
            .as_bool()
            .map(|b| Some(Value::Bool(b)))
            .ok_or_else(|| type_problem(kind)),
        Kind::Object if v.is_object() => Ok(Some(v.clone())),
        Kind::Object => bad(),
        Kind::Ip if blank_null && s.is_some_and(|s| s.trim().is_empty()) => Ok(None),
        Kind::Ip => match s.and_then(canonical_ip) {
            Some(ip) => Ok(Some(Value::String(ip))),
            None => bad(),
        },
    }
}

/// One `@`, a non-empty local part, a domain with an inner dot, no whitespace or control
/// characters.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// 5 to 20 digits among `+ - . ( )` and spaces.
pub fn valid_phone(s: &str) -> bool {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    (5..=20).contains(&digits)
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.'))
}

/// The canonical text of an IP address (surrounding whitespace ignored), or None.
pub fn canonical_ip(s: &str) -> Option<String> {
    s.trim()
        .parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

// ---- Record-style resources -------------------------------------------------------------

/// A list filter: `?param=` compared with `column` (`=`, `>=` or `<=`).
#[derive(Debug, Clone, Copy)]
pub struct Filter {
    pub param: &'static str,
    pub column: &'static str,
    pub op: &'static str,
    pub int: bool,
}

/// Everything `api::records` needs to serve one resource.
pub struct Spec {
    /// Singular name in errors, events and entity channels (`property`).
    pub name: &'static str,
    pub table: &'static str,
    pub id_prefix: &'static str,
    /// Event names: `<events>:added|updated|deleted`.
    pub events: &'static str,
    pub fields: &'static [Field],
    /// The create and patch bodies (over `fields`).
    pub input: &'static Shape,
    pub patch: &'static Shape,
    pub filters: &'static [Filter],
    /// Cross-field rules over the merged record (after a patch, too); stated in the shapes'
    /// `rules`.
    pub check: fn(&Map<String, Value>, &mut FieldErrors),
}

pub fn no_check(_: &Map<String, Value>, _: &mut FieldErrors) {}

/// A create body → every column's value (absent optionals `null`, defaults applied).
pub fn validate_create(spec: &Spec, body: &Value) -> ApiResult<Map<String, Value>> {
    let (Values(mut out), mut errs) = check(spec.input, body);
    if errs.is_empty() {
        for f in spec.fields {
            out.entry(f.name).or_insert(Value::Null);
        }
        (spec.check)(&out, &mut errs);
    }
    errs.into_result()?;
    Ok(out)
}

/// A patch body → the changed columns (`null` clears an optional field). `current` is the
/// stored record, for the cross-field rules over the result.
pub fn validate_patch(
    spec: &Spec,
    body: &Value,
    current: &Map<String, Value>,
) -> ApiResult<Map<String, Value>> {
    let (Values(out), mut errs) = check(spec.patch, body);
    if errs.is_empty() {
        let mut merged = current.clone();
        merged.extend(out.clone());
        (spec.check)(&merged, &mut errs);
    }
    errs.into_result()?;
    Ok(out)
}

// ---- JSON Schema (native tools and tests only) ------------------------------------------

/// The characters `str::trim` removes (Unicode White_Space), as a regex class body.
#[cfg(not(target_arch = "wasm32"))]
pub const WS_CLASS: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Whitespace or control characters (what an email address may not hold), besides `@`.
#[cfg(not(target_arch = "wasm32"))]
const EMAIL_EXCLUDED: &str =
    r"@\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The JSON Schema (2020-12, as OpenAPI 3.1 uses) of a body, exactly as strict as `check`:
/// a value it accepts passes `check`, a value it refuses fails it. The hand-written rules
/// are stated in `description`.
#[cfg(not(target_arch = "wasm32"))]
pub fn json_schema(shape: &Shape) -> Value {
    use serde_json::json;
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in shape.fields {
        props.insert(f.name.to_string(), field_schema(f, shape.mode));
        if shape.mode == Mode::Create && f.required {
            required.push(json!(f.name));
        }
    }
    let mut s = Map::new();
    s.insert("type".into(), json!("object"));
    if !required.is_empty() {
        s.insert("required".into(), Value::Array(required));
    }
    s.insert("properties".into(), Value::Object(props));
    if shape.closed {
        s.insert("additionalProperties".into(), json!(false));
    }
    let mut desc = Vec::new();
    if shape.mode == Mode::Patch {
        desc.push(
            "A partial update: the fields given change, null clears an optional field; give at \
             least one field."
                .to_string(),
        );
        let any: Vec<Value> = shape
            .fields
            .iter()
            .filter(|f| !f.meta)
            .map(|f| json!({ "required": [f.name] }))
            .collect();
        s.insert("anyOf".into(), Value::Array(any));
    }
    if !shape.rules.is_empty() {
        let texts: Vec<&str> = shape.rules.iter().map(|r| r.text).collect();
        desc.push(format!("Also checked: {}", texts.join(" ")));
    }
    if !desc.is_empty() {
        s.insert("description".into(), json!(desc.join(" ")));
    }
    Value::Object(s)
}

#[cfg(not(target_arch = "wasm32"))]
fn field_schema(f: &Field, mode: Mode) -> Value {
    let mut s = kind_schema(&f.kind, f.blank_null);
    if f.nullable_in(mode) {
        if let Some(Value::String(t)) = s.get("type").cloned() {
            s.insert("type".into(), serde_json::json!([t, "null"]));
        }
        if let Some(Value::Array(e)) = s.get_mut("enum") {
            e.push(Value::Null);
        }
    }
    if mode == Mode::Create {
        if let Some(d) = f
            .default
            .and_then(|d| serde_json::from_str::<Value>(d).ok())
        {
            s.insert("default".into(), d);
        }
    }
    let mut notes: Vec<String> = s
        .remove("description")
        .and_then(|d| d.as_str().map(String::from))
        .into_iter()
        .collect();
    if f.blank_null {
        notes.push("a blank string counts as null".into());
    }
    if f.meta {
        notes.push(
            "the version you read: the update applies only to that version (409 `conflict` \
             otherwise); leave it (and If-Match) out to apply to the current one"
                .into(),
        );
    }
    if !notes.is_empty() {
        s.insert("description".into(), Value::String(notes.join("; ")));
    }
    Value::Object(s)
}

#[cfg(not(target_arch = "wasm32"))]
fn kind_schema(kind: &Kind, blank_null: bool) -> Map<String, Value> {
    use serde_json::json;
    let ws = WS_CLASS;
    // Trimmed kinds: whitespace around the grammar; a blank string too where it means null.
    let trimmed = |core: &str| {
        let opt = if blank_null { "?" } else { "" };
        format!("^[{ws}]*(?:{core}){opt}[{ws}]*$")
    };
    let v = match *kind {
        Kind::Text(max) if blank_null => json!({"type": "string", "maxLength": max}),
        Kind::Text(max) => json!({"type": "string", "minLength": 1, "maxLength": max,
                                  "pattern": format!("[^{ws}]")}),
        Kind::Str(0, max) => json!({"type": "string", "maxLength": max}),
        Kind::Str(min, max) => json!({"type": "string", "minLength": min, "maxLength": max}),
        Kind::Email => {
            let (c, d) = (
                format!("[^{EMAIL_EXCLUDED}]"),
                format!("[^.{EMAIL_EXCLUDED}]"),
            );
            json!({"type": "string", "maxLength": EMAIL_MAX,
                   "pattern": trimmed(&format!(r"{c}+@{d}{c}*\.{c}*{d}"))})
        }
        Kind::Phone => json!({"type": "string", "maxLength": PHONE_MAX,
            "pattern": trimmed(r"[+. ()-]*(?:[0-9][+. ()-]*){5,20}")}),
        Kind::Int(min, max) => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::Money => json!({"type": "integer", "minimum": 1, "maximum": MAX_MINOR,
                              "description": "integer minor units"}),
        Kind::Currency => json!({"type": "string", "pattern": "^[A-Z]{3}$",
                                 "description": "ISO 4217"}),
        Kind::Enum(values) => json!({"type": "string", "enum": values}),
        Kind::Ref(table) => json!({"type": "string", "pattern": ID_PATTERN,
            "description": format!("the id of one of the tenant's {table}")}),
        Kind::Pattern(p) => {
            let mut s = json!({"type": "string", "pattern": p.regex, "examples": [p.example]});
            if let Some(m) = p.max_len {
                s["maxLength"] = json!(m);
            }
            s
        }
        Kind::DateTime => json!({"type": "string", "format": "date-time", "maxLength": 40,
            "pattern": DATE_TIME_PATTERN,
            "description": "RFC 3339 with `T`, seconds and an offset; answered in UTC"}),
        Kind::List(item, min, max) => {
            let mut s = json!({"type": "array", "items": Value::Object(kind_schema(item, false)),
                               "maxItems": max});
            if min > 0 {
                s["minItems"] = json!(min);
            }
            s
        }
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Object => json!({"type": "object"}),
        Kind::Ip => json!({"type": "string", "pattern": trimmed(&ip_regex()),
                           "description": "IPv4 or IPv6"}),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// An example body of `shape`, for the document (what "Try it out" starts from): on create
/// every required field and the optional ones that name no other row; on a patch the first
/// two plain fields. Values come from the field's kind, with a realistic value for the
/// common field names. A unit test holds every example valid under `check`.
#[cfg(not(target_arch = "wasm32"))]
pub fn example(shape: &Shape) -> Value {
    let plain = |f: &&Field| !f.meta && !matches!(f.kind, Kind::Ref(_));
    let fields: Vec<&Field> = match shape.mode {
        Mode::Create => shape
            .fields
            .iter()
            .filter(|f| f.required || plain(f))
            .collect(),
        Mode::Patch => shape.fields.iter().filter(plain).take(2).collect(),
    };
    Value::Object(
        fields
            .into_iter()
            .map(|f| (f.name.to_string(), example_value(f.name, &f.kind)))
            .collect(),
    )
}

#[cfg(not(target_arch = "wasm32"))]
fn example_value(name: &str, kind: &Kind) -> Value {
    use serde_json::json;
    let text = |fallback: &str| -> Value {
        json!(match name {
            "name" | "display_name" => "Ana García",
            "title" => "First viewing",
            "bio" => "Broker in Madrid since 2015.",
            "notes" | "note" => "Prefers mornings.",
            "description" => "Bright flat with a terrace, close to the metro.",
            "summary" => "Called about the flat in Chamberí; wants a second visit.",
            "message" => "Open house this Saturday from 11:00.",
            "address" => "Calle Mayor 5",
            "city" => "Madrid",
            "district" => "Centro",
            "location" => "Calle Mayor 5, Madrid",
            "outcome" => "Interested; second visit booked.",
            "reason" => "Repeated failed logins",
            "source" => "website",
            "reference" => "INV-2026-0001",
            // A login's fields are plain strings: the dev seed's admin (`make dev`).
            "tenant" => "demo",
            "email" => "admin@demo.test",
            "password" => "pulse-dev-password",
            _ => fallback,
        })
    };
    match *kind {
        Kind::Text(_) => text("Example"),
        Kind::Str(min, _) => text(&"x".repeat(min.max(1))),
        Kind::Email => json!("ana@example.com"),
        Kind::Phone => json!("+34 600 123 456"),
        Kind::Int(min, max) => {
            let hint = match name {
                "bedrooms" => 3,
                "bathrooms" => 2,
                "bedrooms_min" => 2,
                "area_sqm" => 85,
                "ttl_seconds" => 3600,
                "rate_bps" | "commission_rate_bps" => 300,
                "broker_rate_override_max_bps" => 500,
                _ => 1,
            };
            json!(hint.clamp(min, max))
        }
        Kind::Money => json!(match name {
            "price_minor" | "total_minor" => 25_000_000,
            "budget_min_minor" => 20_000_000,
            "budget_max_minor" => 30_000_000,
            _ => 500_000,
        }),
        Kind::Currency => json!("EUR"),
        Kind::Enum(values) => json!(values.first().copied().unwrap_or_default()),
        Kind::Ref(table) => json!(format!("{}-id", table.trim_end_matches('s'))),
        Kind::Pattern(p) => json!(p.example),
        Kind::DateTime => json!(if name == "ends_at" {
            "2026-12-01T11:00:00Z"
        } else {
            "2026-12-01T10:00:00Z"
        }),
        Kind::List(item, _, _) => json!([example_value(name, item)]),
        Kind::Bool => json!(true),
        Kind::Object => json!({}),
        Kind::Ip => json!("203.0.113.7"),
    }
}

/// Ids in bodies (`Kind::Ref`): what `auth::valid_user_id` accepts.
pub const ID_PATTERN: &str = "^[A-Za-z0-9._@-]{1,128}$";

/// `time::parse_strict`'s grammar; `format: date-time` adds the days of each month.
#[cfg(not(target_arch = "wasm32"))]
pub const DATE_TIME_PATTERN: &str = "^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])[Tt]\
    (?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?\
    (?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$";

/// What `std::net::IpAddr` parses: IPv4 without leading zeros, IPv6 with `::` and an
/// embedded IPv4 tail.
#[cfg(not(target_arch = "wasm32"))]
pub fn ip_regex() -> String {
    let o = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])";
    let v4 = format!(r"{o}\.{o}\.{o}\.{o}");
    let h = "[0-9A-Fa-f]{1,4}";
    let mut alts = vec![
        v4.clone(),
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{6}}{v4}"),
    ];
    for n in 0..=7usize {
        let head = match n {
            0 => String::new(),
            1 => h.to_string(),
            n => format!("(?:{h}:){{{}}}{h}", n - 1),
        };
        let k = 7 - n;
        let mut tails = Vec::new();
        if k >= 1 {
            tails.push(format!("(?:{h}:){{0,{}}}{h}", k - 1));
        }
        if k >= 2 {
            tails.push(format!("(?:{h}:){{0,{}}}{v4}", k - 2));
        }
        let tail = if tails.is_empty() {
            String::new()
        } else {
            format!("(?:{})?", tails.join("|"))
        };
        alts.push(format!("{head}::{tail}"));
    }
    alts.join("|")
}

#[cfg(test)]
pub(crate) mod tests;
