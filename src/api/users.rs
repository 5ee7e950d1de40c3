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

/// The user `u` with its password hash, inserted when `cond` (over the insert's columns:
/// `:tenant_id`, `:email`, … or `changes()`) holds, and its `users:user:created` by `actor`
/// when the row exists: how a user comes to be, by an admin or by an accepted invitation.
pub(crate) fn insert_statements(
    db: &worker::D1Database,
    tenant: &str,
    u: &User,
    hash: &str,
    cond: &str,
    actor: &str,
) -> ApiResult<Vec<worker::D1PreparedStatement>> {
    let event = outbox::draft(
        "users:user:created",
        channels(&u.id),
        serde_json::to_value(u)?,
    )
    .by(actor);
    Ok(vec![
        store::insert_if(
            db,
            "users",
            &[
                ("tenant_id", t(tenant)),
                ("id", t(&u.id)),
                ("email", t(&u.email)),
                ("name", t(&u.name)),
                ("role", t(&u.role)),
                ("password_hash", t(hash)),
                ("created_at", t(&u.created_at)),
                ("updated_at", t(&u.updated_at)),
            ],
            cond,
            &[],
        )?,
        outbox::insert_if_exists(db, tenant, &event, "users", &u.id)?,
    ])
}

fn conflict(message: &str) -> ApiError {
    ApiError::new(409, "conflict", message)
}

async fn load(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<User>> {
    store::first(store::query(
        db,
        &format!("SELECT {COLUMNS} FROM users WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await
}

async fn email_taken(db: &D1Database, tenant: &str, email: &str) -> ApiResult<bool> {
    #[derive(serde::Deserialize)]
    struct One {
        #[allow(dead_code)]
        id: String,
    }
    Ok(store::first::<One>(store::query(
        db,
        "SELECT id FROM users WHERE tenant_id = :tenant AND email = :email",
        &[("tenant", t(tenant)), ("email", t(email))],
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
    let rows: Vec<User> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM users
             WHERE tenant_id = :tenant AND (:after IS NULL OR id < :after)
               AND (:only IS NULL OR id = :only)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("after", ot(page.after.as_deref())),
            ("only", ot(only)),
            ("limit", i(i64::from(page.limit) + 1)),
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
    let batch = store::batch(
        &db,
        insert_statements(
            &db,
            tenant,
            &u,
            &hash,
            "NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = :tenant_id AND email = :email)",
            &who.user_id,
        )?,
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
    // Each user sets their own password (invitations, or their own reset): an admin never
    // sets another's.
    if changes.password.is_some() && id != who.user_id {
        return Err(ApiError::forbidden(
            "only the user themselves may set their password; invite users instead",
        ));
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
        let before = serde_json::to_value(&current)?;
        let u = user::apply(current, &changes, &platform::iso(now_ms));
        // A user carries no password: a reset is never listed in `changes`.
        let event = outbox::draft(
            "users:user:updated",
            channels(&u.id),
            crate::domain::event::with_changes(
                &before,
                serde_json::to_value(&u)?,
                &user::PATCH.editable(),
            ),
        )
        .by(&who.user_id);
        let update = store::update(
            &db,
            "users",
            &[
                ("name", t(&u.name)),
                ("role", t(&u.role)),
                ("updated_at", t(&u.updated_at)),
                ("version", i(u.version)),
            ],
            ", password_hash = COALESCE(:hash, password_hash)
             WHERE tenant_id = :tenant AND id = :id AND version = :read",
            &[
                ("hash", ot(hash.as_deref())),
                ("tenant", t(tenant)),
                ("id", t(&u.id)),
                ("read", i(read)),
            ],
        )?;
        let mut extra = Vec::new();
        if hash.is_some() {
            // A password reset ends the user's sessions, only when the update applied
            // (its event row exists).
            extra.push(store::query(
                &db,
                "UPDATE refresh_tokens SET revoked_ms = :now
                 WHERE tenant_id = :tenant AND user_id = :user AND revoked_ms IS NULL
                   AND EXISTS (SELECT 1 FROM outbox WHERE id = :event AND tenant_id = :tenant)",
                &[
                    ("now", i(now_ms)),
                    ("tenant", t(tenant)),
                    ("user", t(&u.id)),
                    ("event", t(&event.id)),
                ],
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
    let event =
        outbox::draft("users:user:deleted", channels(&id), json!({"id": id})).by(&who.user_id);
    let results = store::batch(
        &db,
        vec![
            outbox::insert_if_exists(&db, tenant, &event, "users", &id)?,
            store::query(
                &db,
                "DELETE FROM users WHERE tenant_id = :tenant AND id = :id",
                &[("tenant", t(tenant)), ("id", t(&id))],
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
