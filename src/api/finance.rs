//! `/api/finance`: sales (with their commission), payments (never past the balance),
//! commissions (brokers see their own; admins approve) and commission rates (admin).

use crate::domain::auth::{Principal, Role};
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::finance::{self as rules, Commission, Payment, Refund, Sale};
use crate::domain::policy;
use crate::domain::status::{CommissionStatus, SaleStatus};
use crate::realtime::outbox;
use crate::store::{self, i, oi, ot, st, t};
use crate::web::body;
use crate::web::ctx::Ctx;
use crate::web::respond::{json, json_page};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::rc::Rc;
use worker::{D1Database, Response};

const SALE_COLUMNS: &str = "id, customer_id, property_id, broker_id, total_minor, paid_minor,
    currency, commission_rate_bps, status, sold_at, notes, created_by, created_at, updated_at";
const PAYMENT_COLUMNS: &str = "id, sale_id, amount_minor, currency, method, reference,
    received_at, created_by, created_at, refunded_minor";
const COMMISSION_COLUMNS: &str = "id, sale_id, broker_id, amount_minor, currency, rate_bps,
    status, approved_by, approved_at, paid_by, paid_at, created_at, updated_at";

/// Money is for brokers and admins (`policy::Resource::FinanceAny`); each row then only
/// for admins and its broker (`own_broker`).
fn finance_caller(cx: &Ctx) -> ApiResult<Rc<Principal>> {
    let who = cx.who()?;
    if !policy::may_read(&who.reader(), &policy::Resource::FinanceAny) {
        return Err(ApiError::forbidden("finance is for brokers and admins"));
    }
    Ok(who)
}

/// The broker whose rows a finance list is limited to: none for admins (or the
/// `broker_id` filter they chose), the caller themself for anyone else.
fn own_broker(who: &Principal, requested: Option<String>) -> Option<String> {
    if policy::may_read(&who.reader(), &policy::Resource::AdminOnly) {
        requested
    } else {
        Some(who.user_id.clone())
    }
}

/// The read rule for one sale's data (the sale, its payments, its commission).
fn may_read_sale(who: &Principal, broker: &str) -> bool {
    policy::may_read(&who.reader(), &policy::Resource::Finance { broker })
}

#[derive(Deserialize)]
struct SaleRow {
    id: String,
    customer_id: String,
    property_id: Option<String>,
    broker_id: String,
    total_minor: i64,
    paid_minor: i64,
    currency: String,
    commission_rate_bps: i64,
    status: SaleStatus,
    sold_at: String,
    notes: Option<String>,
    created_by: String,
    created_at: String,
    updated_at: String,
}

impl From<SaleRow> for Sale {
    fn from(r: SaleRow) -> Sale {
        let (total, paid) = (r.total_minor, r.paid_minor);
        Sale {
            id: r.id,
            customer_id: r.customer_id,
            property_id: r.property_id,
            broker_id: r.broker_id,
            total_minor: total,
            paid_minor: paid,
            balance_minor: total - paid,
            currency: r.currency,
            commission_rate_bps: r.commission_rate_bps,
            status: r.status,
            sold_at: r.sold_at,
            notes: r.notes,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A sale as REST returns it: the sale and its commission.
#[derive(Serialize)]
struct SaleView {
    #[serde(flatten)]
    sale: Sale,
    commission: Option<Commission>,
}

/// A payment as REST returns it: the payment and the sale's balance after it.
#[derive(Serialize)]
struct PaymentView {
    #[serde(flatten)]
    payment: Payment,
    sale_balance_minor: i64,
    sale_status: SaleStatus,
}

fn sale_channels(broker: &str, sale_id: &str) -> Vec<String> {
    vec![
        format!("user:{broker}"),
        "role:admin".into(),
        format!("entity:sale:{sale_id}"),
    ]
}

fn commission_channels(c: &Commission) -> Vec<String> {
    vec![format!("user:{}", c.broker_id), "role:admin".into()]
}

async fn load_sale(db: &D1Database, tenant: &str, id: &str) -> ApiResult<Option<Sale>> {
    let row: Option<SaleRow> = store::first(store::query(
        db,
        &format!("SELECT {SALE_COLUMNS} FROM sales WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(id))],
    )?)
    .await?;
    Ok(row.map(Sale::from))
}

async fn load_commission_of(
    db: &D1Database,
    tenant: &str,
    sale_id: &str,
) -> ApiResult<Option<Commission>> {
    store::first(store::query(
        db,
        &format!(
            "SELECT {COMMISSION_COLUMNS} FROM commissions WHERE tenant_id = :tenant AND sale_id = :sale"
        ),
        &[("tenant", t(tenant)), ("sale", t(sale_id))],
    )?)
    .await
}

#[derive(Deserialize)]
struct RateRow {
    broker_id: String,
    rate_bps: i64,
}

/// The configured (broker, tenant) rates for `broker`.
async fn configured_rates(
    db: &D1Database,
    tenant: &str,
    broker: &str,
) -> ApiResult<(Option<i64>, Option<i64>)> {
    let rows: Vec<RateRow> = store::all(store::query(
        db,
        "SELECT broker_id, rate_bps FROM commission_rates
         WHERE tenant_id = :tenant AND broker_id IN ('', :broker)",
        &[("tenant", t(tenant)), ("broker", t(broker))],
    )?)
    .await?;
    let find = |b: &str| rows.iter().find(|r| r.broker_id == b).map(|r| r.rate_bps);
    Ok((find(broker), find("")))
}

#[derive(Deserialize)]
struct SettingsRow {
    broker_rate_override_max_bps: Option<i64>,
    updated_by: Option<String>,
    updated_at: Option<String>,
}

async fn load_settings(db: &D1Database, tenant: &str) -> ApiResult<Option<SettingsRow>> {
    store::first(store::query(
        db,
        "SELECT broker_rate_override_max_bps, updated_by, updated_at FROM finance_settings
         WHERE tenant_id = :tenant",
        &[("tenant", t(tenant))],
    )?)
    .await
}

/// The highest rate a broker may give their own sale (None: they may not give one).
async fn broker_rate_max(db: &D1Database, tenant: &str) -> ApiResult<Option<i64>> {
    Ok(load_settings(db, tenant)
        .await?
        .and_then(|r| r.broker_rate_override_max_bps))
}

fn settings_view(r: Option<SettingsRow>) -> Value {
    let r = r.unwrap_or(SettingsRow {
        broker_rate_override_max_bps: None,
        updated_by: None,
        updated_at: None,
    });
    json!({
        "broker_rate_override_max_bps": r.broker_rate_override_max_bps,
        "updated_by": r.updated_by,
        "updated_at": r.updated_at,
    })
}

/// `GET /api/finance/settings` (admin): the tenant's finance settings.
pub async fn settings(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let db = cx.db()?;
    json(
        200,
        &settings_view(load_settings(&db, &who.tenant_id).await?),
    )
}

/// `PUT /api/finance/settings` `{"broker_rate_override_max_bps"}` (admin): how high a rate
/// brokers may set on their own sales (`null`: they may not set one), with
/// `finance:settings:updated` to admins.
pub async fn put_settings(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let max = rules::validate_settings(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let now = cx.now_iso();
    let data =
        json!({"broker_rate_override_max_bps": max, "updated_by": who.user_id, "updated_at": now});
    let event = outbox::draft(
        "finance:settings:updated",
        vec!["role:admin".into()],
        data.clone(),
    )
    .by(&who.user_id);
    store::batch(
        &db,
        vec![
            // First, so `changes` compares with the value this batch replaces.
            outbox::insert_computed(
                &db,
                tenant,
                &event,
                "json_set(:ev_data, '$.changes', CASE WHEN s.broker_rate_override_max_bps IS :max
                   THEN json('{}') ELSE json_object('broker_rate_override_max_bps',
                   json_object('from', s.broker_rate_override_max_bps, 'to', :max)) END)",
                "FROM (SELECT 1) LEFT JOIN finance_settings s ON s.tenant_id = :tenant",
                &[("max", oi(max))],
            )?,
            store::insert_then(
                &db,
                "finance_settings",
                &[
                    ("tenant_id", t(tenant)),
                    ("broker_rate_override_max_bps", oi(max)),
                    ("updated_by", t(&who.user_id)),
                    ("updated_at", t(&now)),
                ],
                "ON CONFLICT (tenant_id) DO UPDATE SET
                   broker_rate_override_max_bps = excluded.broker_rate_override_max_bps,
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                &[],
            )?,
        ],
    )
    .await?;
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(200, &data)
}

/// `POST /api/finance/sales`: the sale and its pending commission, with
/// `finance:sale:created` and `finance:commission:calculated`, in one batch.
pub async fn create_sale(mut cx: Ctx) -> ApiResult<Response> {
    let who = finance_caller(&cx)?;
    let input = cx.json().await?;
    let n = rules::validate_sale(&input)?;
    let tenant = who.tenant_id.as_str();
    let other_broker = n.broker_id.as_deref().filter(|b| *b != who.user_id);
    if other_broker.is_some() && who.role != Role::Admin {
        return Err(ApiError::forbidden(
            "only admins record sales for another broker",
        ));
    }
    let broker = n.broker_id.clone().unwrap_or_else(|| who.user_id.clone());
    let db = cx.db()?;
    let by_admin = who.role == Role::Admin;
    if n.commission_rate_bps.is_some() && !by_admin {
        let max = broker_rate_max(&db, tenant).await?;
        rules::check_rate_override(n.commission_rate_bps, by_admin, max)?;
    }
    let (broker_rate, tenant_rate) = configured_rates(&db, tenant, &broker).await?;
    let rate = rules::resolve_rate(n.commission_rate_bps, broker_rate, tenant_rate);
    let now = cx.now_iso();
    let sale = Sale {
        id: crate::platform::new_id("sale"),
        customer_id: n.customer_id,
        property_id: n.property_id,
        broker_id: broker.clone(),
        total_minor: n.total_minor,
        paid_minor: 0,
        balance_minor: n.total_minor,
        currency: n.currency,
        commission_rate_bps: rate,
        status: SaleStatus::Open,
        sold_at: n.sold_at.unwrap_or_else(|| now.clone()),
        notes: n.notes,
        created_by: who.user_id.clone(),
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    let commission = Commission {
        id: crate::platform::new_id("com"),
        sale_id: sale.id.clone(),
        broker_id: broker.clone(),
        amount_minor: rules::commission_minor(sale.total_minor, rate),
        currency: sale.currency.clone(),
        rate_bps: rate,
        status: CommissionStatus::Pending,
        approved_by: None,
        approved_at: None,
        paid_by: None,
        paid_at: None,
        created_at: now.clone(),
        updated_at: now,
    };
    let view = SaleView {
        sale,
        commission: Some(commission),
    };
    let (s, c) = (
        &view.sale,
        view.commission.as_ref().ok_or_else(ApiError::internal)?,
    );
    let sale_event = outbox::draft(
        "finance:sale:created",
        sale_channels(&broker, &s.id),
        serde_json::to_value(&view)?,
    )
    .by(&who.user_id);
    let com_event = outbox::draft(
        "finance:commission:calculated",
        commission_channels(c),
        serde_json::to_value(c)?,
    )
    .by(&who.user_id);
    // The customer (and property, and another broker) must exist in this tenant: checked
    // inside the batch, so nothing is written when they do not.
    let checks = "EXISTS (SELECT 1 FROM customers WHERE tenant_id = :tenant_id AND id = :customer_id)
        AND (:property_id IS NULL
             OR EXISTS (SELECT 1 FROM properties WHERE tenant_id = :tenant_id AND id = :property_id))
        AND (:other_broker IS NULL
             OR EXISTS (SELECT 1 FROM users WHERE tenant_id = :tenant_id AND id = :other_broker
                          AND role IN (:broker_role, :admin_role)))";
    let results = store::batch(
        &db,
        vec![
            store::insert_if(
                &db,
                "sales",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&s.id)),
                    ("customer_id", t(&s.customer_id)),
                    ("property_id", ot(s.property_id.as_deref())),
                    ("broker_id", t(&s.broker_id)),
                    ("total_minor", i(s.total_minor)),
                    ("paid_minor", i(s.paid_minor)),
                    ("currency", t(&s.currency)),
                    ("commission_rate_bps", i(s.commission_rate_bps)),
                    ("status", st(s.status)),
                    ("sold_at", t(&s.sold_at)),
                    ("notes", ot(s.notes.as_deref())),
                    ("created_by", t(&s.created_by)),
                    ("created_at", t(&s.created_at)),
                    ("updated_at", t(&s.updated_at)),
                ],
                checks,
                &[
                    ("other_broker", ot(other_broker)),
                    ("broker_role", t(Role::Broker.as_str())),
                    ("admin_role", t(Role::Admin.as_str())),
                ],
            )?,
            store::insert_if(
                &db,
                "commissions",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&c.id)),
                    ("sale_id", t(&c.sale_id)),
                    ("broker_id", t(&c.broker_id)),
                    ("amount_minor", i(c.amount_minor)),
                    ("currency", t(&c.currency)),
                    ("rate_bps", i(c.rate_bps)),
                    ("status", st(c.status)),
                    ("created_at", t(&c.created_at)),
                    ("updated_at", t(&c.updated_at)),
                ],
                "EXISTS (SELECT 1 FROM sales WHERE tenant_id = :tenant_id AND id = :sale_id)",
                &[],
            )?,
            outbox::insert_if_exists(&db, tenant, &sale_event, "sales", &s.id)?,
            outbox::insert_if_exists(&db, tenant, &com_event, "commissions", &c.id)?,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        // Say which reference is missing.
        let missing = if store::first::<Value>(store::query(
            &db,
            "SELECT 1 AS x FROM customers WHERE tenant_id = :tenant AND id = :id",
            &[("tenant", t(tenant)), ("id", t(&s.customer_id))],
        )?)
        .await?
        .is_none()
        {
            ("customer_id", "no such customer")
        } else if other_broker.is_some() {
            (
                "broker_id",
                "no such broker or admin in this tenant (or no such property)",
            )
        } else {
            ("property_id", "no such property")
        };
        return Err(ApiError::field(missing.0, missing.1));
    }
    super::dashboard::announce_and_deliver(&cx.env, tenant).await;
    let mut resp = json(201, &view)?;
    resp.headers_mut()
        .set("location", &format!("/api/finance/sales/{}", view.sale.id))?;
    Ok(resp)
}

pub async fn list_sales(cx: Ctx) -> ApiResult<Response> {
    let who = finance_caller(&cx)?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let (from, to) = (
        body::time_query(&cx.req, "from")?,
        body::time_query(&cx.req, "to")?,
    );
    let db = cx.db()?;
    let rows: Vec<SaleRow> = store::all(store::query(
        &db,
        &format!(
            "SELECT {SALE_COLUMNS} FROM sales WHERE tenant_id = :tenant
               AND (:broker IS NULL OR broker_id = :broker)
               AND (:customer IS NULL OR customer_id = :customer)
               AND (:status IS NULL OR status = :status)
               AND (:from IS NULL OR sold_at >= :from) AND (:to IS NULL OR sold_at < :to)
               AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("broker", ot(own_broker(&who, q("broker_id")).as_deref())),
            ("customer", ot(q("customer_id").as_deref())),
            ("status", ot(q("status").as_deref())),
            ("from", ot(from.as_deref())),
            ("to", ot(to.as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    let rows: Vec<Sale> = rows.into_iter().map(Sale::from).collect();
    json_page(rows, page.limit, |s| s.id.clone())
}

pub async fn get_sale(cx: Ctx) -> ApiResult<Response> {
    let who = finance_caller(&cx)?;
    let id = cx.path_id("sale")?;
    let db = cx.db()?;
    let sale = load_sale(&db, &who.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("sale"))?;
    if !may_read_sale(&who, &sale.broker_id) {
        return Err(ApiError::forbidden("a sale is for admins and its broker"));
    }
    let commission = load_commission_of(&db, &who.tenant_id, &id)
        .await?
        .filter(|c| may_read_sale(&who, &c.broker_id));
    json(200, &SaleView { sale, commission })
}

/// The sale as the guarded payment update left it (`RETURNING`).
#[derive(Deserialize)]
struct PaidRow {
    total_minor: i64,
    paid_minor: i64,
    status: SaleStatus,
}

/// `POST /api/finance/payments`: the balance check and the sale's update happen in the
/// same guarded statement, so two concurrent payments can never overpay (409). The answer
/// and the `finance:payment:received` event carry the balance that statement left (its
/// `RETURNING` row, and the sale row read inside the same batch), never the one read
/// before it, so each concurrent payment reports its own point in the sequence.
pub async fn create_payment(mut cx: Ctx) -> ApiResult<Response> {
    let who = finance_caller(&cx)?;
    let input = cx.json().await?;
    let n = rules::validate_payment(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let sale = load_sale(&db, tenant, &n.sale_id)
        .await?
        .ok_or_else(|| ApiError::field("sale_id", "no such sale"))?;
    // A payment's answer carries the sale's balance: only for those who may read the sale.
    if !may_read_sale(&who, &sale.broker_id) {
        return Err(ApiError::forbidden(
            "only admins and the sale's broker record its payments",
        ));
    }
    // An early answer from the read; the guarded update below decides.
    let balance = rules::check_payment(
        sale.total_minor,
        sale.paid_minor,
        n.amount_minor,
        &sale.currency,
        &n.currency,
    )?;
    let now = cx.now_iso();
    let payment = Payment {
        id: crate::platform::new_id("pay"),
        sale_id: sale.id.clone(),
        amount_minor: n.amount_minor,
        currency: n.currency,
        method: n.method,
        reference: n.reference,
        received_at: n.received_at.unwrap_or_else(|| now.clone()),
        created_by: who.user_id.clone(),
        created_at: now.clone(),
        refunded_minor: 0,
    };
    let mut view = PaymentView {
        payment,
        sale_balance_minor: balance,
        sale_status: rules::sale_status(sale.total_minor, sale.total_minor - balance),
    };
    let p = &view.payment;
    let event = outbox::draft(
        "finance:payment:received",
        sale_channels(&sale.broker_id, &sale.id),
        serde_json::to_value(&view)?,
    )
    .by(&who.user_id);
    let results = store::batch(
        &db,
        vec![
            store::query(
                &db,
                "UPDATE sales SET paid_minor = paid_minor + :amount,
                   status = CASE WHEN paid_minor + :amount >= total_minor THEN :paid ELSE :open END,
                   updated_at = :now
                 WHERE tenant_id = :tenant AND id = :id AND currency = :currency
                   AND paid_minor + :amount <= total_minor
                 RETURNING total_minor, paid_minor, status",
                &[
                    ("amount", i(p.amount_minor)),
                    ("paid", st(SaleStatus::Paid)),
                    ("open", st(SaleStatus::Open)),
                    ("now", t(&now)),
                    ("tenant", t(tenant)),
                    ("id", t(&sale.id)),
                    ("currency", t(&p.currency)),
                ],
            )?,
            // Only when the guarded UPDATE just above changed the sale.
            store::insert_if(
                &db,
                "payments",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&p.id)),
                    ("sale_id", t(&p.sale_id)),
                    ("amount_minor", i(p.amount_minor)),
                    ("currency", t(&p.currency)),
                    ("method", t(&p.method)),
                    ("reference", ot(p.reference.as_deref())),
                    ("received_at", t(&p.received_at)),
                    ("created_by", t(&p.created_by)),
                    ("created_at", t(&p.created_at)),
                ],
                "changes() = 1",
                &[],
            )?,
            // The balance as this batch left it: the sale row, read inside the batch.
            outbox::insert_computed(
                &db,
                tenant,
                &event,
                "json_set(:ev_data, '$.sale_balance_minor', s.total_minor - s.paid_minor,
                   '$.sale_status', s.status)",
                "FROM sales s WHERE s.tenant_id = :tenant AND s.id = :sale
                   AND EXISTS (SELECT 1 FROM payments WHERE tenant_id = :tenant AND id = :payment)",
                &[("sale", t(&sale.id)), ("payment", t(&p.id))],
            )?,
        ],
    )
    .await?;
    if results.get(1).map(store::changes) != Some(1) {
        return Err(ApiError::new(
            409,
            "conflict",
            "the payment exceeds the sale's balance",
        ));
    }
    // The payment is committed: a missing RETURNING row must not turn it into an error.
    match results.first().map(store::rows::<PaidRow>) {
        Some(Ok(rows)) if !rows.is_empty() => {
            view.sale_balance_minor = rows[0].total_minor - rows[0].paid_minor;
            view.sale_status = rows[0].status;
        }
        _ => worker::console_warn!(
            "payment {}: no RETURNING row from the sale update",
            view.payment.id
        ),
    }
    super::dashboard::announce_and_deliver(&cx.env, tenant).await;
    json(201, &view)
}

/// `GET /api/finance/payments?sale_id=`.
pub async fn list_payments(cx: Ctx) -> ApiResult<Response> {
    let who = finance_caller(&cx)?;
    let page = cx.page()?;
    let sale = cx.query("sale_id").filter(|v| !v.is_empty());
    let db = cx.db()?;
    let rows: Vec<Payment> = store::all(store::query(
        &db,
        &format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = :tenant
               AND (:sale IS NULL OR sale_id = :sale) AND (:after IS NULL OR id < :after)
               AND (:broker IS NULL OR sale_id IN
                    (SELECT id FROM sales WHERE tenant_id = :tenant AND broker_id = :broker))
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("sale", ot(sale.as_deref())),
            ("after", ot(page.after.as_deref())),
            ("broker", ot(own_broker(&who, None).as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |p| p.id.clone())
}

/// `GET /api/finance/commissions?broker_id=&status=&sale_id=`: a broker sees only their own.
pub async fn list_commissions(cx: Ctx) -> ApiResult<Response> {
    let who = finance_caller(&cx)?;
    let page = cx.page()?;
    let q = |k: &str| cx.query(k).filter(|v| !v.is_empty());
    let broker = own_broker(&who, q("broker_id"));
    let db = cx.db()?;
    let rows: Vec<Commission> = store::all(store::query(
        &db,
        &format!(
            "SELECT {COMMISSION_COLUMNS} FROM commissions WHERE tenant_id = :tenant
               AND (:broker IS NULL OR broker_id = :broker)
               AND (:status IS NULL OR status = :status)
               AND (:sale IS NULL OR sale_id = :sale) AND (:after IS NULL OR id < :after)
             ORDER BY id DESC LIMIT :limit"
        ),
        &[
            ("tenant", t(&who.tenant_id)),
            ("broker", ot(broker.as_deref())),
            ("status", ot(q("status").as_deref())),
            ("sale", ot(q("sale_id").as_deref())),
            ("after", ot(page.after.as_deref())),
            ("limit", i(i64::from(page.limit) + 1)),
        ],
    )?)
    .await?;
    json_page(rows, page.limit, |c| c.id.clone())
}

/// `PUT /api/finance/commissions/:id/approve` (admin): pending → approved, once.
pub async fn approve_commission(cx: Ctx) -> ApiResult<Response> {
    advance_commission(cx, CommissionStatus::Approved).await
}

/// `PUT /api/finance/commissions/:id/pay` (admins): an approved commission becomes paid,
/// once, with `finance:commission:paid`.
pub async fn pay_commission(cx: Ctx) -> ApiResult<Response> {
    advance_commission(cx, CommissionStatus::Paid).await
}

/// A commission's next step (pending → approved → paid), by an admin, once: the guarded
/// update decides between concurrent callers (409 for the others), and the event is
/// written only with the winner's stamp.
async fn advance_commission(cx: Ctx, to: CommissionStatus) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("commission")?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let row: Option<Commission> = store::first(store::query(
        &db,
        &format!(
            "SELECT {COMMISSION_COLUMNS} FROM commissions WHERE tenant_id = :tenant AND id = :id"
        ),
        &[("tenant", t(tenant)), ("id", t(&id))],
    )?)
    .await?;
    let mut c = row.ok_or_else(|| ApiError::not_found("commission"))?;
    let (from, kind, by_col, at_col) = match to {
        CommissionStatus::Paid => (
            CommissionStatus::Approved,
            "finance:commission:paid",
            "paid_by",
            "paid_at",
        ),
        _ => (
            CommissionStatus::Pending,
            "finance:commission:approved",
            "approved_by",
            "approved_at",
        ),
    };
    if c.status != from {
        let why = if to == CommissionStatus::Paid && c.status == CommissionStatus::Pending {
            "the commission is not approved yet".to_string()
        } else {
            format!("the commission is already {}", c.status)
        };
        return Err(ApiError::new(409, "conflict", why));
    }
    let now = cx.now_iso();
    c.status = to;
    let (by, at) = match to {
        CommissionStatus::Paid => (&mut c.paid_by, &mut c.paid_at),
        _ => (&mut c.approved_by, &mut c.approved_at),
    };
    *by = Some(who.user_id.clone());
    *at = Some(now.clone());
    c.updated_at = now.clone();
    let event =
        outbox::draft(kind, commission_channels(&c), serde_json::to_value(&c)?).by(&who.user_id);
    let update = store::update(
        &db,
        "commissions",
        &[
            ("status", st(c.status)),
            (by_col, t(&who.user_id)),
            (at_col, t(&now)),
            ("updated_at", t(&now)),
        ],
        "WHERE tenant_id = :tenant AND id = :id AND status = :from",
        &[("tenant", t(tenant)), ("id", t(&id)), ("from", st(from))],
    )?;
    if !outbox::update_with_event(&cx.env, &db, tenant, update, &event, vec![]).await? {
        return Err(ApiError::new(
            409,
            "conflict",
            "the commission changed meanwhile",
        ));
    }
    super::dashboard::announce_and_deliver(&cx.env, tenant).await;
    json(200, &c)
}

/// A refund as REST returns it: the refund, what is now refunded of its payment, and the
/// sale's balance after it.
#[derive(Serialize)]
struct RefundView {
    #[serde(flatten)]
    refund: Refund,
    payment_refunded_minor: i64,
    sale_balance_minor: i64,
    sale_status: SaleStatus,
}

/// `POST /api/finance/payments/:id/refund` `{amount_minor, reason}` (admins): a partial or
/// full refund. In one batch, race-free: the payment's refunded total grows only while it
/// stays within the payment (the same guarded-update technique as payments against a
/// sale's total), then the refund row, the sale's paid total and the event follow only if
/// that update took.
pub async fn refund_payment(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let id = cx.path_id("payment")?;
    let input = cx.json().await?;
    let (amount, reason) = rules::validate_refund(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let payment: Payment = store::first(store::query(
        &db,
        &format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE tenant_id = :tenant AND id = :id"),
        &[("tenant", t(tenant)), ("id", t(&id))],
    )?)
    .await?
    .ok_or_else(|| ApiError::not_found("payment"))?;
    let left = payment.amount_minor - payment.refunded_minor;
    if amount > left {
        return Err(refund_too_large(left));
    }
    let sale = load_sale(&db, tenant, &payment.sale_id)
        .await?
        .ok_or_else(|| ApiError::not_found("payment"))?;
    let now = cx.now_iso();
    let refund = Refund {
        id: crate::platform::new_id("rfd"),
        payment_id: payment.id.clone(),
        sale_id: payment.sale_id.clone(),
        amount_minor: amount,
        currency: payment.currency.clone(),
        reason,
        created_by: who.user_id.clone(),
        created_at: now.clone(),
    };
    let balance = sale.total_minor - (sale.paid_minor - amount);
    let mut view = RefundView {
        refund,
        payment_refunded_minor: payment.refunded_minor + amount,
        sale_balance_minor: balance,
        sale_status: rules::sale_status(sale.total_minor, sale.paid_minor - amount),
    };
    let r = &view.refund;
    let event = outbox::draft(
        "finance:payment:refunded",
        sale_channels(&sale.broker_id, &sale.id),
        serde_json::to_value(&view)?,
    )
    .by(&who.user_id);
    let results = store::batch(
        &db,
        vec![
            store::query(
                &db,
                "UPDATE payments SET refunded_minor = refunded_minor + :amount
                 WHERE tenant_id = :tenant AND id = :id
                   AND refunded_minor + :amount <= amount_minor",
                &[("amount", i(amount)), ("tenant", t(tenant)), ("id", t(&r.payment_id))],
            )?,
            // Only when the guarded UPDATE just above took.
            store::insert_if(
                &db,
                "payment_refunds",
                &[
                    ("tenant_id", t(tenant)),
                    ("id", t(&r.id)),
                    ("payment_id", t(&r.payment_id)),
                    ("sale_id", t(&r.sale_id)),
                    ("amount_minor", i(r.amount_minor)),
                    ("currency", t(&r.currency)),
                    ("reason", t(&r.reason)),
                    ("created_by", t(&r.created_by)),
                    ("created_at", t(&r.created_at)),
                ],
                "changes() = 1",
                &[],
            )?,
            store::query(
                &db,
                "UPDATE sales SET paid_minor = paid_minor - :amount,
                   status = CASE WHEN paid_minor - :amount >= total_minor THEN :paid ELSE :open END,
                   updated_at = :now
                 WHERE tenant_id = :tenant AND id = :sale
                   AND EXISTS (SELECT 1 FROM payment_refunds WHERE tenant_id = :tenant AND id = :refund)",
                &[
                    ("amount", i(amount)),
                    ("paid", st(SaleStatus::Paid)),
                    ("open", st(SaleStatus::Open)),
                    ("now", t(&now)),
                    ("tenant", t(tenant)),
                    ("sale", t(&r.sale_id)),
                    ("refund", t(&r.id)),
                ],
            )?,
            // The totals as this batch left them, read inside the batch.
            outbox::insert_computed(
                &db,
                tenant,
                &event,
                "json_set(:ev_data, '$.sale_balance_minor', s.total_minor - s.paid_minor,
                   '$.sale_status', s.status, '$.payment_refunded_minor', p.refunded_minor)",
                "FROM sales s JOIN payments p ON p.tenant_id = s.tenant_id AND p.id = :payment
                 WHERE s.tenant_id = :tenant AND s.id = :sale
                   AND EXISTS (SELECT 1 FROM payment_refunds WHERE tenant_id = :tenant AND id = :refund)",
                &[
                    ("sale", t(&r.sale_id)),
                    ("payment", t(&r.payment_id)),
                    ("refund", t(&r.id)),
                ],
            )?,
            store::query(
                &db,
                "SELECT s.total_minor - s.paid_minor AS balance, s.status, p.refunded_minor
                 FROM sales s JOIN payments p ON p.tenant_id = s.tenant_id AND p.id = :payment
                 WHERE s.tenant_id = :tenant AND s.id = :sale",
                &[
                    ("tenant", t(tenant)),
                    ("sale", t(&r.sale_id)),
                    ("payment", t(&r.payment_id)),
                ],
            )?,
        ],
    )
    .await?;
    if results.first().map(store::changes) != Some(1) {
        // Another refund took what was left meanwhile.
        return Err(refund_too_large(-1));
    }
    #[derive(Deserialize)]
    struct After {
        balance: i64,
        status: SaleStatus,
        refunded_minor: i64,
    }
    if let Some(a) = results
        .last()
        .map(store::rows::<After>)
        .transpose()?
        .and_then(|v| v.into_iter().next())
    {
        view.sale_balance_minor = a.balance;
        view.sale_status = a.status;
        view.payment_refunded_minor = a.refunded_minor;
    }
    super::dashboard::announce_and_deliver(&cx.env, tenant).await;
    json(201, &view)
}

/// 409: the refund is more than is left of the payment (`left` < 0: unknown, a concurrent
/// refund took it).
fn refund_too_large(left: i64) -> ApiError {
    let mut e = ApiError::new(
        409,
        "conflict",
        "the refund is more than what is left of the payment",
    );
    if left >= 0 {
        e = e.with_details(json!({"refundable_minor": left}));
    }
    e
}

#[derive(Serialize, Deserialize)]
struct RateView {
    broker_id: String,
    rate_bps: i64,
    updated_by: String,
    updated_at: String,
}

/// `GET /api/finance/commission-rates` (admin): the tenant default (`broker_id` "") and
/// per-broker rates, plus the built-in default.
pub async fn list_rates(cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let db = cx.db()?;
    let rows: Vec<RateView> = store::all(store::query(
        &db,
        "SELECT broker_id, rate_bps, updated_by, updated_at FROM commission_rates
         WHERE tenant_id = :tenant ORDER BY broker_id LIMIT 1000",
        &[("tenant", t(&who.tenant_id))],
    )?)
    .await?;
    let data: Vec<Value> = rows
        .iter()
        .map(|r| json!({"broker_id": (!r.broker_id.is_empty()).then_some(&r.broker_id), "rate_bps": r.rate_bps, "updated_by": r.updated_by, "updated_at": r.updated_at}))
        .collect();
    json(
        200,
        &json!({"data": data, "default_rate_bps": rules::DEFAULT_RATE_BPS}),
    )
}

/// `PUT /api/finance/commission-rates` `{broker_id?, rate_bps}` (admin). Applies to sales
/// created afterwards; existing commissions keep their rate.
pub async fn put_rate(mut cx: Ctx) -> ApiResult<Response> {
    let who = cx.who()?;
    let input = cx.json().await?;
    let (broker, rate) = rules::validate_rate(&input)?;
    let tenant = who.tenant_id.as_str();
    let db = cx.db()?;
    let now = cx.now_iso();
    let key = broker.clone().unwrap_or_default();
    let data = json!({"broker_id": broker, "rate_bps": rate, "updated_by": who.user_id, "updated_at": now});
    let event = outbox::draft(
        "finance:commission_rate:updated",
        vec!["role:admin".into()],
        data.clone(),
    )
    .by(&who.user_id);
    store::batch(
        &db,
        vec![
            // First, so `changes` compares with the rate this batch replaces (none: from null).
            outbox::insert_computed(
                &db,
                tenant,
                &event,
                "json_set(:ev_data, '$.changes', CASE WHEN r.rate_bps IS :rate
                   THEN json('{}') ELSE json_object('rate_bps',
                   json_object('from', r.rate_bps, 'to', :rate)) END)",
                "FROM (SELECT 1) LEFT JOIN commission_rates r
                   ON r.tenant_id = :tenant AND r.broker_id = :key",
                &[("rate", i(rate)), ("key", t(&key))],
            )?,
            store::insert_then(
                &db,
                "commission_rates",
                &[
                    ("tenant_id", t(tenant)),
                    ("broker_id", t(&key)),
                    ("rate_bps", i(rate)),
                    ("updated_by", t(&who.user_id)),
                    ("updated_at", t(&now)),
                ],
                "ON CONFLICT (tenant_id, broker_id) DO UPDATE SET rate_bps = excluded.rate_bps,
                   updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                &[],
            )?,
        ],
    )
    .await?;
    outbox::deliver_after_write(&cx.env, tenant).await;
    json(200, &data)
}
