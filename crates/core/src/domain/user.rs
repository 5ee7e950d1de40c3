//! Tenant users: the resource shape (never with its password hash) and validation of
//! create and update bodies.

use super::auth::Role;
use super::error::{ApiError, ApiResult};
use super::password;
use super::schema::{self, req, rule, Field, Kind, Shape, VERSION};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const ROLES: &[&str] = &["admin", "broker", "viewer"];
const NAME: Field = req("name", Kind::Text(200));
const ROLE: Field = req("role", Kind::Enum(ROLES));
const PASSWORD: Field = req("password", Kind::Str(password::MIN_LEN, password::MAX_LEN));

/// `POST /api/users`.
pub const INPUT: Shape = Shape::create(
    "UserInput",
    &[req("email", Kind::Email), NAME, ROLE, PASSWORD],
    &[rule(
        &["email"],
        "email must be free in the tenant (409 when taken).",
    )],
);

/// `PUT /api/users/:id`.
pub const PATCH: Shape = Shape::patch(
    "UserPatch",
    &[NAME, ROLE, PASSWORD, VERSION],
    &[rule(
        &["role"],
        "An admin cannot take the admin role from themselves.",
    )],
);

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

pub fn validate_create(body: &Value) -> ApiResult<NewUser> {
    let v = schema::validate(&INPUT, body)?;
    let role = v.str("role").as_deref().and_then(Role::parse);
    match (v.str("email"), v.str("name"), role, v.str("password")) {
        (Some(email), Some(name), Some(role), Some(password)) => Ok(NewUser {
            email: email.to_ascii_lowercase(),
            name,
            role,
            password,
        }),
        _ => Err(ApiError::internal()),
    }
}

pub fn validate_update(body: &Value) -> ApiResult<UserChanges> {
    let v = schema::validate(&PATCH, body)?;
    Ok(UserChanges {
        name: v.str("name"),
        role: v.str("role").as_deref().and_then(Role::parse),
        password: v.str("password"),
    })
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

/// How long an invitation can be accepted.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// `POST /api/users/invite`.
pub const INVITE: Shape = Shape::create(
    "InviteInput",
    &[req("email", Kind::Email), ROLE],
    &[rule(
        &["email"],
        "email must not belong to a user of the tenant (409); a newer invitation for the same \
         email replaces an open one.",
    )],
);

/// `POST /api/auth/accept-invite`.
pub const ACCEPT: Shape = Shape::create(
    "AcceptInviteInput",
    &[req("token", Kind::Str(1, 200)), NAME, PASSWORD],
    &[rule(
        &["token"],
        "token must be an open invitation: unknown, used or expired is a 401.",
    )],
);

/// An invitation as the API answers and events carry it (never its token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
}

/// An invitation body: (email, lower-cased; role).
pub fn validate_invite(body: &Value) -> ApiResult<(String, Role)> {
    let v = schema::validate(&INVITE, body)?;
    match (
        v.str("email"),
        v.str("role").as_deref().and_then(Role::parse),
    ) {
        (Some(email), Some(role)) => Ok((email.to_ascii_lowercase(), role)),
        _ => Err(ApiError::internal()),
    }
}

/// An acceptance: (token, name, password).
pub fn validate_accept(body: &Value) -> ApiResult<(String, String, String)> {
    let v = schema::validate(&ACCEPT, body)?;
    match (v.str("token"), v.str("name"), v.str("password")) {
        (Some(t), Some(n), Some(p)) => Ok((t, n, p)),
        _ => Err(ApiError::internal()),
    }
}

/// The one answer for a token that cannot be accepted (unknown, used, expired, malformed):
/// nothing tells which.
pub fn invalid_invitation() -> ApiError {
    ApiError::new(
        401,
        "invalid_invitation",
        "the invitation is invalid, used or expired",
    )
}

/// `POST /api/platform/tenants` (the operator).
pub const NEW_TENANT: Shape = Shape::create(
    "TenantInput",
    &[
        req("tenant", Kind::Pattern(&super::identity::TENANT)),
        req("name", Kind::Text(200)),
        req("admin_email", Kind::Email),
    ],
    &[rule(
        &["tenant"],
        "tenant must be new: an id with a tenant record or users already is a 409.",
    )],
);

/// A new brokerage: (tenant id, name, its first admin's email, lower-cased).
pub fn validate_new_tenant(body: &Value) -> ApiResult<(String, String, String)> {
    let v = schema::validate(&NEW_TENANT, body)?;
    match (v.str("tenant"), v.str("name"), v.str("admin_email")) {
        (Some(t), Some(n), Some(e)) => Ok((t, n, e.to_ascii_lowercase())),
        _ => Err(ApiError::internal()),
    }
}
