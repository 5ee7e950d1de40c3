//! Saved notifications in D1: the row, the read rule applied to it, and the queries the
//! notification routes and the hub's `notifications` snapshot share.

use crate::domain::error::ApiResult;
use crate::domain::policy::{self, View};
use crate::platform;
use crate::store::{self, i, ot, t};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{D1Database, Env};

pub const COLUMNS: &str = "id, event_id, type, channels, data, created_ms, read_ms";

#[derive(Deserialize)]
pub struct Row {
    pub id: String,
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    channels: String,
    data: String,
    created_ms: i64,
    read_ms: Option<i64>,
}

/// The notification as `reader` may see it: the event's data after the same read rule as
/// its delivery (None when the reader may no longer read it, e.g. after a role change).
pub fn render(row: &Row, reader: &policy::Reader) -> Option<Value> {
    let channels: Vec<String> = serde_json::from_str(&row.channels).unwrap_or_default();
    let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
    let data = match policy::event_view(reader, &row.kind, &channels, &data) {
        View::Hidden => return None,
        View::Full => data,
        View::Redacted(d) => d,
    };
    Some(json!({
        "id": row.id,
        "event_id": row.event_id,
        "type": row.kind,
        "data": data,
        "created_at": platform::iso(row.created_ms),
        "read": row.read_ms.is_some(),
        "read_at": row.read_ms.map(platform::iso),
    }))
}

/// The newest notifications of a user (`unread_only`), after `after` (an id), at most
/// `limit`: shared by the list route and the hub's `notifications` snapshot.
pub fn newest(
    db: &D1Database,
    tenant: &str,
    user: &str,
    unread_only: bool,
    after: Option<&str>,
    limit: u32,
) -> ApiResult<worker::D1PreparedStatement> {
    store::query(
        db,
        &format!(
            "SELECT {COLUMNS} FROM notifications
             WHERE tenant_id = :tenant AND user_id = :user
               AND (:unread = 0 OR read_ms IS NULL)
               AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(tenant)),
            ("user", t(user)),
            ("unread", i(i64::from(unread_only))),
            ("after", ot(after)),
            ("limit", i(i64::from(limit))),
        ],
    )
}

/// How many of a user's notifications are unread.
pub fn unread_stmt(
    db: &D1Database,
    tenant: &str,
    user: &str,
) -> ApiResult<worker::D1PreparedStatement> {
    store::query(
        db,
        "SELECT COUNT(*) AS unread FROM notifications
         WHERE tenant_id = :tenant AND user_id = :user AND read_ms IS NULL",
        &[("tenant", t(tenant)), ("user", t(user))],
    )
}

#[derive(Deserialize)]
pub struct Unread {
    pub unread: i64,
}

/// The `notifications` snapshot of one reader: the unread count and the newest
/// `SNAPSHOT_ITEMS`, in one batch.
pub async fn snapshot(
    env: &Env,
    tenant: &str,
    user: &str,
    reader: &policy::Reader<'_>,
) -> ApiResult<Value> {
    use crate::domain::notifications::SNAPSHOT_ITEMS;
    let db = store::db(env)?;
    let mut r = store::batch(
        &db,
        vec![
            unread_stmt(&db, tenant, user)?,
            newest(&db, tenant, user, false, None, SNAPSHOT_ITEMS)?,
        ],
    )
    .await?;
    let rows: Vec<Row> = r
        .pop()
        .map(|x| x.results())
        .transpose()?
        .unwrap_or_default();
    let unread: Vec<Unread> = r
        .pop()
        .map(|x| x.results())
        .transpose()?
        .unwrap_or_default();
    let items: Vec<Value> = rows.iter().filter_map(|row| render(row, reader)).collect();
    Ok(json!({"unread": unread.first().map_or(0, |u| u.unread), "items": items}))
}
