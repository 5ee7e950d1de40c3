//! Invitations: an admin invites an email with a role (`POST /api/users/invite`), the
//! invitation email carries a one-time token (minted when it is sent: `jobs::email`), and
//! the invitee accepts it with their own name and password (`POST /api/auth/accept-invite`),
//! which creates the user and answers like a login. Admins never learn the token or set
//! the password.

/// Mints the token of an open invitation for its email: the new token's hash replaces the
/// stored one (so only the latest email's token works). `None` when the invitation is no
/// longer open (accepted, replaced or expired).
pub async fn mint_token(
    env: &worker::Env,
    tenant: &str,
    invitation_id: &str,
) -> ApiResult<Option<String>> {
    let db = store::db(env)?;
    let (token, hash) = super::auth::new_refresh(tenant);
    let r = store::run(store::query(
        &db,
        "UPDATE invitations SET token_hash = :hash
         WHERE tenant_id = :tenant AND id = :id AND accepted_at IS NULL AND expires_ms > :now",
        &[
            ("hash", t(&hash)),
            ("tenant", t(tenant)),
            ("id", t(invitation_id)),
            ("now", i(platform::now_ms())),
        ],
    )?)
    .await?;
    Ok((store::changes(&r) == 1).then_some(token))
}

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::identity;
use crate::domain::password::sha256_hex;
use crate::domain::user::{self, Invitation, User};
use crate::platform;
use crate::realtime::outbox;
use crate::store::{self, i, t};
use crate::web::ctx::Ctx;
use crate::web::guard;
use crate::web::respond::json;
use serde::Deserialize;
use serde_json::json;
use worker::Response;

/// `POST /api/users/invite` `{email, role}` (admins) → 201 with the invitation (not its
/// token) and `Pulse-Job-Id` for the email. An email of an existing user is a 409; an open
/// invitation for the same email is replaced (only the newest token works).
pub async fn invite(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let (email, role) = user::validate_invite(&cx.json().await?)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let (stmts, inv, job) = statements(
        &db,
        tenant,
        &email,
        role.as_str(),
        &who.user_id,
        cx.now_ms(),
        "1",
        &[],
    )?;
    let results = store::batch(&db, stmts).await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::new(
            409,
            "conflict",
            "a user with this email already exists",
        ));
    }
    super::job_store::enqueue(&cx.env, tenant, std::slice::from_ref(&job)).await;
    outbox::deliver_after_write(&cx.env, tenant).await;
    let mut resp = json(201, &inv)?;
    resp.headers_mut().set("pulse-job-id", &job.id)?;
    Ok(resp)
}

/// An invitation of `email` as `role` by `invited_by`: the statements (an open invitation
/// for the email deleted, the invitation inserted when no user has the email and `cond`
/// holds (statement 1), its event, its email job), the invitation and the job.
#[allow(clippy::too_many_arguments)]
pub(crate) fn statements(
    db: &worker::D1Database,
    tenant: &str,
    email: &str,
    role: &str,
    invited_by: &str,
    now_ms: i64,
    cond: &str,
    cond_args: &[store::Arg<'_>],
) -> ApiResult<(
    Vec<worker::D1PreparedStatement>,
    Invitation,
    crate::domain::jobs::Job,
)> {
    let inv = Invitation {
        id: platform::new_id("inv"),
        email: email.to_string(),
        role: role.to_string(),
        invited_by: invited_by.to_string(),
        created_at: platform::iso(now_ms),
        expires_at: platform::iso(now_ms + user::INVITATION_TTL_MS),
    };
    // A hash of a token nobody ever sees: the email job mints the real one when it sends.
    let (_, hash) = super::auth::new_refresh(tenant);
    let job = super::job_store::invitation(invited_by, &inv);
    let event = outbox::draft(
        "users:invitation:created",
        vec!["role:admin".into()],
        serde_json::to_value(&inv)?,
    )
    .by(invited_by);
    let guard = format!(
        "NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = :tenant_id AND email = :email)
         AND ({cond})"
    );
    let mut delete_args = vec![("tenant_id", t(tenant)), ("email", t(&inv.email))];
    delete_args.extend_from_slice(cond_args);
    let mut stmts = vec![
        // An open invitation for this email gives way to the new one (under the same
        // condition as the new one: a refused request replaces nothing).
        store::query(
            db,
            &format!(
                "DELETE FROM invitations WHERE tenant_id = :tenant_id AND email = :email
                   AND accepted_at IS NULL AND ({cond})"
            ),
            &delete_args,
        )?,
        store::insert_if(
            db,
            "invitations",
            &[
                ("tenant_id", t(tenant)),
                ("id", t(&inv.id)),
                ("email", t(&inv.email)),
                ("role", t(&inv.role)),
                ("token_hash", t(&hash)),
                ("invited_by", t(&inv.invited_by)),
                ("created_at", t(&inv.created_at)),
                ("expires_ms", i(now_ms + user::INVITATION_TTL_MS)),
            ],
            &guard,
            cond_args,
        )?,
        outbox::insert_if_exists(db, tenant, &event, "invitations", &inv.id)?,
    ];
    stmts.extend(super::job_store::insert_when(
        db,
        tenant,
        &job,
        "SELECT 1 FROM invitations WHERE tenant_id = :tenant AND id = :invitation",
        &[("invitation", t(&inv.id))],
    )?);
    Ok((stmts, inv, job))
}

#[derive(Deserialize)]
struct OpenInvitation {
    id: String,
    email: String,
    role: String,
}

/// `POST /api/auth/accept-invite` `{token, name, password}` (public): creates the invited
/// user and answers like a login (access and refresh token). The token works once: the
/// invitation is claimed by a guarded update in the same batch as the user.
pub async fn accept(mut cx: Ctx) -> ApiResult<Response> {
    let (token, name, password) = user::validate_accept(&cx.json().await?)?;
    let (tenant, secret) =
        identity::parse_refresh_token(&token).ok_or_else(user::invalid_invitation)?;
    guard::refuse_blocked(&cx.req, &cx.env, tenant).await?;
    let hash = sha256_hex(secret.as_bytes());
    let db = cx.db()?;
    let now_ms = cx.now_ms();
    let inv: OpenInvitation = store::first(store::query(
        &db,
        "SELECT id, email, role FROM invitations WHERE tenant_id = :tenant
           AND token_hash = :hash AND accepted_at IS NULL AND expires_ms > :now",
        &[
            ("tenant", t(tenant)),
            ("hash", t(&hash)),
            ("now", i(now_ms)),
        ],
    )?)
    .await?
    .ok_or_else(user::invalid_invitation)?;
    let password_hash = crate::webcrypto::hash_password(&password).await?;
    let now = platform::iso(now_ms);
    let u = User {
        id: platform::new_id("u"),
        email: inv.email.clone(),
        name,
        role: inv.role.clone(),
        created_at: now.clone(),
        updated_at: now.clone(),
        version: 1,
    };
    let accepted = outbox::draft(
        "users:invitation:accepted",
        vec!["role:admin".into()],
        json!({"id": inv.id, "email": inv.email, "role": inv.role, "user_id": u.id}),
    )
    .by(&u.id);
    let (refresh, refresh_hash) = super::auth::new_refresh(tenant);
    let mut stmts = vec![
            // The claim: once, while open, and while no user has the email.
            store::query(
                &db,
                "UPDATE invitations SET accepted_at = :now, accepted_user_id = :user
                 WHERE tenant_id = :tenant AND id = :id AND accepted_at IS NULL
                   AND expires_ms > :now_ms
                   AND NOT EXISTS (SELECT 1 FROM users WHERE tenant_id = :tenant AND email = :email)",
                &[
                    ("now", t(&now)),
                    ("user", t(&u.id)),
                    ("tenant", t(tenant)),
                    ("id", t(&inv.id)),
                    ("now_ms", i(now_ms)),
                    ("email", t(&u.email)),
                ],
            )?,
    ];
    // The user (and `users:user:created`), only when the claim just above applied.
    stmts.extend(super::users::insert_statements(
        &db,
        tenant,
        &u,
        &password_hash,
        "changes() = 1",
        &u.id,
    )?);
    stmts.extend([
        outbox::insert_if_exists(&db, tenant, &accepted, "users", &u.id)?,
        store::insert_if(
            &db,
            "refresh_tokens",
            &[
                ("tenant_id", t(tenant)),
                ("token_hash", t(&refresh_hash)),
                ("family_id", t(&platform::new_id("rtf"))),
                ("user_id", t(&u.id)),
                ("created_ms", i(now_ms)),
                ("expires_ms", i(now_ms + identity::REFRESH_TTL_MS)),
            ],
            "EXISTS (SELECT 1 FROM users WHERE tenant_id = :tenant_id AND id = :user_id)",
            &[],
        )?,
    ]);
    let results = store::batch(&db, stmts).await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(user::invalid_invitation());
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    let access = super::auth::mint(&cx.env, &u.id, tenant, &u.role)?;
    super::auth::tokens(&access, &refresh)
}
