//! `GET`/`PUT /api/settings`: a brokerage's own settings in one place. Its name, time zone
//! and currency and the platforms its listings may use live on the tenant's row; the
//! commission default and maximum are the rows the sales already read (`commission_rates`
//! for no broker, `finance_settings`), so there is one copy of each.

use crate::domain::error::ApiResult;
use crate::domain::finance::DEFAULT_RATE_BPS;
use crate::domain::settings::{self, Settings};
use crate::realtime::outbox;
use crate::store::{self, i, oi, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde::Deserialize;
use worker::{D1Database, Env, Response};

#[derive(Deserialize)]
struct Row {
    name: Option<String>,
    timezone: Option<String>,
    currency: Option<String>,
    publishing_platforms: Option<String>,
    cors_origins: Option<String>,
    updated_by: Option<String>,
    updated_at: Option<String>,
    commission_default_bps: Option<i64>,
    commission_max_bps: Option<i64>,
}

/// The tenant's settings, defaults filled in: its id as name, UTC, EUR, the built-in
/// commission rate, every platform of the deployment.
pub async fn load(env: &Env, db: &D1Database, tenant: &str) -> ApiResult<Settings> {
    let row: Option<Row> = store::first(store::query(
        db,
        "SELECT t.name, t.timezone, t.currency, t.publishing_platforms, t.cors_origins, t.updated_by,
                t.updated_at,
                (SELECT rate_bps FROM commission_rates WHERE tenant_id = :tenant AND broker_id = '')
                  AS commission_default_bps,
                (SELECT broker_rate_override_max_bps FROM finance_settings WHERE tenant_id = :tenant)
                  AS commission_max_bps
           FROM (SELECT 1) LEFT JOIN tenants t ON t.id = :tenant",
        &[("tenant", t(tenant))],
    )?)
    .await?;
    let configured = configured(env);
    let r = row.unwrap_or(Row {
        name: None,
        timezone: None,
        currency: None,
        publishing_platforms: None,
        cors_origins: None,
        updated_by: None,
        updated_at: None,
        commission_default_bps: None,
        commission_max_bps: None,
    });
    let platforms = r
        .publishing_platforms
        .as_deref()
        .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
        .map(|list| {
            list.into_iter()
                .filter(|p| configured.contains(p))
                .collect()
        })
        .unwrap_or(configured);
    Ok(Settings {
        name: r.name.unwrap_or_else(|| tenant.to_string()),
        timezone: r.timezone.unwrap_or_else(|| "UTC".into()),
        currency: r.currency.unwrap_or_else(|| "EUR".into()),
        commission_default_bps: r.commission_default_bps.unwrap_or(DEFAULT_RATE_BPS),
        commission_max_bps: r.commission_max_bps,
        publishing_platforms: platforms,
        cors_origins: crate::web::origins::parse(r.cors_origins.as_deref()),
        updated_by: r.updated_by,
        updated_at: r.updated_at,
    })
}

/// The deployment's platform names (`PUBLISHING_PLATFORMS`).
fn configured(env: &Env) -> Vec<String> {
    crate::api::publishing::platforms(env)
        .map(|ps| ps.into_iter().map(|(n, _)| n).collect())
        .unwrap_or_default()
}

/// The platforms the tenant's listings may use.
pub async fn platforms(env: &Env, db: &D1Database, tenant: &str) -> ApiResult<Vec<String>> {
    Ok(load(env, db, tenant).await?.publishing_platforms)
}

/// `GET /api/settings` (every member).
pub async fn get(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let db = cx.db()?;
    json(200, &load(&cx.env, &db, &who.tenant_id).await?)
}

/// `PUT /api/settings` (admins, partial): the fields given, each written where it lives, and
/// `settings:updated` with `changes`. Only the given fields are written, so concurrent edits
/// of different fields both stay; the same field's last write wins.
pub async fn put(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let current = load(&cx.env, &db, tenant).await?;
    let (mut next, given) = settings::apply(&current, &input, &configured(&cx.env))?;
    let changes = crate::domain::event::changes(
        &serde_json::to_value(&current)?,
        &serde_json::to_value(&next)?,
        settings::EDITABLE,
    );
    if changes.is_empty() {
        return json(200, &current);
    }
    let now = cx.now_iso();
    next.updated_by = Some(who.user_id.clone());
    next.updated_at = Some(now.clone());
    let mut data = serde_json::to_value(&next)?;
    data["changes"] = serde_json::Value::Object(changes);
    let event = outbox::draft("settings:updated", vec!["role:admin".into()], data).by(&who.user_id);
    // The tenant's row: created when missing, then only the given columns.
    let own: Vec<&str> = given
        .iter()
        .copied()
        .filter(|f| {
            matches!(
                *f,
                "name" | "timezone" | "currency" | "publishing_platforms" | "cors_origins"
            )
        })
        .collect();
    let sets: String = own.iter().map(|f| format!(", {f} = :{f}")).collect();
    let platforms = store::json_text(&next.publishing_platforms)?;
    let origins = store::json_text(&next.cors_origins)?;
    let mut args = vec![
        ("tenant", t(tenant)),
        ("now", t(&now)),
        ("by", t(&who.user_id)),
    ];
    for f in &own {
        args.push(match *f {
            "name" => ("name", t(&next.name)),
            "timezone" => ("timezone", t(&next.timezone)),
            "currency" => ("currency", t(&next.currency)),
            "cors_origins" => ("cors_origins", t(&origins)),
            _ => ("publishing_platforms", t(&platforms)),
        });
    }
    let mut stmts = vec![
        store::query(
            &db,
            "INSERT INTO tenants (id, name, created_at) VALUES (:tenant, :fallback_name, :now)
             ON CONFLICT (id) DO NOTHING",
            &[
                ("tenant", t(tenant)),
                ("fallback_name", t(&current.name)),
                ("now", t(&now)),
            ],
        )?,
        store::query(
            &db,
            &format!(
                "UPDATE tenants SET updated_by = :by, updated_at = :now{sets} WHERE id = :tenant"
            ),
            &args,
        )?,
    ];
    if given.contains(&"commission_default_bps") {
        stmts.push(store::query(
            &db,
            "INSERT INTO commission_rates (tenant_id, broker_id, rate_bps, updated_by, updated_at)
             VALUES (:tenant, '', :rate, :by, :now)
             ON CONFLICT (tenant_id, broker_id) DO UPDATE SET rate_bps = excluded.rate_bps,
               updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            &[
                ("tenant", t(tenant)),
                ("rate", i(next.commission_default_bps)),
                ("by", t(&who.user_id)),
                ("now", t(&now)),
            ],
        )?);
    }
    if given.contains(&"commission_max_bps") {
        stmts.push(store::query(
            &db,
            "INSERT INTO finance_settings (tenant_id, broker_rate_override_max_bps, updated_by, updated_at)
             VALUES (:tenant, :max, :by, :now)
             ON CONFLICT (tenant_id) DO UPDATE SET
               broker_rate_override_max_bps = excluded.broker_rate_override_max_bps,
               updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            &[
                ("tenant", t(tenant)),
                ("max", oi(next.commission_max_bps)),
                ("by", t(&who.user_id)),
                ("now", t(&now)),
            ],
        )?);
    }
    stmts.push(outbox::insert(&db, tenant, &event)?);
    store::batch(&db, stmts).await?;
    if given.contains(&"cors_origins") {
        crate::web::origins::forget();
    }
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(200, &next)
}
