//! `/api/notifications`: the caller's saved notifications (one per notified event
//! addressed to them, stored by the outbox trigger in the event's own batch), their read
//! state, and the read marks (`notification:read` on `user:<self>`) that keep the caller's
//! other devices in step. Every query is scoped to the caller's tenant and user: another
//! user's notification id is a 404.

use crate::domain::error::{ApiError, ApiResult};
use crate::domain::notifications::READ_EVENT;
use crate::domain::pagination;
use crate::realtime::outbox;
use crate::store::notifications::{newest, render, unread_stmt, Row, Unread, COLUMNS};
use crate::store::{self, i, ot, t};
use crate::web::ctx::Ctx;
use crate::web::respond::json;
use serde_json::{json, Value};
use worker::{D1Database, Response};

pub async fn list(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let page = cx.page()?;
    let unread = cx.query("unread").is_some_and(|v| v == "1" || v == "true");
    let db = cx.db()?;
    let rows: Vec<Row> = store::all(newest(
        &db,
        &who.tenant_id,
        &who.user_id,
        unread,
        page.after.as_deref(),
        page.limit + 1,
    )?)
    .await?;
    let (rows, next) = pagination::finish(rows, page.limit, |r| r.id.clone());
    let reader = who.reader();
    let data: Vec<Value> = rows.iter().filter_map(|r| render(r, &reader)).collect();
    json(200, &json!({"data": data, "next_cursor": next}))
}

pub async fn unread_count(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let db = cx.db()?;
    let n: Option<Unread> = store::first(unread_stmt(&db, &who.tenant_id, &who.user_id)?).await?;
    json(200, &json!({"unread": n.map_or(0, |n| n.unread)}))
}

/// The `notification:read` outbox row for the notifications this request marked (those
/// whose `read_ms` is its `:now`), with the caller's new unread count; none when nothing
/// changed (already read).
fn read_event(
    db: &D1Database,
    tenant: &str,
    user: &str,
    now: i64,
    only: Option<&str>,
) -> ApiResult<worker::D1PreparedStatement> {
    let draft = outbox::draft(
        READ_EVENT,
        vec![format!("user:{user}")],
        json!({"user_id": user}),
    );
    let marked = "FROM notifications WHERE tenant_id = :tenant AND user_id = :user
                  AND read_ms = :now AND (:only IS NULL OR id = :only)";
    outbox::insert_computed(
        db,
        tenant,
        &draft,
        &format!(
            "json_set(:ev_data,
               '$.ids', json((SELECT json_group_array(id) {marked})),
               '$.all', json(CASE WHEN :only IS NULL THEN 'true' ELSE 'false' END),
               '$.unread', (SELECT COUNT(*) FROM notifications WHERE tenant_id = :tenant
                            AND user_id = :user AND read_ms IS NULL))"
        ),
        &format!("WHERE EXISTS (SELECT 1 {marked})"),
        &[("user", t(user)), ("now", i(now)), ("only", ot(only))],
    )
}

pub async fn read(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("notification")?;
    let db = cx.db()?;
    let (tenant, user) = (who.tenant_id.as_str(), who.user_id.as_str());
    let now = cx.now_ms();
    let mark = store::query(
        &db,
        "UPDATE notifications SET read_ms = :now
         WHERE tenant_id = :tenant AND user_id = :user AND id = :id AND read_ms IS NULL",
        &[
            ("now", i(now)),
            ("tenant", t(tenant)),
            ("user", t(user)),
            ("id", t(&id)),
        ],
    )?;
    let event = read_event(&db, tenant, user, now, Some(&id))?;
    let get = store::query(
        &db,
        &format!(
            "SELECT {COLUMNS} FROM notifications
             WHERE tenant_id = :tenant AND user_id = :user AND id = :id"
        ),
        &[("tenant", t(tenant)), ("user", t(user)), ("id", t(&id))],
    )?;
    let mut results =
        outbox::commit_and_deliver(&cx.env, &db, tenant, vec![mark, event, get], true).await?;
    let row: Option<Row> = results
        .pop()
        .and_then(|r| r.results::<Row>().ok())
        .and_then(|mut v| v.pop());
    let row = row.ok_or_else(|| ApiError::not_found("notification"))?;
    let body = render(&row, &who.reader()).ok_or_else(|| ApiError::not_found("notification"))?;
    json(200, &body)
}

pub async fn read_all(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let db = cx.db()?;
    let (tenant, user) = (who.tenant_id.as_str(), who.user_id.as_str());
    let now = cx.now_ms();
    let mark = store::query(
        &db,
        "UPDATE notifications SET read_ms = :now
         WHERE tenant_id = :tenant AND user_id = :user AND read_ms IS NULL",
        &[("now", i(now)), ("tenant", t(tenant)), ("user", t(user))],
    )?;
    let event = read_event(&db, tenant, user, now, None)?;
    let results = outbox::commit_and_deliver(&cx.env, &db, tenant, vec![mark, event], true).await?;
    let read = results.first().map_or(0, store::changes);
    json(200, &json!({"read": read, "unread": 0}))
}
