//! `/api/auth/login|refresh|logout`: password login with failed-login rate limits, access
//! JWTs, and rotating refresh tokens (stored hashed, reuse revokes the family).

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::identity::{
    self, check_bucket, decide_refresh, Bucket, RefreshDecision, RefreshState, GLOBAL_TENANT,
    WINDOW_MS,
};
use crate::domain::password::sha256_hex;
use crate::platform;
use crate::realtime::outbox;
use crate::store::{self, i, t};
use crate::web::ctx::Ctx;
use crate::web::guard;
use crate::webcrypto;
use serde::Deserialize;
use serde_json::json;
use worker::{D1Database, D1PreparedStatement, Env, Request, Response};

/// Reserves one attempt on a failed-login counter in one guarded statement, before any
/// password work: the counter after the reservation when it was below `:limit` in its window
/// (a new window starts once the old one is over), no row when it is full. A failed attempt
/// keeps its reservation; a successful one gives it back. Same window rule as
/// `identity::after_failure` (in an upsert, the right-hand sides read the row as it was).
/// (`excluded.window_start_ms` is this attempt's time.)
const RESERVE_ATTEMPT: &str = "ON CONFLICT (tenant_id, key) DO UPDATE SET
       failures = CASE WHEN excluded.window_start_ms - window_start_ms >= :window THEN 1
                       ELSE failures + 1 END,
       window_start_ms = CASE WHEN excluded.window_start_ms - window_start_ms >= :window
                              THEN excluded.window_start_ms ELSE window_start_ms END
     WHERE excluded.window_start_ms - window_start_ms >= :window OR failures < :limit
     RETURNING window_start_ms, failures";

fn client_ip(req: &Request) -> String {
    req.headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .map(|ip| ip.trim().chars().take(64).collect::<String>())
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

async fn bucket(db: &D1Database, tenant: &str, key: &str) -> ApiResult<Option<Bucket>> {
    store::first(store::query(
        db,
        "SELECT window_start_ms, failures FROM login_attempts
         WHERE tenant_id = :tenant AND key = :key",
        &[("tenant", t(tenant)), ("key", t(key))],
    )?)
    .await
}

/// A counter an attempt is charged to: (tenant column, key, limit). Failed logins use
/// them, and so do other per-address limits (public lead forms), with their own keys.
pub(crate) struct Counter<'a> {
    pub tenant: &'a str,
    pub key: &'a str,
    pub limit: i64,
}

/// Reserves an attempt on every counter at once. `Ok(windows)` (the window each reservation
/// was taken in) when all had room; otherwise the reservations taken are given back and
/// the 429 says how long the fullest counter stays full.
pub(crate) async fn reserve(
    db: &D1Database,
    counters: &[Counter<'_>],
    now: i64,
) -> ApiResult<Vec<i64>> {
    let stmts = counters
        .iter()
        .map(|c| {
            store::insert_then(
                db,
                "login_attempts",
                &[
                    ("tenant_id", t(c.tenant)),
                    ("key", t(c.key)),
                    ("window_start_ms", i(now)),
                    ("failures", i(1)),
                ],
                RESERVE_ATTEMPT,
                &[("window", i(WINDOW_MS)), ("limit", i(c.limit))],
            )
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let results = store::batch(db, stmts).await?;
    let taken: Vec<Option<i64>> = results
        .iter()
        .map(|r| {
            store::rows::<Bucket>(r)
                .ok()
                .and_then(|rows| rows.first().map(|b| b.window_start_ms))
        })
        .collect();
    if taken.len() == counters.len() && taken.iter().all(Option::is_some) {
        return Ok(taken.into_iter().flatten().collect());
    }
    let mut undo = Vec::new();
    let mut wait = 1;
    for (c, w) in counters.iter().zip(&taken) {
        match w {
            Some(w) => undo.push(release(db, c, *w)?),
            None => {
                if let Err(s) = check_bucket(bucket(db, c.tenant, c.key).await?, c.limit, now) {
                    wait = wait.max(s);
                }
            }
        }
    }
    if !undo.is_empty() {
        store::batch(db, undo).await?;
    }
    Err(identity::rate_limited(wait))
}

/// Gives back a reservation (only within the window it was taken in).
fn release(db: &D1Database, c: &Counter<'_>, window: i64) -> ApiResult<D1PreparedStatement> {
    store::query(
        db,
        "UPDATE login_attempts SET failures = MAX(failures - 1, 0)
         WHERE tenant_id = :tenant AND key = :key AND window_start_ms = :window",
        &[
            ("tenant", t(c.tenant)),
            ("key", t(c.key)),
            ("window", i(window)),
        ],
    )
}

#[derive(Deserialize)]
struct LoginRow {
    id: String,
    role: String,
    password_hash: Option<String>,
}

/// The 200 body of login and refresh; never cached.
pub(crate) fn tokens(access: &str, refresh: &str) -> ApiResult<Response> {
    let mut r = Response::from_json(&json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": identity::ACCESS_TTL_SECONDS,
        "refresh_token": refresh,
    }))?;
    r.headers_mut().set("cache-control", "no-store")?;
    Ok(r)
}

pub(crate) fn mint(env: &Env, user: &str, tenant: &str, role: &str) -> ApiResult<String> {
    let cfg = crate::config::get(env);
    let cfg = &cfg.auth;
    let Some(secret) = cfg.hs256_secret.as_deref() else {
        worker::console_error!("login: JWT_SECRET is not configured");
        return Err(ApiError::unavailable("login is not configured"));
    };
    identity::mint_access(
        secret,
        user,
        tenant,
        role,
        cfg.issuer.as_deref(),
        cfg.audience.as_deref(),
        crate::domain::auth::at_millis(platform::now_ms()),
    )
}

/// A fresh refresh token for `tenant`: (the token, the hash stored for it).
pub(crate) fn new_refresh(tenant: &str) -> (String, String) {
    let secret = webcrypto::random_secret_hex();
    let hash = sha256_hex(secret.as_bytes());
    (identity::refresh_token(tenant, &secret), hash)
}

pub async fn login(mut cx: Ctx) -> ApiResult<Response> {
    let input = identity::validate_login(&cx.json().await?)?;
    let tenant = input.tenant.as_str();
    guard::refuse_blocked(&cx.req, &cx.env, tenant).await?;
    let ip_key = format!("ip:{}", client_ip(&cx.req));
    let account_key = format!("email:{}", input.email);
    let db = cx.db()?;
    let now = cx.now_ms();

    // Each attempt takes a slot on the account's and the address's counters before any
    // password work, so concurrent attempts can never exceed either limit.
    let counters = [
        Counter {
            tenant,
            key: &account_key,
            limit: cx.config().login_account_limit,
        },
        Counter {
            tenant: GLOBAL_TENANT,
            key: &ip_key,
            limit: cx.config().login_ip_limit,
        },
    ];
    let windows = reserve(&db, &counters, now).await?;

    let user: Option<LoginRow> = store::first(store::query(
        &db,
        "SELECT id, role, password_hash FROM users WHERE tenant_id = :tenant AND email = :email",
        &[("tenant", t(tenant)), ("email", t(&input.email))],
    )?)
    .await?;
    let ok = webcrypto::verify_password(
        &input.password,
        user.as_ref().and_then(|u| u.password_hash.as_deref()),
    )
    .await?;
    let user = match user {
        Some(u) if ok => u,
        // The reservations stay: they were this failure. A failure on an existing account
        // goes to the audit trail (and to the admins live); an unknown email or tenant
        // records nothing, so guessing names cannot create tenants' history.
        Some(u) => {
            let failed = outbox::draft(
                "auth:login:failed",
                vec!["role:admin".into(), format!("entity:user:{}", u.id)],
                json!({"user_id": u.id, "email": input.email}),
            )
            .by("anonymous");
            store::run(outbox::insert(&db, tenant, &failed)?).await?;
            outbox::deliver_after_write(&cx.env, tenant).await;
            return Err(identity::invalid_credentials());
        }
        None => return Err(identity::invalid_credentials()),
    };

    let access = mint(&cx.env, &user.id, tenant, &user.role)?;
    let family = platform::new_id("rtf");
    let (refresh, hash) = new_refresh(tenant);
    store::batch(
        &db,
        vec![
            store::insert(
                &db,
                "refresh_tokens",
                &[
                    ("tenant_id", t(tenant)),
                    ("token_hash", t(&hash)),
                    ("family_id", t(&family)),
                    ("user_id", t(&user.id)),
                    ("created_ms", i(now)),
                    ("expires_ms", i(now + identity::REFRESH_TTL_MS)),
                ],
            )?,
            store::query(
                &db,
                "DELETE FROM login_attempts WHERE tenant_id = :tenant AND key = :key",
                &[("tenant", t(tenant)), ("key", t(&account_key))],
            )?,
            release(&db, &counters[1], windows[1])?,
        ],
    )
    .await?;
    tokens(&access, &refresh)
}

#[derive(Deserialize)]
struct RefreshRow {
    family_id: String,
    user_id: String,
    expires_ms: i64,
    used_ms: Option<i64>,
    revoked_ms: Option<i64>,
    role: Option<String>,
}

fn revoke_family(
    db: &D1Database,
    tenant: &str,
    family: &str,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    store::query(
        db,
        "UPDATE refresh_tokens SET revoked_ms = :now
         WHERE tenant_id = :tenant AND family_id = :family AND revoked_ms IS NULL",
        &[
            ("now", i(now)),
            ("tenant", t(tenant)),
            ("family", t(family)),
        ],
    )
}

pub async fn refresh(mut cx: Ctx) -> ApiResult<Response> {
    let token = identity::validate_refresh_body(&cx.json().await?)?;
    let (tenant, secret) =
        identity::parse_refresh_token(&token).ok_or_else(identity::invalid_refresh)?;
    guard::refuse_blocked(&cx.req, &cx.env, tenant).await?;
    let old_hash = sha256_hex(secret.as_bytes());
    let db = cx.db()?;
    let now = cx.now_ms();
    let row: Option<RefreshRow> = store::first(store::query(
        &db,
        "SELECT r.family_id, r.user_id, r.expires_ms, r.used_ms, r.revoked_ms, u.role
         FROM refresh_tokens r
         LEFT JOIN users u ON u.tenant_id = r.tenant_id AND u.id = r.user_id
         WHERE r.tenant_id = :tenant AND r.token_hash = :hash",
        &[("tenant", t(tenant)), ("hash", t(&old_hash))],
    )?)
    .await?;
    let state = row.as_ref().map(|r| RefreshState {
        expires_ms: r.expires_ms,
        used: r.used_ms.is_some(),
        revoked: r.revoked_ms.is_some(),
    });
    let decision = decide_refresh(state.as_ref(), now);
    let (row, role) = match (decision, row) {
        (RefreshDecision::Rotate, Some(r)) => match r.role.clone() {
            Some(role) => (r, role),
            None => {
                // The user was removed: the session ends with it.
                store::run(revoke_family(&db, tenant, &r.family_id, now)?).await?;
                return Err(identity::invalid_refresh());
            }
        },
        (RefreshDecision::Reused, Some(r)) => {
            worker::console_warn!("refresh token reuse in tenant {tenant}: family revoked");
            store::run(revoke_family(&db, tenant, &r.family_id, now)?).await?;
            return Err(identity::invalid_refresh());
        }
        _ => return Err(identity::invalid_refresh()),
    };

    let (new_token, new_hash) = new_refresh(tenant);
    // Mark the old token used (only if nobody else did meanwhile), then add its successor
    // only if this very request marked it: one transaction, so a concurrent refresh with
    // the same token gets nothing.
    let results = store::batch(
        &db,
        vec![
            store::update(
                &db,
                "refresh_tokens",
                &[("used_ms", i(now)), ("replaced_by", t(&new_hash))],
                "WHERE tenant_id = :tenant AND token_hash = :old
                   AND used_ms IS NULL AND revoked_ms IS NULL",
                &[("tenant", t(tenant)), ("old", t(&old_hash))],
            )?,
            store::insert_if(
                &db,
                "refresh_tokens",
                &[
                    ("tenant_id", t(tenant)),
                    ("token_hash", t(&new_hash)),
                    ("family_id", t(&row.family_id)),
                    ("user_id", t(&row.user_id)),
                    ("created_ms", i(now)),
                    ("expires_ms", i(now + identity::REFRESH_TTL_MS)),
                ],
                "EXISTS (SELECT 1 FROM refresh_tokens
                         WHERE tenant_id = :tenant_id AND token_hash = :old
                           AND replaced_by = :token_hash)",
                &[("old", t(&old_hash))],
            )?,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        // Lost a race with another refresh of the same token: that is reuse too.
        store::run(revoke_family(&db, tenant, &row.family_id, now)?).await?;
        return Err(identity::invalid_refresh());
    }
    let access = mint(&cx.env, &row.user_id, tenant, &role)?;
    tokens(&access, &new_token)
}

/// Ends the session the refresh token belongs to (its whole family). Always 204 for a
/// well-formed body, so it reveals nothing about the token.
pub async fn logout(mut cx: Ctx) -> ApiResult<Response> {
    let token = identity::validate_refresh_body(&cx.json().await?)?;
    if let Some((tenant, secret)) = identity::parse_refresh_token(&token) {
        guard::refuse_blocked(&cx.req, &cx.env, tenant).await?;
        let db = cx.db()?;
        store::run(store::query(
            &db,
            "UPDATE refresh_tokens SET revoked_ms = :now
             WHERE tenant_id = :tenant AND revoked_ms IS NULL AND family_id =
               (SELECT family_id FROM refresh_tokens WHERE tenant_id = :tenant AND token_hash = :hash)",
            &[
                ("now", i(cx.now_ms())),
                ("tenant", t(tenant)),
                ("hash", t(&sha256_hex(secret.as_bytes()))),
            ],
        )?)
        .await?;
    }
    Ok(Response::empty()?.with_status(204))
}

/// Ends every session of a user (removal, password reset): the statement to batch.
pub fn revoke_user(
    db: &D1Database,
    tenant: &str,
    user: &str,
    now: i64,
) -> ApiResult<D1PreparedStatement> {
    store::query(
        db,
        "UPDATE refresh_tokens SET revoked_ms = :now
         WHERE tenant_id = :tenant AND user_id = :user AND revoked_ms IS NULL",
        &[("now", i(now)), ("tenant", t(tenant)), ("user", t(user))],
    )
}
