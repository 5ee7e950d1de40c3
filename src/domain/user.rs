//! Tenant users: the resource shape (never with its password hash) and validation of
//! create and update bodies.

use super::auth::Role;
use super::error::{ApiError, ApiResult, FieldErrors};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const NAME_MAX: usize = 200;
const EMAIL_MAX: usize = 254;
const CREATE_FIELDS: &[&str] = &["email", "name", "role", "password"];
const UPDATE_FIELDS: &[&str] = &["name", "role", "password"];

/// A user as the REST API returns it and as events carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub updated_at: String,
    /// Bumped by every update; the optimistic-concurrency token (`If-Match`, ETag).
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: String,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub password: Option<String>,
}

fn object<'a>(
    body: &'a Value,
    allowed: &[&str],
    errs: &mut FieldErrors,
) -> Option<&'a Map<String, Value>> {
    let Some(obj) = body.as_object() else {
        errs.add("body", "must be a JSON object");
        return None;
    };
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            errs.add(k, "is not a known field");
        }
    }
    Some(obj)
}

fn name(v: &Value, errs: &mut FieldErrors) -> Option<String> {
    match v {
        Value::String(s) if s.trim().is_empty() => errs.add("name", "must not be empty"),
        Value::String(s) if s.trim().chars().count() > NAME_MAX => {
            errs.add("name", format!("must be at most {NAME_MAX} characters"))
        }
        Value::String(s) => return Some(s.trim().to_string()),
        _ => errs.add("name", "must be a string"),
    }
    None
}

fn role(v: &Value, errs: &mut FieldErrors) -> Option<Role> {
    let r = v.as_str().and_then(Role::parse);
    if r.is_none() {
        errs.add("role", "must be one of: admin, broker, viewer");
    }
    r
}

fn password(v: &Value, errs: &mut FieldErrors) -> Option<String> {
    match v.as_str() {
        None => errs.add("password", "must be a string"),
        Some(p) => match super::password::check_new(p) {
            Some(problem) => errs.add("password", problem),
            None => return Some(p.to_string()),
        },
    }
    None
}

pub fn validate_create(body: &Value) -> ApiResult<NewUser> {
    let mut errs = FieldErrors::default();
    let Some(obj) = object(body, CREATE_FIELDS, &mut errs) else {
        return Err(ApiError::validation(errs));
    };
    let email = match obj.get("email") {
        None => {
            errs.add("email", "is required");
            None
        }
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.len() > EMAIL_MAX {
                errs.add("email", format!("must be at most {EMAIL_MAX} characters"));
                None
            } else if !super::customer::valid_email(s) {
                errs.add("email", "is not a valid email address");
                None
            } else {
                Some(s.to_ascii_lowercase())
            }
        }
        Some(_) => {
            errs.add("email", "must be a string");
            None
        }
    };
    let required = |field: &str, errs: &mut FieldErrors| {
        let v = obj.get(field);
        if v.is_none() {
            errs.add(field, "is required");
        }
        v
    };
    let n = required("name", &mut errs).and_then(|v| name(v, &mut errs));
    let r = required("role", &mut errs).and_then(|v| role(v, &mut errs));
    let p = required("password", &mut errs).and_then(|v| password(v, &mut errs));
    errs.into_result()?;
    match (email, n, r, p) {
        (Some(email), Some(name), Some(role), Some(password)) => Ok(NewUser {
            email,
            name,
            role,
            password,
        }),
        _ => Err(ApiError::internal()),
    }
}

pub fn validate_update(body: &Value) -> ApiResult<UserChanges> {
    let mut errs = FieldErrors::default();
    let Some(obj) = object(body, UPDATE_FIELDS, &mut errs) else {
        return Err(ApiError::validation(errs));
    };
    let out = UserChanges {
        name: obj.get("name").and_then(|v| name(v, &mut errs)),
        role: obj.get("role").and_then(|v| role(v, &mut errs)),
        password: obj.get("password").and_then(|v| password(v, &mut errs)),
    };
    if errs.is_empty() && out == UserChanges::default() {
        errs.add(
            "body",
            format!("give at least one of: {}", UPDATE_FIELDS.join(", ")),
        );
    }
    errs.into_result()?;
    Ok(out)
}

/// Applies validated changes to a user (the password is stored apart, as a hash).
pub fn apply(mut u: User, c: &UserChanges, now_iso: &str) -> User {
    if let Some(n) = &c.name {
        u.name = n.clone();
    }
    if let Some(r) = c.role {
        u.role = r.as_str().to_string();
    }
    u.updated_at = now_iso.to_string();
    u.version += 1;
    u
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_rules() {
        let u = validate_create(&json!({
            "email": "New@Acme.test", "name": " Ann ", "role": "broker",
            "password": "correct-horse"
        }))
        .unwrap();
        assert_eq!(
            (u.email.as_str(), u.name.as_str(), u.role),
            ("new@acme.test", "Ann", Role::Broker)
        );
        let e = validate_create(
            &json!({"email": "nope", "role": "owner", "password": "short", "x": 1}),
        )
        .unwrap_err();
        let f = &e.details.unwrap()["fields"];
        assert_eq!(f["email"], "is not a valid email address");
        assert_eq!(f["name"], "is required");
        assert!(f["role"].is_string() && f["password"].is_string() && f["x"].is_string());
    }

    #[test]
    fn update_rules() {
        let c = validate_update(&json!({"role": "viewer"})).unwrap();
        assert_eq!(c.role, Some(Role::Viewer));
        assert_eq!(validate_update(&json!({})).unwrap_err().status, 422);
        assert_eq!(
            validate_update(&json!({"email": "a@b.test"}))
                .unwrap_err()
                .status,
            422
        );
        assert_eq!(
            validate_update(&json!({"name": ""})).unwrap_err().status,
            422
        );
    }

    #[test]
    fn user_json_has_no_secrets() {
        let u = User {
            id: "u_1".into(),
            email: "a@b.test".into(),
            name: "A".into(),
            role: "admin".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            version: 1,
        };
        let v = serde_json::to_value(&u).unwrap();
        assert!(v.get("password_hash").is_none());
        assert_eq!(v.as_object().unwrap().len(), 7);
        let ch = validate_update(&json!({"role": "viewer"})).unwrap();
        let u2 = apply(u, &ch, "t2");
        assert_eq!(
            (
                u2.name.as_str(),
                u2.role.as_str(),
                u2.version,
                u2.updated_at.as_str()
            ),
            ("A", "viewer", 2, "t2")
        );
    }
}
