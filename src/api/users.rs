//! `/api/users`: tenant admins create and manage users; brokers and admins list them.
//! Every mutation writes its `users:user:*` event (never a password hash) in the same batch.

use crate::domain::auth::{Principal, Role};
use crate::domain::error::{ApiError, ApiResult, FieldErrors};
use crate::domain::policy;
use crate::domain::user::{self, User};
use crate::domain::version;
use crate::platform;
use crate::realtime::outbox;
use crate::store::{self, i, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page, json_versioned};
use serde_json::json;
use worker::{D1Database, Response};

const COLUMNS: &str =
    "id, email, name, role, created_at, COALESCE(updated_at, created_at) AS updated_at, version";

fn channels(id: &str) -> Vec<String> {
    vec!["role:admin".to_string(), format!("entity:user:{id}")]
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(409, "conflict", message)
}

async fn load(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<User>> {
    store::first(store::stmt(
        db,
        &format!("SELECT {COLUMNS} FROM users WHERE tenant_id = ?1 AND id = ?2"),
        &[t(tenant), t(id)],
    )?)
    .await
}

async fn email_taken(db: &D1Database, tenant: &str, email: &str) -> ApiResult<bool> {
    #[derive(serde::Deserialize)]
    struct One {
        #[allow(dead_code)]
        id: String,
    }
    Ok(store::first::<One>(store::stmt(
        db,
        "SELECT id FROM users WHERE tenant_id = ?1 AND email = ?2",
        &[t(tenant), t(email)],
    )?)
    .await?
    .is_some())
}

/// A user's record is for admins and that user (`policy::Resource::User`, the same rule
/// as the `entity:user:<id>` channel and `users:*` events).
fn may_read(who: &Principal, id: &str) -> ApiResult<()> {
    if policy::may_read(&who.reader(), &policy::Resource::User(id)) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only admins and the user themself may read a user",
        ))
    }
}

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    // Admins list everyone; anyone else lists only the users they may read: themself.
    let only = (who.role != Role::Admin).then_some(who.user_id.as_str());
    let page = cx.page()?;
    let db = cx.db()?;
    let rows: Vec<User> = store::all(store::stmt(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM users WHERE tenant_id = ?1 AND (?2 IS NULL OR id < ?2)
               AND (?4 IS NULL OR id = ?4)
             ORDER BY id DESC LIMIT ?3"
        ),
        &[
            t(&who.tenant_id),
            ot(page.after.as_deref()),
            i(i64::from(page.limit) + 1),
            ot(only),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |u| u.id.clone())
}

pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("user")?;
    may_read(&who, &id)?;
    let db = cx.db()?;
    match load(&db, &who.tenant_id, &id).await? {
        Some(u) => json_versioned(200, &u, u.version),
        None => Err(ApiError::not_found("user")),
    }
}

pub async fn create(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = user::validate_create(&cx.json().await?)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    if email_taken(&db, tenant, &input.email).await? {
        return Err(conflict("a user with this email already exists"));
    }
    let hash = crate::webcrypto::hash_password(&input.password).await?;
    let now = cx.now_iso();
    let u = User {
        id: platform::new_id("u"),
        email: input.email,
        name: input.name,
        role: input.role.as_str().to_string(),
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    let event = outbox::draft(
        "users:user:created",
        channels(&u.id),
        serde_json::to_value(&u)?,
    );
    let batch = store::batch(
        &db,
        vec![
            store::stmt(
                &db,
                "INSERT INTO users (tenant_id, id, email, name, role, password_hash, created_at, updated_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
                 WHERE NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = ?1 AND email = ?3)",
                &[
                    t(tenant),
                    t(&u.id),
                    t(&u.email),
                    t(&u.name),
                    t(&u.role),
                    t(&hash),
                    t(&u.created_at),
                    t(&u.updated_at),
                ],
            )?,
            outbox::insert_if_exists(&db, tenant, &event, "users", &u.id)?,
        ],
    )
    .await;
    let results = match batch {
        Ok(r) => r,
        // A concurrent create with the same email hit the UNIQUE constraint.
        Err(_) if email_taken(&db, tenant, &u.email).await? => {
            return Err(conflict("a user with this email already exists"))
        }
        Err(e) => return Err(e),
    };
    if results.first().map(store::changes) != Some(1) {
        return Err(conflict("a user with this email already exists"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    let mut resp = json(201, &u)?;
    resp.headers_mut()
        .set("location", &format!("/api/users/{}", u.id))?;
    Ok(resp)
}

/// `PUT /api/users/:id`: a partial update, versioned like customers (expected version or
/// 409; a blind update is re-read and re-applied when a concurrent update wins).
pub async fn update(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("user")?;
    let (input, expected) = cx.versioned_json().await?;
    let changes = user::validate_update(&input)?;
    if id == who.user_id && changes.role.is_some_and(|r| r != Role::Admin) {
        let mut e = FieldErrors::default();
        e.add("role", "you cannot take the admin role from yourself");
        e.into_result()?;
    }
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let hash = match &changes.password {
        Some(p) => Some(crate::webcrypto::hash_password(p).await?),
        None => None,
    };
    for _ in 0..version::BLIND_ATTEMPTS {
        let current = load(&db, tenant, &id)
            .await?
            .ok_or_else(|| ApiError::not_found("user"))?;
        let read = current.version;
        if expected.is_some_and(|v| v != read) {
            return Err(version::conflict("user", read));
        }
        let now_ms = cx.now_ms();
        let u = user::apply(current, &changes, &platform::iso(now_ms));
        let event = outbox::draft(
            "users:user:updated",
            channels(&u.id),
            serde_json::to_value(&u)?,
        );
        let update = store::stmt(
            &db,
            "UPDATE users SET name = ?3, role = ?4, password_hash = COALESCE(?5, password_hash),
             updated_at = ?6, version = ?7 + 1 WHERE tenant_id = ?1 AND id = ?2 AND version = ?7",
            &[
                t(tenant),
                t(&u.id),
                t(&u.name),
                t(&u.role),
                ot(hash.as_deref()),
                t(&u.updated_at),
                i(read),
            ],
        )?;
        let mut extra = Vec::new();
        if hash.is_some() {
            // A password reset ends the user's sessions, only when the update applied
            // (its event row exists).
            extra.push(store::stmt(
                &db,
                "UPDATE refresh_tokens SET revoked_ms = ?3
                 WHERE tenant_id = ?1 AND user_id = ?2 AND revoked_ms IS NULL
                   AND EXISTS (SELECT 1 FROM outbox WHERE id = ?4 AND tenant_id = ?1)",
                &[t(tenant), t(&u.id), i(now_ms), t(&event.id)],
            )?);
        }
        if outbox::update_with_event(&cx.env, &db, tenant, update, &event, extra).await? {
            return json_versioned(200, &u, u.version);
        }
    }
    Err(version::busy("user"))
}

pub async fn delete(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("user")?;
    if id == who.user_id {
        return Err(conflict("you cannot delete yourself"));
    }
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let event = outbox::draft("users:user:deleted", channels(&id), json!({"id": id}));
    let results = store::batch(
        &db,
        vec![
            outbox::insert_if_exists(&db, tenant, &event, "users", &id)?,
            store::stmt(
                &db,
                "DELETE FROM users WHERE tenant_id = ?1 AND id = ?2",
                &[t(tenant), t(&id)],
            )?,
            crate::api::auth::revoke_user(&db, tenant, &id, cx.now_ms())?,
        ],
    )
    .await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::not_found("user"));
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    Ok(Response::empty()?.with_status(204))
}
