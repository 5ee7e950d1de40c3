//! The transactional outbox: every mutation adds its event row in the same D1 batch as the
//! change; rows are then delivered to the tenant hub (right after the write, and again by
//! the cron redrive until the hub has them). Delivery is at-least-once; the hub dedupes.

use super::hub_client;
use crate::domain::error::ApiResult;
use crate::domain::event::EventDraft;
use crate::domain::notifications;
use crate::platform;
use crate::store::{self, i, t, Arg};
use serde::Deserialize;
use serde_json::Value;
use worker::wasm_bindgen::JsValue;
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
        actor: None,
    }
}

/// The outbox row's own values: `:tenant` and `:ev_*` (a caller's condition may use
/// `:tenant`; its own names must be other than these). `data` is left out where the
/// statement computes the event's data itself.
fn row_args(
    tenant: &str,
    d: &EventDraft,
    with_data: bool,
) -> ApiResult<Vec<(&'static str, JsValue)>> {
    let mut a = vec![
        ("ev_id", t(&d.id)),
        ("tenant", t(tenant)),
        ("ev_type", t(&d.kind)),
        ("ev_channels", t(&store::json_text(&d.channels)?)),
        ("ev_ts", t(&d.ts)),
        ("ev_created_ms", i(platform::now_ms())),
        // Stored as notifications of the users it addresses (migration 0021's trigger).
        ("ev_notify", i(i64::from(notifications::notified(&d.kind)))),
        // Recorded in the audit trail (migration 0024's trigger) when set.
        ("ev_actor", store::ot(d.actor.as_deref())),
    ];
    if with_data {
        a.push(("ev_data", t(&store::json_text(&d.data)?)));
    }
    Ok(a)
}

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
    let mut a = row_args(tenant, d, true)?;
    a.push(("ev_hub", t(room)));
    if !room.is_empty() {
        // A room's events are its members' conversation, not anyone's inbox.
        for (k, v) in a.iter_mut() {
            if *k == "ev_notify" {
                *v = i(0);
            }
        }
    }
    store::query(
        db,
        "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms, notify, actor, hub)
         VALUES (:ev_id, :tenant, :ev_type, :ev_channels, :ev_data, :ev_ts, :ev_created_ms, :ev_notify, :ev_actor, :ev_hub)",
        &a,
    )
}

/// Like `insert`, but only when the row `(table, tenant, id)` exists at commit time: an
/// update or delete racing a delete then records no event for a change that did not
/// happen.
pub fn insert_if_exists(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    table: &'static str,
    entity_id: &str,
) -> ApiResult<D1PreparedStatement> {
    let exists = format!("SELECT 1 FROM {table} WHERE tenant_id = :tenant AND id = :entity");
    insert_when(db, tenant, d, &exists, &[("entity", t(entity_id))])
}

/// Like `insert`, but only when `exists_sql` (a `SELECT 1 …` that may use `:tenant` and
/// the names of `extra`) finds a row at commit time.
pub fn insert_when(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    exists_sql: &str,
    extra: &[Arg<'_>],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!(
        "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms, notify, actor)
         SELECT :ev_id, :tenant, :ev_type, :ev_channels, :ev_data, :ev_ts, :ev_created_ms, :ev_notify, :ev_actor
         WHERE EXISTS ({exists_sql})"
    );
    let mut a = row_args(tenant, d, true)?;
    a.extend_from_slice(extra);
    store::query(db, &sql, &a)
}

/// Like `insert_when`, but the event's `data` is the SQL expression `data_sql`, evaluated
/// at commit time for each row of `from_sql` (`FROM … WHERE …`). `data_sql` starts from
/// `:ev_data` (the draft's data as JSON text); both may use `:tenant` and the names of
/// `extra`. The event carries the values the batch's earlier statements left, not the
/// ones read before it.
pub fn insert_computed(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    data_sql: &str,
    from_sql: &str,
    extra: &[Arg<'_>],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!(
        "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms, notify, actor)
         SELECT :ev_id, :tenant, :ev_type, :ev_channels, {data_sql}, :ev_ts, :ev_created_ms, :ev_notify, :ev_actor
         {from_sql}"
    );
    let mut a = row_args(tenant, d, true)?;
    a.extend_from_slice(extra);
    store::query(db, &sql, &a)
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

/// An outbox row already appended to its hub whose `delivered_seq` is not written yet.
struct Mark {
    tenant: String,
    id: String,
    seq: i64,
    /// When a batch that is on its way took it (ms; 0: free). A claim older than
    /// `CLAIM_STALE_MS` is free again: its batch died with its request (a cancelled
    /// context never settles), and the mark must not wait for it forever.
    claimed: f64,
}

/// A claimed mark whose batch has not settled after this long is claimable again.
const CLAIM_STALE_MS: f64 = 10_000.0;

impl Mark {
    fn free(&self, now: f64) -> bool {
        self.claimed == 0.0 || now - self.claimed > CLAIM_STALE_MS
    }
}

thread_local! {
    /// The isolate's pending "delivered" marks. Any entry point may write them (the rows
    /// are the isolate's, not the request's); until then a redelivery is harmless, because
    /// hubs dedupe by id. Under a steady write load they ride in the next write's batch
    /// (`commit_and_deliver`), so delivering costs no D1 call of its own.
    static MARKS: std::cell::RefCell<Vec<Mark>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks written by one statement at most.
const MARKS_PER_STATEMENT: usize = 100;

/// Claims up to `max` free marks (for a batch about to be sent).
fn claim_marks(max: usize) -> Vec<(String, String, i64)> {
    claim_marks_at(max, worker::js_sys::Date::now(), false)
}

/// `all`: claimed marks too (a handler that needs the seq now must not wait for another
/// request's batch; writing a mark twice is harmless).
fn claim_marks_at(max: usize, now: f64, all: bool) -> Vec<(String, String, i64)> {
    MARKS.with(|m| {
        m.borrow_mut()
            .iter_mut()
            .filter(|k| all || k.free(now))
            .take(max)
            .map(|k| {
                k.claimed = now;
                (k.tenant.clone(), k.id.clone(), k.seq)
            })
            .collect()
    })
}

/// After the batch that carried `ids`: written (drop them) or not (claimable again).
fn settle_marks(ids: &[(String, String, i64)], written: bool) {
    MARKS.with(|m| {
        let mut m = m.borrow_mut();
        if written {
            m.retain(|k| !ids.iter().any(|(_, id, _)| *id == k.id));
        } else {
            for k in m
                .iter_mut()
                .filter(|k| ids.iter().any(|(_, id, _)| *id == k.id))
            {
                k.claimed = 0.0;
            }
        }
    });
}

/// One statement that records the hub's seq of each delivered row (each row of its own
/// tenant), instead of one UPDATE per row.
fn marks_stmt(db: &D1Database, marks: &[(String, String, i64)]) -> ApiResult<D1PreparedStatement> {
    store::query(
        db,
        "UPDATE outbox SET delivered_seq = json_extract(m.value, '$[2]')
         FROM json_each(:marks) AS m
         WHERE outbox.id = json_extract(m.value, '$[1]')
           AND outbox.tenant_id = json_extract(m.value, '$[0]')",
        &[("marks", t(&store::json_text(&marks)?))],
    )
}

/// Writes the pending "delivered" marks (part of `flush`) that no write batch carried
/// (`all`: those a batch in flight carries too). False when D1 refused them (they stay
/// for a later flush or the redrive).
async fn flush_marks(env: &Env, all: bool) -> bool {
    let Ok(db) = store::db(env) else { return false };
    loop {
        // Written marks are dropped when they settle, so each pass takes new ones.
        let marks = claim_marks_at(MARKS_PER_STATEMENT, worker::js_sys::Date::now(), all);
        if marks.is_empty() {
            return true;
        }
        let done = match marks_stmt(&db, &marks) {
            Ok(s) => store::run(s).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = &done {
            worker::console_warn!("outbox: delivered marks left to the redrive: {}", e.message);
        }
        settle_marks(&marks, done.is_ok());
        if done.is_err() {
            return false;
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
        // A full page of rows this isolate already appended (their marks on their way in
        // another batch) would only be read again.
        if !full || n == 0 {
            break;
        }
    }
    Ok(delivered)
}

fn pending_stmt(db: &D1Database, tenant: &str) -> ApiResult<D1PreparedStatement> {
    store::query(
        db,
        "SELECT hub, id, type, channels, data, ts FROM outbox
         WHERE tenant_id = :tenant AND delivered_seq IS NULL
         ORDER BY rowid LIMIT :limit",
        &[("tenant", t(tenant)), ("limit", i(DELIVERY_PAGE))],
    )
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
    let appended: Vec<String> = MARKS.with(|m| m.borrow().iter().map(|k| k.id.clone()).collect());
    if (n as i64) >= DELIVERY_PAGE && rows.iter().any(|r| appended.contains(&r.id)) {
        // A full page of a backlog: write the pending marks now, so the next page moves on.
        flush_marks(env, false).await;
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
            actor: None,
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
/// outbox rows at its end, and queues those rows for delivery right after the answer
/// (`flush`, from the entry point's `wait_until`). Returns the results of `stmts`.
///
/// The hub append is off the answer's path: the rows are durable in the outbox once the
/// batch commits, the redrive delivers any that the after-answer delivery misses, and a
/// client that subscribes right after the answer either finds the event in the replay or
/// receives it live when it arrives. Rows queued by concurrent writes of the same tenant
/// are delivered together, in commit order. `deliver = false` leaves the rows to the
/// redrive (dev fault).
pub async fn commit_and_deliver(
    _env: &Env,
    db: &D1Database,
    tenant: &str,
    mut stmts: Vec<D1PreparedStatement>,
    deliver: bool,
) -> ApiResult<Vec<worker::D1Result>> {
    // Earlier deliveries' marks ride first in this batch (no D1 call of their own), so the
    // pending rows read at its end are only the ones no hub has yet. A failed batch leaves
    // them to the next write or flush.
    let pending = pending_stmt(db, tenant)?;
    let mut marks = claim_marks(MARKS_PER_STATEMENT);
    if !marks.is_empty() {
        match marks_stmt(db, &marks) {
            Ok(m) => stmts.insert(0, m),
            // Never fail a write over bookkeeping: the marks wait for a flush.
            Err(_) => {
                settle_marks(&marks, false);
                marks.clear();
            }
        }
    }
    stmts.push(pending);
    let batch = store::batch(db, stmts).await;
    settle_marks(&marks, batch.is_ok());
    let mut results = batch?;
    if !marks.is_empty() {
        results.remove(0);
    }
    let pending = results.pop();
    if deliver {
        if let Some(Ok(rows)) = pending.map(|p| store::rows::<PendingRow>(&p)) {
            queue_rows(tenant, rows);
        }
    }
    Ok(results)
}

thread_local! {
    /// Committed rows waiting for their delivery after the answer: per tenant, in commit
    /// order, each row once.
    static QUEUED: std::cell::RefCell<Vec<(String, Vec<PendingRow>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

thread_local! {
    /// Tenants whose undelivered rows `flush` scans (`deliver_after_write`).
    static SCANS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn queue_rows(tenant: &str, rows: Vec<PendingRow>) {
    if rows.is_empty() {
        return;
    }
    QUEUED.with(|q| {
        let mut q = q.borrow_mut();
        match q.iter_mut().find(|(t, _)| t == tenant) {
            Some((_, list)) => {
                for r in rows {
                    if !list.iter().any(|x| x.id == r.id) {
                        list.push(r);
                    }
                }
            }
            None => q.push((tenant.to_string(), rows)),
        }
    });
}

/// Delivers the rows that writes queued (`commit_and_deliver`, `deliver_after_write`),
/// then writes the pending "delivered" marks. Every entry point runs it at its end: the
/// fetch handler in `wait_until`, after the answer; the queue and cron handlers before
/// they return. Rows it cannot deliver stay in the outbox for the redrive.
///
/// One flush runs at a time per isolate, and it goes on until nothing is queued: writes
/// that commit while an append is on its way go together in the next round, so under load
/// one hub append and one marks batch carry many writes' events. A caller that finds a
/// flush running returns at once: the running one delivers its rows too. It never waits
/// for the other: a future woken from another request's context would do its I/O there,
/// which the runtime refuses ("Cannot perform I/O on behalf of a different request").
/// A flush that stopped without clearing its mark (its context was cancelled) is taken
/// over after `FLUSH_STALE_MS`; after `FLUSH_ROUNDS` rounds it hands over to the next
/// request, so no single context works forever under sustained load.
pub async fn flush(env: &Env) {
    let now = worker::js_sys::Date::now();
    let running = FLUSHING.with(|f| {
        let since = f.get();
        if since > 0.0 && now - since < FLUSH_STALE_MS {
            true
        } else {
            f.set(now);
            false
        }
    });
    if running {
        return;
    }
    struct Release;
    impl Drop for Release {
        fn drop(&mut self) {
            FLUSHING.with(|f| f.set(0.0));
        }
    }
    let _release = Release;
    for _ in 0..FLUSH_ROUNDS {
        if !flush_round(env, false).await {
            break;
        }
        FLUSHING.with(|f| f.set(worker::js_sys::Date::now()));
    }
}

/// One round of delivery in the caller's own context, whatever else is running: for a
/// handler whose answer depends on the marks (publish names the seq; stats count the lag).
pub async fn flush_here(env: &Env) {
    flush_round(env, true).await;
}

/// Delivers what is queued now and writes the pending marks (`all_marks`: even while
/// writes are coming); false when there was nothing.
async fn flush_round(env: &Env, all_marks: bool) -> bool {
    let queued = QUEUED.with(|q| std::mem::take(&mut *q.borrow_mut()));
    let scans = SCANS.with(|s| std::mem::take(&mut *s.borrow_mut()));
    let now = worker::js_sys::Date::now();
    let marks = MARKS.with(|m| m.borrow().iter().any(|k| k.free(now)));
    if queued.is_empty() && scans.is_empty() && !marks {
        return false;
    }
    deliver_queued(env, queued).await;
    for tenant in scans {
        deliver_now(env, &tenant).await;
    }
    // While writes keep committing (rows queued again), their batches carry the marks;
    // the round that finds nothing new writes what is left.
    let busy = QUEUED.with(|q| !q.borrow().is_empty());
    let many = MARKS.with(|m| m.borrow().len() >= MARKS_PER_STATEMENT);
    if (all_marks || !busy || many) && !flush_marks(env, all_marks).await {
        // D1 refused the marks: no more rounds now (each would fail the same way).
        return false;
    }
    true
}

/// A flush older than this is taken to have died with its context.
const FLUSH_STALE_MS: f64 = 10_000.0;
/// Rounds one flush runs before it leaves the rest to the next request's flush.
const FLUSH_ROUNDS: usize = 16;

thread_local! {
    /// When the running `flush` of this isolate last made progress (0: none runs).
    static FLUSHING: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

async fn deliver_queued(env: &Env, queued: Vec<(String, Vec<PendingRow>)>) {
    if queued.is_empty() {
        return;
    }
    let Ok(db) = store::db(env) else { return };
    for (tenant, rows) in queued {
        let mut rows = rows.into_iter().peekable();
        let mut backlog = false;
        while rows.peek().is_some() {
            let page: Vec<PendingRow> = rows.by_ref().take(DELIVERY_PAGE as usize).collect();
            match deliver_rows(env, &db, &tenant, page).await {
                Ok((_, full)) => backlog = full,
                Err(e) => {
                    worker::console_warn!(
                        "outbox: deferred to redrive for tenant {tenant}: {}",
                        e.message
                    );
                    backlog = false;
                    break;
                }
            }
        }
        if backlog {
            deliver_now(env, &tenant).await;
        }
    }
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
                    m.push(Mark {
                        tenant: tenant.to_string(),
                        id: r.id.clone(),
                        seq: r.seq as i64,
                        claimed: 0.0,
                    });
                }
            });
            Ok(results.len())
        }
        Ok(results) => {
            let marks: Vec<(String, String, i64)> = results
                .iter()
                .map(|r| (tenant.to_string(), r.id.clone(), r.seq as i64))
                .collect();
            for chunk in marks.chunks(MARKS_PER_STATEMENT) {
                store::run(marks_stmt(db, chunk)?).await?;
            }
            Ok(marks.len())
        }
        Err(e) => {
            worker::console_error!(
                "outbox: delivery to hub '{room}' of tenant {tenant} failed: {e}"
            );
            let msg = e.to_string();
            let updates = drafts
                .iter()
                .map(|d| {
                    store::query(
                        db,
                        "UPDATE outbox SET attempts = attempts + 1, last_error = :error
                         WHERE tenant_id = :tenant AND id = :id",
                        &[("error", t(&msg)), ("tenant", t(tenant)), ("id", t(&d.id))],
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

/// The tenant of a row of any tenant-owned table (for the crons, which span tenants; read
/// beside the row with `store::all_pairs`).
#[derive(Deserialize)]
pub struct Tenant {
    pub tenant_id: String,
}

/// Emits `event` for one row exactly once, even under overlapping cron runs: the row's
/// `flag` column is set to this run's `marker` where it is still NULL (and the row still
/// has `status`, and `still.0`, ` AND …` with the names of `still.1`, holds: the row is
/// still the one that was read), and the event is recorded only if this run's marker is the
/// one stored.
/// `extra` statements (guarded the same way by the caller) commit in the same batch.
/// Returns whether this run was the one that emitted.
#[allow(clippy::too_many_arguments)]
pub async fn emit_once(
    db: &D1Database,
    tenant: &str,
    table: &str,
    id: &str,
    flag: &str,
    status: &str,
    marker: &str,
    event: &EventDraft,
    extra: Vec<D1PreparedStatement>,
    still: (&str, &[Arg<'_>]),
) -> ApiResult<bool> {
    let mut args = vec![
        ("marker", t(marker)),
        ("tenant", t(tenant)),
        ("id", t(id)),
        ("status", t(status)),
    ];
    args.extend_from_slice(still.1);
    let mut stmts = vec![
        store::query(
            db,
            &format!(
                "UPDATE {table} SET {flag} = :marker
                 WHERE tenant_id = :tenant AND id = :id AND {flag} IS NULL AND status = :status{}",
                still.0
            ),
            &args,
        )?,
        insert_when(
            db,
            tenant,
            event,
            &format!(
                "SELECT 1 FROM {table} WHERE tenant_id = :tenant AND id = :row AND {flag} = :marker"
            ),
            &[("row", t(id)), ("marker", t(marker))],
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
    // Any count: it may include rows that triggers wrote (a customer's search index).
    let applied = results.first().map(store::changes).unwrap_or(0) > 0;
    if applied {
        deliver_after_write(env, tenant).await;
    }
    Ok(applied)
}

/// Delivers the tenant's undelivered rows after the answer (`flush` scans them), for a
/// write that committed its outbox rows without `commit_and_deliver`.
pub async fn deliver_after_write(_env: &Env, tenant: &str) {
    SCANS.with(|s| {
        let mut s = s.borrow_mut();
        if !s.iter().any(|t| t == tenant) {
            s.push(tenant.to_string());
        }
    });
}

/// Delivers the tenant's undelivered rows now, before the answer (for an answer that
/// names the event's seq).
pub async fn deliver_now(env: &Env, tenant: &str) {
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
    let tenants: Vec<TenantOnly> = store::all(store::query(
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
/// `SELECT <json> AS data FROM … WHERE …` (it may use `:tenant` and the names of
/// `extra`); no row, no event. For events that carry what the same batch just wrote.
pub fn insert_select(
    db: &D1Database,
    tenant: &str,
    d: &EventDraft,
    select: &str,
    extra: &[Arg<'_>],
) -> ApiResult<D1PreparedStatement> {
    let sql = format!(
        "INSERT INTO outbox (id, tenant_id, type, channels, data, ts, created_ms, notify, actor)
         SELECT :ev_id, :tenant, :ev_type, :ev_channels, x.data, :ev_ts, :ev_created_ms, :ev_notify, :ev_actor
         FROM ({select}) x"
    );
    let mut a = row_args(tenant, d, false)?;
    a.extend_from_slice(extra);
    store::query(db, &sql, &a)
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
    store::query(
        db,
        "DELETE FROM outbox WHERE rowid IN (SELECT rowid FROM outbox
           WHERE delivered_seq IS NOT NULL AND created_ms < :cutoff LIMIT :limit)",
        &[("cutoff", i(cutoff_ms)), ("limit", i(limit))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(id: &str) {
        MARKS.with(|m| {
            m.borrow_mut().push(Mark {
                tenant: "t1".into(),
                id: id.into(),
                seq: 1,
                claimed: 0.0,
            })
        });
    }

    fn ids() -> Vec<(String, bool)> {
        MARKS.with(|m| {
            m.borrow()
                .iter()
                .map(|k| (k.id.clone(), k.claimed != 0.0))
                .collect()
        })
    }

    /// A write batch claims marks; a failed batch gives them back, a committed one drops
    /// them, and marks claimed by a batch in flight are not claimed twice.
    #[test]
    fn marks_ride_in_one_batch_at_a_time() {
        for id in ["e1", "e2", "e3"] {
            push(id);
        }
        let first = claim_marks_at(2, 1_000.0, false);
        assert_eq!(first.len(), 2);
        let second = claim_marks_at(MARKS_PER_STATEMENT, 1_000.0, false);
        assert_eq!(second, vec![("t1".into(), "e3".into(), 1)]);
        assert!(claim_marks_at(MARKS_PER_STATEMENT, 1_000.0, false).is_empty());
        settle_marks(&first, false);
        assert_eq!(
            ids(),
            vec![
                ("e1".into(), false),
                ("e2".into(), false),
                ("e3".into(), true)
            ]
        );
        settle_marks(&second, true);
        assert_eq!(ids(), vec![("e1".into(), false), ("e2".into(), false)]);
        let again = claim_marks_at(MARKS_PER_STATEMENT, 2_000.0, false);
        settle_marks(&again, true);
        assert!(ids().is_empty());
    }

    /// A claim whose batch never settles (its request was cancelled) lapses, so the mark
    /// is still written by a later batch or flush.
    #[test]
    fn an_unsettled_claim_lapses() {
        push("e9");
        assert_eq!(claim_marks_at(10, 1_000.0, false).len(), 1);
        assert!(claim_marks_at(10, 1_000.0 + CLAIM_STALE_MS, false).is_empty());
        let later = claim_marks_at(10, 1_001.0 + CLAIM_STALE_MS, false);
        assert_eq!(later, vec![("t1".into(), "e9".into(), 1)]);
        settle_marks(&later, true);
        assert!(ids().is_empty());
    }

    /// A handler that needs the seq now takes marks another batch carries too.
    #[test]
    fn a_forced_claim_takes_claimed_marks() {
        push("e7");
        assert_eq!(claim_marks_at(10, 1_000.0, false).len(), 1);
        assert!(claim_marks_at(10, 1_000.0, false).is_empty());
        let forced = claim_marks_at(10, 1_000.0, true);
        assert_eq!(forced, vec![("t1".into(), "e7".into(), 1)]);
        settle_marks(&forced, true);
        assert!(ids().is_empty());
    }
}
