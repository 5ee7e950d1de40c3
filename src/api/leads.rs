//! Public lead capture from digital cards: the card page (`GET /c/:slug`, server-rendered
//! HTML with a contact form), its vCard, and `POST /api/cards/public/:slug/leads`, which
//! turns a visitor's details into a customer of the card's owner (limited per address and
//! per card; a honeypot drops bots silently).

use crate::api::auth::{reserve, Counter};
use crate::api::job_store;
use crate::domain::card::valid_slug;
use crate::domain::card_page::{self, CardView, CONTENT_SECURITY_POLICY};
use crate::domain::customer::Customer;
use crate::domain::error::{ApiError, ApiResult};
use crate::domain::event::entity_channels;
use crate::domain::identity::GLOBAL_TENANT;
use crate::domain::jobs::EMAIL;
use crate::domain::lead::{self, Lead, Submission};
use crate::domain::status::CustomerStatus;
use crate::realtime::outbox;
use crate::store::{self, t};
use crate::web::body;
use crate::web::ctx::Ctx;
use crate::web::guard;
use crate::web::respond::json;
use serde_json::{json, Value};
use worker::{Request, Response};

/// The email job's kind.
pub const KIND_LEAD_EMAIL: &str = "lead_captured_email";

/// A card with its tenant and its owner's email (`owner_email`, when the owner is still a
/// user of the tenant), as read: the columns are NOT NULL where the code relies on them.
struct CardRow(Value);

impl CardRow {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).and_then(Value::as_str)
    }
    fn s(&self, k: &str) -> &str {
        self.get(k).unwrap_or_default()
    }
    fn view(&self) -> CardView<'_> {
        CardView {
            slug: self.s("slug"),
            display_name: self.s("display_name"),
            title: self.get("title"),
            phone: self.get("phone"),
            email: self.get("email"),
            bio: self.get("bio"),
        }
    }
}

/// The card of a slug (404), unless its tenant blocks the client address (403).
async fn find(cx: &Ctx, slug: &str) -> ApiResult<CardRow> {
    if !valid_slug(slug) {
        return Err(ApiError::not_found("card"));
    }
    let row: Option<Value> = store::first(store::query(
        &cx.db()?,
        "SELECT c.tenant_id, c.id, c.slug, c.owner_id, c.display_name, c.title, c.phone,
           c.email, c.bio, c.scans, u.email AS owner_email
         FROM cards c LEFT JOIN users u ON u.tenant_id = c.tenant_id AND u.id = c.owner_id
         WHERE c.slug = :slug",
        &[("slug", t(slug))],
    )?)
    .await?;
    let card = CardRow(row.ok_or_else(|| ApiError::not_found("card"))?);
    guard::refuse_blocked(&cx.req, &cx.env, card.s("tenant_id")).await?;
    Ok(card)
}

fn header(req: &Request, name: &str) -> String {
    req.headers()
        .get(name)
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn names(header: &str, media: &str) -> bool {
    header
        .as_bytes()
        .windows(media.len())
        .any(|w| w == media.as_bytes())
}

/// Whether the client wants HTML: its Accept names `text/html`; else `default` unless it
/// names JSON.
fn wants_html(req: &Request, default: bool) -> bool {
    let accept = header(req, "accept");
    names(&accept, "text/html") || (default && !names(&accept, "application/json"))
}

fn is_form(req: &Request) -> bool {
    header(req, "content-type").starts_with("application/x-www-form-urlencoded")
}

/// An HTML answer with the page headers (no script, no framing, no sniffing).
fn html(status: u16, body: String, cache: &str) -> ApiResult<Response> {
    let mut r = Response::from_html(body)?.with_status(status);
    let h = r.headers_mut();
    h.set("content-security-policy", CONTENT_SECURITY_POLICY)?;
    h.set("x-content-type-options", "nosniff")?;
    h.set("referrer-policy", "same-origin")?;
    h.set("cache-control", cache)?;
    Ok(r)
}

/// A refusal as a page when the client wants HTML, else as the contract's JSON error.
fn refusal(e: ApiError, as_html: bool) -> ApiResult<Response> {
    if !as_html || e.status >= 500 {
        return Err(e);
    }
    let title = match e.status {
        404 => "Card not found",
        403 => "Not available",
        429 => "Too many messages",
        _ => "Your message could not be sent",
    };
    let mut r = html(e.status, card_page::message(title, &e.message), "no-store")?;
    if let Some(s) = e.retry_after {
        r.headers_mut().set("retry-after", &s.to_string())?;
    }
    Ok(r)
}

/// `GET /c/:slug`: the card page (`?sent=1`: with the thank-you).
pub async fn page(cx: Ctx) -> ApiResult<Response> {
    let as_html = wants_html(&cx.req, true);
    let card = match find(&cx, cx.param(0)).await {
        Ok(c) => c,
        Err(e) => return refusal(e, as_html),
    };
    let sent = cx.query("sent").as_deref() == Some("1");
    let body = card_page::page(&card.view(), sent);
    html(
        200,
        body,
        if sent {
            "no-store"
        } else {
            "public, max-age=30"
        },
    )
}

/// `GET /api/cards/public/:slug/vcard`: the card's contact, `text/vcard`.
pub async fn vcard(cx: Ctx) -> ApiResult<Response> {
    let card = match find(&cx, cx.param(0)).await {
        Ok(c) => c,
        Err(e) => return refusal(e, wants_html(&cx.req, false)),
    };
    // The page's address: this request's origin and the page's path.
    let url = cx.req.inner().url();
    let path = cx.req.path();
    let page_url = url
        .split('?')
        .next()
        .and_then(|u| u.strip_suffix(path.as_str()))
        .map(|origin| format!("{origin}/c/{}", card.s("slug")));
    let mut r = Response::ok(card_page::vcard(&card.view(), page_url.as_deref()))?;
    let h = r.headers_mut();
    h.set("content-type", "text/vcard; charset=utf-8")?;
    h.set(
        "content-disposition",
        &format!("attachment; filename=\"{}.vcf\"", card.s("slug")),
    )?;
    h.set("x-content-type-options", "nosniff")?;
    h.set("cache-control", "public, max-age=30")?;
    Ok(r)
}

/// The body as the lead rules read it: JSON, or an HTML form (415 otherwise, 413 past
/// `lead::MAX_BODY_BYTES`).
async fn read_input(req: &mut Request, form: bool) -> ApiResult<Value> {
    let json_body = header(req, "content-type").starts_with("application/json");
    if !form && !json_body {
        return Err(ApiError::new(
            415,
            "unsupported_media_type",
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        ));
    }
    let bytes = body::read_limited(req, lead::MAX_BODY_BYTES).await?;
    if form {
        return Ok(lead::form_body(&String::from_utf8_lossy(&bytes)));
    }
    body::parse(&bytes)
}

/// What a received lead (or a bot's) is answered: 201 JSON, or for a form a 303 to the
/// card page's thank-you. Nothing in it names a stored record.
fn received(card: &CardRow, form: bool) -> ApiResult<Response> {
    if form {
        let mut r = Response::empty()?.with_status(303);
        r.headers_mut()
            .set("location", &format!("/c/{}?sent=1", card.s("slug")))?;
        return Ok(r);
    }
    json(201, &json!({"status": "received"}))
}

/// The per-address and per-card limits, taken before anything is written (429).
async fn take_limits(cx: &Ctx, card: &CardRow) -> ApiResult<()> {
    let config = cx.config();
    let ip_key = format!("lead-ip:{}", guard::ip_tag(&cx.req, &cx.env, "card-lead"));
    let card_key = format!("lead-card:{}", card.s("id"));
    let counters = [
        Counter {
            tenant: GLOBAL_TENANT,
            key: &ip_key,
            limit: config.lead_ip_limit,
        },
        Counter {
            tenant: card.s("tenant_id"),
            key: &card_key,
            limit: config.lead_card_limit,
        },
    ];
    reserve(&cx.db()?, &counters, cx.now_ms())
        .await
        .map(|_| ())
        .map_err(|e| {
            let mut limited = ApiError::new(
                429,
                "rate_limited",
                "too many messages from here or to this card; try again later",
            );
            limited.retry_after = e.retry_after;
            limited
        })
}

/// `POST /api/cards/public/:slug/leads`: see the module doc and the endpoint's.
pub async fn capture(mut cx: Ctx) -> ApiResult<Response> {
    let form = is_form(&cx.req);
    // A browser's form post gets pages; a client that names JSON in Accept gets JSON
    // whatever the body's encoding (a script posting the form's fields, the fuzzer).
    let as_html = wants_html(&cx.req, form);
    let card = match find(&cx, cx.param(0)).await {
        Ok(c) => c,
        Err(e) => return refusal(e, as_html),
    };
    let input = match read_input(&mut cx.req, form).await {
        Ok(v) => v,
        Err(e) => return refusal(e, as_html),
    };
    let lead = match lead::validate(&input) {
        Ok(Submission::Lead(l)) => l,
        Ok(Submission::Bot) => return received(&card, form),
        Err(e) if as_html && e.status == 422 => {
            let text = format!("Please go back and check: {}.", lead::problems(&e));
            return html(
                422,
                card_page::message("Please check the form", &text),
                "no-store",
            );
        }
        Err(e) => return refusal(e, as_html),
    };
    if let Err(e) = take_limits(&cx, &card).await {
        return refusal(e, as_html);
    }
    store_lead(&cx, &card, lead).await?;
    received(&card, form)
}

/// The customer (a lead assigned to the card's owner), its events and the owner's email
/// job, in one batch; then the job is queued.
async fn store_lead(cx: &Ctx, card: &CardRow, lead: Lead) -> ApiResult<()> {
    let tenant = card.s("tenant_id");
    let db = cx.db()?;
    let now = cx.now_iso();
    let c = Customer {
        id: crate::platform::new_id("c"),
        name: lead.name.clone(),
        email: lead.email.clone(),
        phone: lead.phone.clone(),
        status: CustomerStatus::Lead,
        source: Some(lead::SOURCE.into()),
        notes: lead.message.clone(),
        assigned_to: card.s("owner_id").to_string(),
        created_by: card.s("owner_id").to_string(),
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    // The change is the visitor's (anonymous); the owner's notice is not a change.
    let created = outbox::draft(
        "crm:customer:created",
        entity_channels("customer", &c.id),
        serde_json::to_value(&c)?,
    )
    .by("anonymous");
    let captured = outbox::draft(
        "crm:lead:captured",
        vec![format!("user:{}", card.s("owner_id"))],
        json!({"customer": c, "card": {"id": card.s("id"), "slug": card.s("slug")}}),
    );
    let mut stmts = vec![
        crate::api::customers::insert_row(&db, tenant, &c)?,
        outbox::insert(&db, tenant, &created)?,
        outbox::insert(&db, tenant, &captured)?,
    ];
    let job = card.get("owner_email").map(|to| {
        let (subject, body) = lead::owner_email(card.s("display_name"), card.s("slug"), &lead);
        job_store::new_job(
            card.s("owner_id"),
            EMAIL,
            KIND_LEAD_EMAIL,
            json!({"to": to, "subject": subject, "body": body,
                   "customer_id": c.id, "card_id": card.s("id")}),
            Some(format!("customer:{}", c.id)),
        )
    });
    if let Some(job) = &job {
        stmts.extend(job_store::insert(&db, tenant, job)?);
    }
    outbox::commit_and_deliver(&cx.env, &db, tenant, stmts, true).await?;
    if let Some(job) = job {
        job_store::enqueue(&cx.env, tenant, std::slice::from_ref(&job)).await;
    }
    Ok(())
}
