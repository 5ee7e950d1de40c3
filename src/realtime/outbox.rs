//! The transactional outbox: every mutation adds its event row in the same D1 batch as the
//! change; rows are then delivered to the tenant hub (right after the write, and again by
//! the cron redrive until the hub has them). Delivery is at-least-once; the hub dedupes.

use super::hub_client;
use crate::domain::error::ApiResult;
use crate::domain::event::EventDraft;
use crate::platform;
use crate::store::{self, i, t};
use serde::Deserialize;
use serde_json::Value;
use worker::{D1Database, D1PreparedStatement, Env};

/// Rows sent to the hub per call.
const DELIVERY_PAGE: i64 = 100;
/// Pages per delivery run, so one request never loops for long.
const MAX_PAGES: usize = 10;

pub fn draft(kind: &str, channels: Vec<String>, data: Value) -> EventDraft {
    let now = platform::now_ms();
    EventDraft {
        id: crate::domain::ids::make_id("evt", now, &platform::random_hex()),
        kind: kind.to_string(),
        channels,
        data,
        ts: platform::iso(now),
    }
}

const INSERT_SQL: &str =
    "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms, hub)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// The outbox row for `d` (to the tenant hub), to put in the same batch as the change.
pub fn insert(db: &D1Database, tenant: &str, d: &EventDraft) -> ApiResult<D1PreparedStatement> {
    insert_to(db, tenant, "", d)
}

/// The outbox row for `d` to a room's hub (`room` = "" for the tenant hub).
pub fn insert_to(
    db: &D1Database,
    tenant: &str,
    room: &str,
    d: &EventDraft,
) -> ApiResult<D1PreparedStatement> {
    let mut a = args(tenant, d)?;
    a.push(t(room));
    store::stmt(db, INSERT_SQL, &a)
}

/// Like `insert`, but only when the customer-like row `(table, tenant, id)` exists at commit
/// time: an update or delete racing a delete then records no event for a change that
/// did not happen.
pub fn insert_if_exists(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    table: &'static str,
    entity_id: &str,
) -> ApiResult<D1PreparedStatement> {
    let exists = format!("SELECT 1 FROM {table} WHERE tenant_id = ?2 AND id = ?8");
    insert_when(db, tenant, d, &exists, &[t(entity_id)])
}

/// Like `insert`, but only when `exists_sql` (a `SELECT 1 …` that may use ?2 = tenant and
/// ?8, ?9, … = `extra`) finds a row at commit time.
pub fn insert_when(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    exists_sql: &str,
    extra: &[worker::wasm_bindgen::JsValue],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!(
        "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS ({exists_sql})"
    );
    let mut a = args(tenant, d)?;
    a.extend_from_slice(extra);
    store::stmt(db, &sql, &a)
}

/// Like `insert_when`, but the event's `data` is the SQL expression `data_sql`, evaluated
/// at commit time for each row of `from_sql` (`FROM … WHERE …`; ?5 is the draft's data as
/// JSON text, ?2 the tenant, ?8, ?9, … `extra`): the event carries the values the batch's
/// earlier statements left, not the ones read before it.
pub fn insert_computed(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    data_sql: &str,
    from_sql: &str,
    extra: &[worker::wasm_bindgen::JsValue],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!(
        "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms)
         SELECT ?1, ?2, ?3, ?4, {data_sql}, ?6, ?7 {from_sql}"
    );
    let mut a = args(tenant, d)?;
    a.extend_from_slice(extra);
    store::stmt(db, &sql, &a)
}

fn args(tenant: &str, d: &EventDraft) -> ApiResult<Vec<worker::wasm_bindgen::JsValue>> {
    Ok(vec![
        t(&d.id),
        t(tenant),
        t(&d.kind),
        t(&store::json_text(&d.channels)?),
        t(&store::json_text(&d.data)?),
        t(&d.ts),
        i(platform::now_ms()),
    ])
}

#[derive(Deserialize)]
struct PendingRow {
    hub: String,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    channels: String,
    data: String,
    ts: String,
}

thread_local! {
    /// Outbox rows already appended to their hub whose `delivered_seq` is not written yet:
    /// (tenant, id, seq). Any entry point may flush them (the rows are the isolate's, not
    /// the request's); until then a redelivery is harmless, because hubs dedupe by id.
    static MARKS: std::cell::RefCell<Vec<(String, String, i64)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Writes the pending "delivered" marks. The fetch handler runs this in `wait_until`,
/// after the response has gone; the queue and cron handlers at their end. Keeping the
/// mark off the request path saves a D1 round trip per write; the event itself is in
/// the hub's durable history before the response either way.
pub async fn flush_marks(env: &Env) {
    let marks: Vec<(String, String, i64)> = MARKS.with(|m| std::mem::take(&mut *m.borrow_mut()));
    if marks.is_empty() {
        return;
    }
    let Ok(db) = store::db(env) else { return };
    for chunk in marks.chunks(50) {
        let stmts: ApiResult<Vec<_>> = chunk
            .iter()
            .map(|(tenant, id, seq)| {
                store::stmt(
                    &db,
                    "UPDATE outbox SET delivered_seq = ?1 WHERE tenant_id = ?2 AND id = ?3",
                    &[i(*seq), t(tenant), t(id)],
                )
            })
            .collect();
        let done = match stmts {
            Ok(s) => store::batch(&db, s).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            worker::console_warn!("outbox: delivered marks left to the redrive: {}", e.message);
        }
    }
}

/// Delivers the tenant's undelivered outbox rows to their hubs (the tenant hub and any
/// rooms), oldest first. Returns how many rows the hubs confirmed.
pub async fn deliver_pending(env: &Env, tenant: &str) -> ApiResult<usize> {
    let db = store::db(env)?;
    let mut delivered = 0;
    for _ in 0..MAX_PAGES {
        let rows: Vec<PendingRow> = store::all(pending_stmt(&db, tenant)?).await?;
        let (n, full) = deliver_rows(env, &db, tenant, rows).await?;
        delivered += n;
        if !full {
            break;
        }
    }
    Ok(delivered)
}

const PENDING_SQL: &str = "SELECT hub, id, type, channels, data, ts FROM outbox
     WHERE tenant_id = ?1 AND delivered_seq IS NULL
     ORDER BY rowid LIMIT ?2";

fn pending_stmt(db: &D1Database, tenant: &str) -> ApiResult<D1PreparedStatement> {
    store::stmt(db, PENDING_SQL, &[t(tenant), i(DELIVERY_PAGE)])
}

/// Delivers one page of pending rows; returns how many and whether the page was full
/// (more may wait).
async fn deliver_rows(
    env: &Env,
    db: &D1Database,
    tenant: &str,
    rows: Vec<PendingRow>,
) -> ApiResult<(usize, bool)> {
    let n = rows.len();
    // Rows this isolate already appended (their marks are pending) are not sent again.
    let appended: Vec<String> =
        MARKS.with(|m| m.borrow().iter().map(|(_, id, _)| id.clone()).collect());
    if (n as i64) >= DELIVERY_PAGE && rows.iter().any(|r| appended.contains(&r.id)) {
        // A full page of a backlog: write the pending marks now, so the next page moves on.
        flush_marks(env).await;
    }
    // Group by hub, keeping each hub's rows in commit order.
    let mut groups: Vec<(String, Vec<EventDraft>)> = Vec::new();
    for r in rows.into_iter().filter(|r| !appended.contains(&r.id)) {
        let d = EventDraft {
            id: r.id,
            kind: r.kind,
            channels: serde_json::from_str(&r.channels).unwrap_or_default(),
            data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
            ts: r.ts,
        };
        match groups.iter_mut().find(|(h, _)| *h == r.hub) {
            Some((_, v)) => v.push(d),
            None => groups.push((r.hub, vec![d])),
        }
    }
    // The last page's "delivered" marks are written after the response (see
    // `flush_marks`); a backlog page is marked at once so the next page moves on.
    let full = (n as i64) >= DELIVERY_PAGE;
    let mut delivered = 0;
    for (hub, drafts) in &groups {
        delivered += deliver_group(env, db, tenant, hub, drafts, !full).await?;
    }
    Ok((delivered, full))
}

/// Runs a write's statements as one D1 batch that also reads the tenant's undelivered
/// outbox rows at its end, then delivers them: the change and its events reach the hub
/// with one D1 round trip fewer than `store::batch` + `deliver_after_write`. Returns the
/// results of `stmts`. `deliver = false` leaves the rows to the redrive (dev fault).
pub async fn commit_and_deliver(
    env: &Env,
    db: &D1Database,
    tenant: &str,
    mut stmts: Vec<D1PreparedStatement>,
    deliver: bool,
) -> ApiResult<Vec<worker::D1Result>> {
    stmts.push(pending_stmt(db, tenant)?);
    let mut results = store::batch(db, stmts).await?;
    let pending = results.pop();
    if deliver {
        let rows: Vec<PendingRow> = match pending.map(|p| p.results::<PendingRow>()) {
            Some(Ok(rows)) => rows,
            _ => Vec::new(),
        };
        match deliver_rows(env, db, tenant, rows).await {
            Ok((_, true)) => deliver_after_write(env, tenant).await,
            Ok(_) => {}
            Err(e) => worker::console_warn!(
                "outbox: deferred to redrive for tenant {tenant}: {}",
                e.message
            ),
        }
    }
    Ok(results)
}

/// Appends one hub's rows and records their seqs (or the failure, for the redrive).
async fn deliver_group(
    env: &Env,
    db: &D1Database,
    tenant: &str,
    room: &str,
    drafts: &[EventDraft],
    defer: bool,
) -> ApiResult<usize> {
    match hub_client::append(env, tenant, room, drafts).await {
        Ok(results) if defer => {
            MARKS.with(|m| {
                let mut m = m.borrow_mut();
                for r in &results {
                    m.push((tenant.to_string(), r.id.clone(), r.seq as i64));
                }
            });
            Ok(results.len())
        }
        Ok(results) => {
            let updates = results
                .iter()
                .map(|r| {
                    store::stmt(
                        db,
                        "UPDATE outbox SET delivered_seq = ?1 WHERE tenant_id = ?2 AND id = ?3",
                        &[i(r.seq as i64), t(tenant), t(&r.id)],
                    )
                })
                .collect::<ApiResult<Vec<_>>>()?;
            let n = updates.len();
            store::batch(db, updates).await?;
            Ok(n)
        }
        Err(e) => {
            worker::console_error!(
                "outbox: delivery to hub '{room}' of tenant {tenant} failed: {e}"
            );
            let msg = e.to_string();
            let updates = drafts
                .iter()
                .map(|d| {
                    store::stmt(
                        db,
                        "UPDATE outbox SET attempts = attempts + 1, last_error = ?1
                         WHERE tenant_id = ?2 AND id = ?3",
                        &[t(&msg), t(tenant), t(&d.id)],
                    )
                })
                .collect::<ApiResult<Vec<_>>>()?;
            store::batch(db, updates).await?;
            Err(crate::domain::error::ApiError::unavailable(
                "realtime hub unavailable; events stay queued in the outbox",
            ))
        }
    }
}

/// A row of any tenant-owned table with its tenant (for the crons, which span tenants).
#[derive(Deserialize)]
pub struct TenantRow<T> {
    pub tenant_id: String,
    #[serde(flatten)]
    pub item: T,
}

/// Emits `event` for one row exactly once, even under overlapping cron runs: the row's
/// `flag` column is set to this run's `marker` where it is still NULL (and `open` holds),
/// and the event is recorded only if this run's marker is the one stored. `extra`
/// statements (guarded the same way by the caller) commit in the same batch. Returns
/// whether this run was the one that emitted.
#[allow(clippy::too_many_arguments)]
pub async fn emit_once(
    db: &D1Database,
    tenant: &str,
    table: &str,
    id: &str,
    flag: &str,
    open: &str,
    marker: &str,
    event: &EventDraft,
    extra: Vec<D1PreparedStatement>,
) -> ApiResult<bool> {
    let mut stmts = vec![
            store::stmt(
                db,
                &format!(
                    "UPDATE {table} SET {flag} = ?3 WHERE tenant_id = ?1 AND id = ?2 AND {flag} IS NULL AND {open}"
                ),
                &[t(tenant), t(id), t(marker)],
            )?,
            insert_when(
                db,
                tenant,
                event,
                &format!("SELECT 1 FROM {table} WHERE tenant_id = ?2 AND id = ?8 AND {flag} = ?9"),
                &[t(id), t(marker)],
            )?,
    ];
    stmts.extend(extra);
    let results = store::batch(db, stmts).await?;
    Ok(results.first().map(store::changes) == Some(1))
}

/// Delivers the pending events of each tenant once (after a cron touched several).
pub async fn deliver_tenants<'a>(env: &Env, tenants: impl IntoIterator<Item = &'a String>) {
    let mut seen: Vec<&String> = Vec::new();
    for tn in tenants {
        if !seen.contains(&tn) {
            seen.push(tn);
            deliver_after_write(env, tn).await;
        }
    }
}

/// A guarded UPDATE and its event, committed together: the outbox row is written only when
/// the UPDATE changed its row, and `extra` statements follow in the same batch. Returns
/// whether it applied (then the event is delivered, as after any write).
pub async fn update_with_event(
    env: &Env,
    db: &D1Database,
    tenant: &str,
    update: D1PreparedStatement,
    event: &EventDraft,
    extra: Vec<D1PreparedStatement>,
) -> ApiResult<bool> {
    let mut stmts = vec![
        update,
        // Only when the guarded update just above applied.
        insert_when(db, tenant, event, "SELECT 1 WHERE changes() = 1", &[])?,
    ];
    stmts.extend(extra);
    let results = store::batch(db, stmts).await?;
    let applied = results.first().map(store::changes) == Some(1);
    if applied {
        deliver_after_write(env, tenant).await;
    }
    Ok(applied)
}

/// Same, after a write: a failure is logged, never turned into a failed request, because
/// the change is already committed and the cron redrive will deliver it.
pub async fn deliver_after_write(env: &Env, tenant: &str) {
    if let Err(e) = deliver_pending(env, tenant).await {
        worker::console_warn!(
            "outbox: deferred to redrive for tenant {tenant}: {}",
            e.message
        );
    }
}

#[derive(Deserialize)]
struct TenantOnly {
    tenant_id: String,
}

/// Cron redrive: every tenant with undelivered rows gets a delivery run.
pub async fn redrive(env: &Env) -> ApiResult<(usize, usize)> {
    let db = store::db(env)?;
    let tenants: Vec<TenantOnly> = store::all(store::stmt(
        &db,
        "SELECT DISTINCT tenant_id FROM outbox WHERE delivered_seq IS NULL LIMIT 100",
        &[],
    )?)
    .await?;
    let mut events = 0;
    for tr in &tenants {
        match deliver_pending(env, &tr.tenant_id).await {
            Ok(n) => events += n,
            Err(e) => worker::console_error!("redrive {}: {}", tr.tenant_id, e.message),
        }
    }
    Ok((tenants.len(), events))
}

/// Like `insert_when`, but the event's data is read at commit time: `select` is a
/// `SELECT <json> AS data FROM … WHERE …` (it may use ?2 = tenant and ?8, ?9, … = `extra`);
/// no row, no event. For events that carry what the same batch just wrote.
pub fn insert_select(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    select: &str,
    extra: &[worker::wasm_bindgen::JsValue],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!(
        "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms)
         SELECT ?1, ?2, ?3, ?4, x.data, ?6, ?7 FROM ({select}) x"
    );
    let mut a = args(tenant, d)?;
    a.extend_from_slice(extra);
    store::stmt(db, &sql, &a)
}

/// Delivered rows are kept this long (the hubs hold the history clients replay).
pub const DELIVERED_KEEP_MS: i64 = 7 * 24 * 3600 * 1000;

/// Deletes at most `limit` delivered rows created before `cutoff_ms` (one bounded step of
/// the cron's pruning; undelivered rows are never deleted).
pub fn prune_delivered(
    db: &D1Database,
    cutoff_ms: i64,
    limit: i64,
) -> ApiResult<D1PreparedStatement> {
    store::stmt(
        db,
        "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox
           WHERE delivered_seq IS NOT NULL AND created_ms < ?1 LIMIT ?2)",
        &[i(cutoff_ms), i(limit)],
    )
}
