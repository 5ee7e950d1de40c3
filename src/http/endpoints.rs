//! Every endpoint, declared once: method, path, who may call it, its handler and its
//! documentation. The router dispatches and checks access from this table, the request log
//! names its path pattern, and the OpenAPI document is generated from it (`http::openapi`).
//! The documentation part is native-only, so its text never reaches the Wasm.

use crate::api::{self, records};
use crate::domain::auth::Action::{Admin, Read, Write};
use crate::domain::owners::{OWNER, PROPERTY, PROPERTY_PARAMS, SEEKER, SEEKER_PARAMS};
use crate::domain::params::{self as q, Param, MAX_COUNTER};
use crate::domain::status::{
    AppointmentStatus, CommissionStatus, CustomerStatus, FollowupStatus, JobStatus, ListingStatus,
    MatchStatus, ReportStatus, SaleStatus, ScheduleStatus,
};
use crate::domain::{photo, report};
use crate::realtime::protocol::{
    CHANNEL_ITEM, HISTORY_MAX_LIMIT, MAX_TYPES_PER_SUBSCRIBE, QUERY_MAX_CHANNELS, TYPE_ITEM,
};
use crate::realtime::{rooms, routes as live};
use crate::web::auth::Access::{self, Optional, Platform, Public, Role, Stream};
use crate::web::ctx::Handler;

#[cfg(not(target_arch = "wasm32"))]
use super::openapi::{boolean, int, list_of, obj, r, s, switching, Doc};
#[cfg(not(target_arch = "wasm32"))]
use serde_json::json;

/// The one path that skips the request guards (rate limit, IP blocklist).
pub const UNGUARDED: &str = "/health";

/// Socket.IO's path (Engine.IO requests, `realtime::routes::socketio`).
pub const SOCKET_IO: &str = "/socket.io/";

/// Who may change a property: its fields and its photos alike.
pub const PROPERTY_EDIT: Access = Role(Write);
/// Who may read a property: its fields and its photos alike.
pub const PROPERTY_READ: Access = Role(Read);

pub struct Endpoint {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path, `:name` segments are parameters (in order, `Ctx::param`).
    pub path: &'static str,
    /// The query parameters the router checks before the handler (400 when malformed);
    /// the OpenAPI document declares them from here.
    pub query: &'static [Param],
    /// Checked by the router before the handler runs.
    pub access: Access,
    /// Served only when `PULSE_ENV=dev`: elsewhere a 404 before any other check.
    pub dev_only: bool,
    /// The largest request body read (413 past it, while it streams in): `MAX_BODY_BYTES`
    /// unless the declaration says `body <limit>`.
    pub body_limit: usize,
    pub handler: Handler,
    #[cfg(not(target_arch = "wasm32"))]
    pub doc: fn() -> Doc,
}

/// `endpoint!(METHOD "/path/:id" ?&[query params], access, handler, doc)`; `dev` first
/// marks a dev-only route, `body <bytes>,` first a larger body limit; the query parameters
/// (`domain::params`) are optional; the handler is a function path or `|c| call(…, c)`.
/// The doc expression is compiled for native builds only.
macro_rules! endpoint {
    (body $limit:expr, $($rest:tt)*) => {
        Endpoint { body_limit: $limit, ..endpoint!($($rest)*) }
    };
    (dev $m:ident $path:literal $(? $q:expr)?, $access:expr, |$c:ident| $call:expr, $doc:expr) => {
        endpoint!(@ true, $m $path [$($q)?], $access, |$c| $call, $doc)
    };
    (dev $m:ident $path:literal $(? $q:expr)?, $access:expr, $handler:path, $doc:expr) => {
        endpoint!(@ true, $m $path [$($q)?], $access, |c| $handler(c), $doc)
    };
    ($m:ident $path:literal $(? $q:expr)?, $access:expr, |$c:ident| $call:expr, $doc:expr) => {
        endpoint!(@ false, $m $path [$($q)?], $access, |$c| $call, $doc)
    };
    ($m:ident $path:literal $(? $q:expr)?, $access:expr, $handler:path, $doc:expr) => {
        endpoint!(@ false, $m $path [$($q)?], $access, |c| $handler(c), $doc)
    };
    (@query) => { &[] };
    (@query $q:expr) => { $q };
    (@ $dev:literal, $m:ident $path:literal [$($q:expr)?], $access:expr, |$c:ident| $call:expr, $doc:expr) => {
        Endpoint {
            method: stringify!($m),
            path: $path,
            query: endpoint!(@query $($q)?),
            access: $access,
            dev_only: $dev,
            body_limit: crate::web::body::MAX_BODY_BYTES,
            handler: |$c| Box::pin($call),
            #[cfg(not(target_arch = "wasm32"))]
            doc: || $doc,
        }
    };
}

pub static ENDPOINTS: &[Endpoint] = &[
    // --- system ---
    endpoint!(GET "/health", Public, api::health::get,
        Doc::new("health", "system", "Liveness and a D1 round trip")
            .reply(200, "Healthy", r("Health"))
            .reply(503, "D1 unreachable", r("Health"))),
    endpoint!(GET "/api/openapi.json", Public, api::docs::openapi,
        Doc::new("openapi", "system", "This document").reply(200, "OpenAPI 3.1", obj())),
    endpoint!(GET "/api/events.json", Public, api::docs::events,
        Doc::new("eventCatalog", "system", "The event catalog")
            .desc("Every event type the realtime transports carry: its audience, a description and the JSON Schema of its `data`, plus the envelope every event has. Generated from the Rust declarations (`crates/core/src/domain/catalog.rs`); client types are generated from it.")
            .reply(200, "The catalog", obj())),
    endpoint!(GET "/api/docs", Public, api::docs::page,
        Doc::new("docs", "system", "The API reference (HTML)")
            .desc("This document in Swagger UI, bundled into the static assets (no CDN): request and response schemas with examples; paste a token under Authorize and try a call against this server.")
            .raw(200, json!({
            "description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}))),
    endpoint!(GET "/api/docs/:file", Public, api::docs::docs_file,
        Doc::new("docsFile", "system", "A file of the API reference (`swagger-ui-bundle.js`, `swagger-ui.css`, `docs.js`, `docs.css`)")
            .raw(200, json!({
            "description": "The script or style sheet", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}}}}))),
    endpoint!(GET "/console", Public, api::docs::console_page,
        Doc::new("console", "system", "The live console (HTML)")
            .desc("Log in, then watch the tenant live: events, presence, jobs, dashboard; admins publish alerts. Static files, no CDN.")
            .raw(200, json!({
            "description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}))),
    endpoint!(GET "/console/:file", Public, api::docs::console_file,
        Doc::new("consoleFile", "system", "A file of the live console (`app.js`, `app.css`)")
            .raw(200, json!({
            "description": "The script or style sheet", "content": {
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}}}}))),
    // --- crm ---
    endpoint!(GET "/api/crm/customers" ?&[q::one_of("status", CustomerStatus::NAMES), q::text("assigned_to"), q::text("source"), q::int("mine", 0, 1), q::text("q")], Role(Read), api::customers::list,
        Doc::new("listCustomers", "crm", "List customers (newest first)")
            .desc("Filters: `status`, `assigned_to`, `source`, `mine=1` (assigned to the caller), and `q`: every word must start a word of the name, email or phone (case and accents ignored; a word with punctuation such as `ada@example.com` is a phrase); a `q` of only phone characters with at least 3 digits matches any run of a phone's digits (`600123` finds `+34 600 123 456`). The first 10 words count, 64 characters each. With `q`, newest first by creation.")
            .page(r("Customer"))),
    endpoint!(POST "/api/crm/customers", Role(Write), api::customers::create,
        Doc::new("createCustomer", "crm", "Create a customer (broker, admin)")
            .desc("Emits `crm:customer:created`. With an email, a welcome-email job starts.")
            .input("CustomerInput")
            .reply(201, "Created", r("Customer"))
            .header("Location", None)
            .header("Pulse-Job-Id", Some("the welcome-email job, when an email was given"))
            .errors(&[409])),
    endpoint!(GET "/api/crm/customers/:id", Role(Read), api::customers::get,
        Doc::new("getCustomer", "crm", "Get a customer")
            .reply(200, "The customer", r("Customer")).etag()),
    endpoint!(PUT "/api/crm/customers/:id", Role(Write), api::customers::update,
        Doc::new("updateCustomer", "crm", "Update a customer (partial; broker, admin)")
            .desc("Emits `crm:customer:updated`. With `version` (or If-Match): 409 `conflict` unless it is the current version. Without: applied to the current version; concurrent updates of other fields are never lost.")
            .input("CustomerPatch")
            .reply(200, "Updated", r("Customer")).versioned()),
    endpoint!(DELETE "/api/crm/customers/:id", Role(Admin), api::customers::delete,
        Doc::new("deleteCustomer", "crm", "Delete a customer (admin)")
            .desc("Emits `crm:customer:deleted`.").empty(204, "Deleted")),
    endpoint!(PUT "/api/crm/customers/:id/assign", Role(Write), api::customers::assign,
        Doc::new("assignCustomer", "crm", "Reassign a customer (admins, or its current assignee)")
            .desc("The new assignee must be a broker or admin of the tenant (422 otherwise); a broker who is not the current assignee gets 403. Emits `crm:customer:assigned` (the customer with `previous_assigned_to`) to the new and the previous assignee's `user:` channels and the customer's channels. Assigning to the current assignee changes nothing.")
            .input("CustomerAssignInput")
            .reply(200, "Assigned", r("Customer")).etag().errors(&[409])),
    endpoint!(POST "/api/crm/customers/:id/sms", Role(Write), api::customers::send_sms,
        Doc::new("sendCustomerSms", "crm", "Text a customer (broker, admin)")
            .desc("Runs on the `sms` queue through the configured SMS provider; progress arrives as `job:*` events. A customer without a phone is a 409.")
            .input("SmsInput")
            .reply(202, "The sms job", r("Job")).errors(&[409])),
    endpoint!(GET "/api/crm/interactions" ?&[q::text("customer_id")], Role(Read), api::interactions::list,
        Doc::new("listInteractions", "crm", "List interactions (newest first)")
            .page(r("Interaction"))),
    endpoint!(POST "/api/crm/interactions", Role(Write), api::interactions::create,
        Doc::new("createInteraction", "crm", "Log an interaction (broker, admin)")
            .desc("Emits `crm:interaction:created`. An unknown customer is a 422.")
            .input("InteractionInput").reply(201, "Logged", r("Interaction"))),
    endpoint!(GET "/api/crm/followups" ?&[q::text("assigned_to"), q::one_of("status", FollowupStatus::NAMES), q::text("customer_id"), q::time("due_before")], Role(Read), api::followups::list,
        Doc::new("listFollowups", "crm", "List follow-ups").page(r("Followup"))),
    endpoint!(POST "/api/crm/followups", Role(Write), api::followups::create,
        Doc::new("createFollowup", "crm", "Create a follow-up (broker, admin)")
            .desc("Emits `crm:followup:created`; when due, the cron emits `crm:followup:due` to the assignee once.")
            .input("FollowupInput").reply(201, "Created", r("Followup"))),
    endpoint!(GET "/api/crm/followups/:id", Role(Read), api::followups::get,
        Doc::new("getFollowup", "crm", "Get a follow-up")
            .reply(200, "The follow-up", r("Followup")).etag()),
    endpoint!(PUT "/api/crm/followups/:id", Role(Write), api::followups::update,
        Doc::new("updateFollowup", "crm", "Complete, cancel, reopen or reschedule (broker, admin)")
            .desc("Emits `crm:followup:completed` (status → done) or `crm:followup:updated`. Versioned like customers (`version` or If-Match, else 409).")
            .input("FollowupPatch").reply(200, "Updated", r("Followup")).versioned()),
    // --- calendar ---
    endpoint!(GET "/api/calendar/appointments" ?&[q::text("assigned_to"), q::one_of("status", AppointmentStatus::NAMES), q::time("from"), q::time("to")], Role(Read), api::calendar::list,
        Doc::new("listAppointments", "calendar", "List appointments").page(r("Appointment"))),
    endpoint!(POST "/api/calendar/appointments", Role(Write), api::calendar::create,
        Doc::new("createAppointment", "calendar", "Schedule an appointment (broker, admin)")
            .desc("Emits `calendar:appointment:created`; 30 min before the start the cron emits `calendar:reminder` to the assignee once.")
            .input("AppointmentInput").reply(201, "Scheduled", r("Appointment"))),
    endpoint!(GET "/api/calendar/appointments/:id", Role(Read), api::calendar::get,
        Doc::new("getAppointment", "calendar", "Get an appointment")
            .reply(200, "The appointment", r("Appointment"))),
    endpoint!(PUT "/api/calendar/appointments/:id", Role(Write), api::calendar::update,
        Doc::new("updateAppointment", "calendar", "Reschedule or edit a scheduled appointment (partial; broker, admin)")
            .desc("Emits `calendar:appointment:rescheduled` when `starts_at` or `ends_at` moved (the 30-minute reminder is armed again for the new start), else `calendar:appointment:updated`; both carry `changes: {field: {from, to}}`, and a new assignee's predecessor gets the event too. A completed or cancelled appointment, or one changed meanwhile, is a 409. A patch that changes nothing answers the appointment and emits nothing.")
            .input("AppointmentPatch")
            .reply(200, "Updated", r("Appointment")).errors(&[409])),
    endpoint!(PUT "/api/calendar/appointments/:id/cancel", Role(Write), api::calendar::cancel,
        Doc::new("cancelAppointment", "calendar", "Cancel a scheduled appointment (broker, admin)")
            .desc("Emits `calendar:appointment:cancelled`; no reminder is sent afterwards. The reason is kept as `outcome`. A completed or cancelled appointment is a 409.")
            .optional_input("AppointmentCancelInput")
            .reply(200, "Cancelled", r("Appointment")).errors(&[409])),
    endpoint!(PUT "/api/calendar/appointments/:id/complete", Role(Write), api::calendar::complete,
        Doc::new("completeAppointment", "calendar", "Complete an appointment (broker, admin)")
            .desc("Emits `calendar:appointment:completed`; a second completion is a 409.")
            .optional_input("AppointmentCompleteInput")
            .reply(200, "Completed", r("Appointment")).errors(&[409])),
    // --- cards ---
    endpoint!(GET "/api/cards" ?&[q::text("owner_id")], Role(Read), api::cards::list,
        Doc::new("listCards", "cards", "List the tenant's cards").page(r("Card"))),
    endpoint!(POST "/api/cards", Role(Write), api::cards::create,
        Doc::new("createCard", "cards", "Create a card (broker, admin)")
            .desc("Slugs are global (409 when taken). Emits `card:created`.")
            .input("CardInput").reply(201, "Created", r("Card")).errors(&[409])),
    endpoint!(GET "/api/cards/:id", Role(Read), api::cards::get,
        Doc::new("getCard", "cards", "Get a card").reply(200, "The card", r("Card"))),
    endpoint!(PUT "/api/cards/:id", Role(Write), api::cards::update,
        Doc::new("updateCard", "cards", "Edit a card (partial; its owner or an admin)")
            .desc("Emits `card:updated` with `changes`. A broker may edit only their own cards (403). A new slug must be free across tenants (409); the old slug's page is then a 404. A concurrent edit is a 409; a patch that changes nothing answers the card and emits nothing.")
            .input("CardPatch")
            .reply(200, "Updated", r("Card")).errors(&[409])),
    endpoint!(DELETE "/api/cards/:id", Role(Write), api::cards::delete,
        Doc::new("deleteCard", "cards", "Delete a card (its owner or an admin)")
            .desc("Emits `card:deleted`; its scans are removed, its public page, vCard and lead form answer 404 from then on, and leads already captured stay customers. A broker may delete only their own cards (403).")
            .empty(204, "Deleted")),
    endpoint!(GET "/api/cards/public/:slug", Public, api::cards::public,
        Doc::new("publicCard", "cards", "A card's public page data")
            .reply(200, "Public card", r("PublicCard"))),
    endpoint!(GET "/api/cards/public/:slug/vcard", Public, api::leads::vcard,
        Doc::new("cardVcard", "cards", "A card's contact as a vCard (RFC 6350)")
            .desc("`text/vcard` (vCard 4.0), for saving the contact. An unknown slug is a 404, as HTML when the Accept header asks for it.")
            .raw(200, json!({"description": "vCard 4.0", "content": {"text/vcard": {"schema": s()}}}))),
    endpoint!(POST "/api/cards/public/:slug/leads", Public, api::leads::capture,
        Doc::new("captureCardLead", "cards", "Leave your details on a card (public)")
            .desc("Creates a customer with `source: \"card\"` assigned to the card's owner, emits `crm:customer:created` and `crm:lead:captured` (to the owner's `user:` channel), and emails the owner. At most `LEAD_IP_LIMIT` (5) per client address and `LEAD_CARD_LIMIT` (20) per card in 15 minutes (429 with Retry-After). `website` is a honeypot: leave it empty; a filled one is answered like a success and nothing is stored. A JSON body gets JSON; a form post (`application/x-www-form-urlencoded`, `consent` as `true`/`on`) gets a 303 to the card page's thank-you (`/c/{slug}?sent=1`) and HTML error pages.")
            .form_input("CardLeadInput")
            .reply(201, "Received", json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "const": "received"}}}))
            .raw(303, json!({"description": "Form post received: see the card page's thank-you", "headers": {"Location": {"schema": s()}}}))),
    endpoint!(GET "/c/:slug" ?&[q::int("sent", 0, 1)], Public, api::leads::page,
        Doc::new("cardPage", "cards", "A card's public page (HTML)")
            .desc("Server-rendered, no script: the card's details, a vCard link and a contact form posting to `/api/cards/public/{slug}/leads`; `sent=1` shows the thank-you. An unknown slug is a 404 page (JSON when the Accept header asks for JSON only).")
            .raw(200, json!({"description": "HTML page", "content": {"text/html": {"schema": s()}}}))),
    endpoint!(POST "/api/cards/:id/scan", Public, api::cards::scan,
        Doc::new("scanCard", "cards", "Record a scan (public)")
            .desc("Counted once per visitor (hashed IP) per 10 minutes; a counted scan emits `card:scanned` to the owner.")
            .optional_input("CardScanInput")
            .reply(202, "Recorded", json!({"type": "object", "properties": {"counted": boolean(), "scans": int()}}))),
    // --- auth ---
    endpoint!(POST "/api/auth/accept-invite", Public, api::invitations::accept,
        Doc::new("acceptInvite", "auth", "Accept an invitation: set your name and password")
            .desc("Creates the invited user with the invitation's email and role and answers like a login. The token works once; an unknown, used or expired one is a 401 `invalid_invitation`. Emits `users:user:created` and `users:invitation:accepted`.")
            .input("AcceptInviteInput")
            .reply(200, "Signed in", r("TokenPair")).errors(&[401])),
    endpoint!(POST "/api/auth/login", Public, api::auth::login,
        Doc::new("login", "auth", "Log in with email and password")
            .desc("Repeated failures per (tenant, email) and per IP are rate limited (429 with Retry-After).")
            .input("LoginInput").reply(200, "Tokens", r("TokenPair")).errors(&[401])),
    endpoint!(POST "/api/auth/refresh", Public, api::auth::refresh,
        Doc::new("refresh", "auth", "Rotate a refresh token")
            .desc("A reused (already rotated) refresh token revokes its whole session: 401.")
            .input("RefreshInput").reply(200, "New tokens", r("TokenPair")).errors(&[401])),
    endpoint!(POST "/api/auth/logout", Public, api::auth::logout,
        Doc::new("logout", "auth", "End a session")
            .desc("Always 204 for a well-formed body, so it reveals nothing about the token.")
            .input("RefreshInput").empty(204, "Logged out")),
    // --- users ---
    endpoint!(GET "/api/users", Role(Read), api::users::list,
        Doc::new("listUsers", "users", "List users (admins: all; anyone else: themself)")
            .page(r("User"))),
    endpoint!(GET "/api/settings", Role(Read), api::settings::get,
        Doc::new("getSettings", "settings", "The brokerage's settings")
            .desc("Name, time zone, currency, the commission default and maximum (the values sales use), and the platforms its listings may use. Defaults: the tenant id, UTC, EUR, 300 bps, no maximum (brokers may not set a sale's rate), every platform of the deployment.")
            .reply(200, "The settings", r("TenantSettings"))),
    endpoint!(PUT "/api/settings", Role(Admin), api::settings::put,
        Doc::new("updateSettings", "settings", "Change the brokerage's settings (partial; admin)")
            .desc("Only the fields given are written (concurrent edits of other fields stay). Emits `settings:updated` with `changes` to admins; a patch that changes nothing emits nothing. `publishing_platforms` narrows the deployment's platforms for new listings and schedules.")
            .input("SettingsPatch")
            .reply(200, "Updated", r("TenantSettings"))),
    endpoint!(POST "/api/platform/tenants", Platform, api::platform::create_tenant,
        Doc::new("createTenant", "platform", "Add a brokerage (the operator, with PLATFORM_TOKEN)")
            .desc("Authorized by the `PLATFORM_TOKEN` secret as a bearer token, not a tenant JWT (401; 503 when it is not configured). Records the tenant and invites its first admin (`users:invitation:created` in the new tenant; the invitation email job in `Pulse-Job-Id` carries the token). A tenant id with a record or users already is a 409.")
            .input("TenantInput")
            .reply(201, "Created", json!({"type": "object", "properties": {
                "tenant": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "created_at": {"type": "string"}}},
                "invitation": r("Invitation")}}))
            .header("Pulse-Job-Id", Some("the first admin's invitation email job"))
            .errors(&[409])),
    endpoint!(POST "/api/users/invite", Role(Admin), api::invitations::invite,
        Doc::new("inviteUser", "users", "Invite someone by email with a role (admin)")
            .desc("Creates a one-time token valid 7 days and starts an invitation email job (`Pulse-Job-Id`) that carries it; the answer never does. Emits `users:invitation:created` to admins. An email of an existing user is a 409; an open invitation for the same email is replaced.")
            .input("InviteInput")
            .reply(201, "Invited", r("Invitation"))
            .header("Pulse-Job-Id", Some("the invitation email job"))
            .errors(&[409])),
    endpoint!(POST "/api/users", Role(Admin), api::users::create,
        Doc::new("createUser", "users", "Create a user (admin)").desc("Emits `users:user:created`.")
            .input("UserInput").reply(201, "Created", r("User")).errors(&[409])),
    endpoint!(GET "/api/users/:id", Role(Read), api::users::get,
        Doc::new("getUser", "users", "Get a user (broker, admin; a viewer only itself)")
            .reply(200, "The user", r("User")).etag().errors(&[403])),
    endpoint!(PUT "/api/users/:id", Role(Admin), api::users::update,
        Doc::new("updateUser", "users", "Change a user's name or role, or your own password (admin)")
            .desc("Emits `users:user:updated`. `password` only for yourself (403 for another user: users set their own, through an invitation); a reset ends your sessions. Versioned like customers (`version` or If-Match, else 409).")
            .input("UserPatch").reply(200, "Updated", r("User")).versioned()),
    endpoint!(DELETE "/api/users/:id", Role(Admin), api::users::delete,
        Doc::new("deleteUser", "users", "Delete a user (admin; not yourself)")
            .desc("Emits `users:user:deleted`.").empty(204, "Deleted").errors(&[409])),
    // --- finance ---
    endpoint!(GET "/api/finance/sales" ?&[q::text("broker_id"), q::text("customer_id"), q::one_of("status", SaleStatus::NAMES), q::time("from"), q::time("to")], Role(Read), api::finance::list_sales,
        Doc::new("listSales", "finance", "List sales (broker, admin)").page(r("Sale")).errors(&[403])),
    endpoint!(POST "/api/finance/sales", Role(Write), api::finance::create_sale,
        Doc::new("createSale", "finance", "Record a sale and its commission (broker, admin)")
            .desc("Emits `finance:sale:created` and `finance:commission:calculated` (to the broker, admins and `entity:sale:<id>`). Rate: the sale's own, else the broker's, else the tenant's, else 300 bps. Only admins may give a sale its own rate, or brokers up to the tenant's `broker_rate_override_max_bps` (403 `forbidden` otherwise).")
            .input("SaleInput").reply(201, "Created", r("Sale"))),
    endpoint!(GET "/api/finance/sales/:id", Role(Read), api::finance::get_sale,
        Doc::new("getSale", "finance", "Get a sale (broker, admin)")
            .reply(200, "The sale", r("Sale")).errors(&[403])),
    endpoint!(GET "/api/finance/payments" ?&[q::text("sale_id")], Role(Read), api::finance::list_payments,
        Doc::new("listPayments", "finance", "List payments (broker, admin)").page(r("Payment")).errors(&[403])),
    endpoint!(POST "/api/finance/payments", Role(Write), api::finance::create_payment,
        Doc::new("createPayment", "finance", "Record a payment (broker, admin)")
            .desc("409 when it would pay the sale past its total (nothing is written). `sale_balance_minor`/`sale_status` (in the answer and in `finance:payment:received`) are the sale's right after this payment, even under concurrent payments.")
            .input("PaymentInput").reply(201, "Recorded", r("Payment")).errors(&[409])),
    endpoint!(POST "/api/finance/payments/:id/refund", Role(Admin), api::finance::refund_payment,
        Doc::new("refundPayment", "finance", "Refund a payment, in part or in full (admin)")
            .desc("The refunds of a payment never exceed it, whatever runs concurrently (409 `conflict` with `details.refundable_minor`). The sale's paid total falls by the refund, so its balance grows (and a paid sale is open again). Emits `finance:payment:refunded` to admins and the sale's broker.")
            .input("RefundInput")
            .reply(201, "Refunded", r("Refund")).errors(&[409])),
    endpoint!(GET "/api/finance/commissions" ?&[q::text("broker_id"), q::one_of("status", CommissionStatus::NAMES), q::text("sale_id")], Role(Read), api::finance::list_commissions,
        Doc::new("listCommissions", "finance", "List commissions (brokers: their own; broker, admin)")
            .page(r("Commission")).errors(&[403])),
    endpoint!(PUT "/api/finance/commissions/:id/approve", Role(Admin), api::finance::approve_commission,
        Doc::new("approveCommission", "finance", "Approve a commission (admin)")
            .desc("Once (409 after). Emits `finance:commission:approved`.")
            .reply(200, "Approved", r("Commission")).errors(&[409])),
    endpoint!(PUT "/api/finance/commissions/:id/pay", Role(Admin), api::finance::pay_commission,
        Doc::new("payCommission", "finance", "Mark an approved commission paid (admin)")
            .desc("Once, and only after approval (409 otherwise). Emits `finance:commission:paid` to admins and the commission's broker.")
            .reply(200, "Paid", r("Commission")).errors(&[409])),
    endpoint!(GET "/api/finance/commission-rates", Role(Admin), api::finance::list_rates,
        Doc::new("listCommissionRates", "finance", "Commission rates (admin)").reply(200, "Rates", obj())),
    endpoint!(PUT "/api/finance/commission-rates", Role(Admin), api::finance::put_rate,
        Doc::new("putCommissionRate", "finance", "Set the tenant's or a broker's rate (admin)")
            .input("CommissionRateInput").reply(200, "Set", obj())),
    endpoint!(GET "/api/finance/settings", Role(Admin), api::finance::settings,
        Doc::new("getFinanceSettings", "finance", "Finance settings (admin)")
            .reply(200, "Settings", r("FinanceSettings"))),
    endpoint!(PUT "/api/finance/settings", Role(Admin), api::finance::put_settings,
        Doc::new("putFinanceSettings", "finance", "Set the finance settings (admin)")
            .desc("`broker_rate_override_max_bps`: the highest `commission_rate_bps` a broker may give their own sale; `null` (the default): brokers may not set one. Emits `finance:settings:updated` to admins.")
            .input("FinanceSettingsInput").reply(200, "Set", r("FinanceSettings"))),
    // --- owners, properties, seekers (one generic handler each, per resource spec) ---
    endpoint!(GET "/api/owners", Role(Read), |c| records::list(&OWNER, c),
        Doc::new("listOwners", "owners", "List owners").page(r("Owner"))),
    endpoint!(POST "/api/owners", Role(Write), |c| records::create(&OWNER, c),
        Doc::new("createOwner", "owners", "Create an owner (broker, admin)")
            .desc("Emits `owners:owner:added`.").input("OwnerInput").reply(201, "Created", r("Owner"))),
    endpoint!(GET "/api/owners/:id", Role(Read), |c| records::get(&OWNER, c),
        Doc::new("getOwner", "owners", "Get an owner").reply(200, "Found", r("Owner"))),
    endpoint!(PUT "/api/owners/:id", Role(Write), |c| records::update(&OWNER, c),
        Doc::new("updateOwner", "owners", "Update an owner (partial; broker, admin)")
            .desc("`null` clears an optional field. Emits `owners:owner:updated`.")
            .input("OwnerPatch").reply(200, "Updated", r("Owner")).errors(&[409])),
    endpoint!(DELETE "/api/owners/:id", Role(Admin), |c| records::delete(&OWNER, c),
        Doc::new("deleteOwner", "owners", "Delete an owner (admin)")
            .desc("Emits `owners:owner:deleted`.").empty(204, "Deleted")),
    endpoint!(GET "/api/properties" ?PROPERTY_PARAMS, Role(Read), |c| records::list(&PROPERTY, c),
        Doc::new("listProperties", "owners", "List properties").page(r("Property"))),
    endpoint!(POST "/api/properties", Role(Write), |c| records::create(&PROPERTY, c),
        Doc::new("createProperty", "owners", "Create a property (broker, admin)")
            .desc("Emits `owners:property:added`.").input("PropertyInput")
            .reply(201, "Created", r("Property"))),
    endpoint!(GET "/api/properties/:id", PROPERTY_READ, |c| records::get(&PROPERTY, c),
        Doc::new("getProperty", "owners", "Get a property").reply(200, "Found", r("Property"))),
    endpoint!(PUT "/api/properties/:id", PROPERTY_EDIT, |c| records::update(&PROPERTY, c),
        Doc::new("updateProperty", "owners", "Update a property (partial; broker, admin)")
            .desc("`null` clears an optional field. Emits `owners:property:updated`.")
            .input("PropertyPatch").reply(200, "Updated", r("Property")).errors(&[409])),
    endpoint!(DELETE "/api/properties/:id", Role(Admin), api::photos::delete_property,
        Doc::new("deleteProperty", "owners", "Delete a property (admin)")
            .desc("Emits `owners:property:deleted`. Its photos go with it (rows and stored files).")
            .empty(204, "Deleted")),
    endpoint!(body photo::MAX_BYTES, POST "/api/properties/:id/photos", PROPERTY_EDIT, api::photos::upload,
        Doc::new("uploadPropertyPhoto", "owners", "Add a photo to a property (broker, admin: who may edit it)")
            .desc("The body is the image itself: JPEG, PNG or WebP, at most 10 MiB. The format is told by the file's first bytes, never by `Content-Type`: anything else is a 415; a larger body is a 413, refused while it streams in. At most 50 photos per property (409 past that). Emits `owners:property:photo_added`.")
            .binary_input(photo::CONTENT_TYPES)
            .reply(201, "Stored", r("Photo")).header("Location", None)
            .errors(&[409, 413, 415, 503])),
    endpoint!(GET "/api/properties/:id/photos", PROPERTY_READ, api::photos::list,
        Doc::new("listPropertyPhotos", "owners", "A property's photos, in upload order")
            .reply(200, "Every photo of the property (at most 50)", list_of(r("Photo")))),
    endpoint!(DELETE "/api/properties/:id/photos/:photo", PROPERTY_EDIT, api::photos::delete,
        Doc::new("deletePropertyPhoto", "owners", "Remove a photo (broker, admin: who may edit the property)")
            .desc("Emits `owners:property:photo_removed`.").empty(204, "Removed")),
    endpoint!(GET "/api/photos/:id", Optional(Read), api::photos::serve,
        Doc::new("getPhoto", "owners", "A photo's image")
            .desc("Public, without a token, while a listing of its property is published or being published on a platform (`Cache-Control: public`). Before that it needs a token of the photo's tenant (`Cache-Control: private`): without one it is a 401, with another tenant's a 404. A photo that does not exist answers the same. `ETag` on every answer; `If-None-Match` with it is a 304.")
            .raw(200, json!({"description": "The image",
                "headers": {"ETag": {"schema": s()}, "Cache-Control": {"schema": s()}},
                "content": photo::CONTENT_TYPES.iter()
                    .map(|t| (t.to_string(), json!({"schema": {"type": "string", "format": "binary"}})))
                    .collect::<serde_json::Map<String, serde_json::Value>>()}))
            .raw(304, json!({"description": "Not modified (If-None-Match named the ETag)",
                "headers": {"ETag": {"schema": s()}, "Cache-Control": {"schema": s()}}}))
            .param(json!({"name": "If-None-Match", "in": "header", "schema": s()}))),
    endpoint!(GET "/api/seekers" ?SEEKER_PARAMS, Role(Read), |c| records::list(&SEEKER, c),
        Doc::new("listSeekers", "owners", "List seekers").page(r("Seeker"))),
    endpoint!(POST "/api/seekers", Role(Write), |c| records::create(&SEEKER, c),
        Doc::new("createSeeker", "owners", "Create a seeker (broker, admin)")
            .desc("Emits `owners:seeker:added`.").input("SeekerInput").reply(201, "Created", r("Seeker"))),
    endpoint!(GET "/api/seekers/:id", Role(Read), |c| records::get(&SEEKER, c),
        Doc::new("getSeeker", "owners", "Get a seeker").reply(200, "Found", r("Seeker"))),
    endpoint!(PUT "/api/seekers/:id", Role(Write), |c| records::update(&SEEKER, c),
        Doc::new("updateSeeker", "owners", "Update a seeker (partial; broker, admin)")
            .desc("`null` clears an optional field. Emits `owners:seeker:updated`.")
            .input("SeekerPatch").reply(200, "Updated", r("Seeker")).errors(&[409])),
    endpoint!(DELETE "/api/seekers/:id", Role(Admin), |c| records::delete(&SEEKER, c),
        Doc::new("deleteSeeker", "owners", "Delete a seeker (admin)")
            .desc("Emits `owners:seeker:deleted`.").empty(204, "Deleted")),
    endpoint!(POST "/api/matching/run", Role(Write), api::matching::run,
        Doc::new("runMatching", "owners", "Match seekers with properties (broker, admin)")
            .desc("Runs on the `matching` queue; emits `owners:match:found` once per new match.")
            .optional_input("MatchingRunInput").reply(202, "The matching job", r("Job"))),
    endpoint!(GET "/api/matches" ?&[q::text("seeker_id"), q::text("property_id"), q::one_of("status", MatchStatus::NAMES)], Role(Read), api::matching::list,
        Doc::new("listMatches", "owners", "Matches found (best first)")
            .desc("Filters: `seeker_id`, `property_id`, `status` (`proposed`, `accepted`, `rejected`).")
            .page(r("Match"))),
    endpoint!(PUT "/api/matches/:id", Role(Write), api::matching::decide,
        Doc::new("decideMatch", "owners", "Accept or reject a match (broker, admin)")
            .desc("Emits `owners:match:accepted` or `owners:match:rejected` with `changes`. A decision can be changed later; the same decision again answers the match and emits nothing. Later matching runs never propose a decided match again. A concurrent decision is a 409.")
            .input("MatchDecisionInput")
            .reply(200, "Decided", r("Match")).errors(&[409])),
    // --- jobs ---
    endpoint!(GET "/api/jobs" ?&[q::one_of("status", JobStatus::NAMES), q::text("queue"), q::text("subject")], Role(Read), api::jobs::list,
        Doc::new("listJobs", "jobs", "List jobs, newest first (admins: all; others: their own)")
            .page(r("Job"))),
    endpoint!(GET "/api/jobs/:id", Role(Read), api::jobs::get,
        Doc::new("getJob", "jobs", "A background job's status").reply(200, "The job", r("Job"))),
    endpoint!(POST "/api/jobs/:id/retry", Role(Admin), api::jobs::retry,
        Doc::new("retryJob", "jobs", "Re-run a dead or failed job (admin)")
            .desc("Resets the attempt count and emits `job:queued`. Only `dead` and `failed` jobs: anything else is a 409.")
            .reply(202, "Queued again", r("Job")).errors(&[409])),
    // --- audit ---
    endpoint!(GET "/api/audit" ?&[q::text("entity"), q::text("actor"), q::text("action"), q::time("from"), q::time("to")], Role(Admin), api::audit::list,
        Doc::new("listAudit", "audit", "The tenant's audit trail, newest first (admin)")
            .desc("Who did what and when, with the change set: one row per change a caller committed (written in the change's own batch), failed logins on existing accounts (`auth:login:failed`, actor `anonymous`) and role changes (`users:user:updated`) included. `entity` is `<kind>` or `<kind>:<id>`; `action` an event type, or a prefix ending in `*`; `from` (inclusive) and `to` (exclusive) are RFC 3339 times. Kept one year.")
            .page(r("AuditEntry"))),
    // --- notifications ---
    endpoint!(GET "/api/notifications" ?&[q::one_of("unread", &["1", "0", "true", "false"])], Role(Read), api::notifications::list,
        Doc::new("listNotifications", "notifications", "The caller's saved notifications, newest first")
            .desc("One per notified event addressed to the caller (`user:<self>` or `role:<role>`; the types are listed in docs/realtime.md), kept 90 days. `unread=1` (or `true`) lists the unread ones only. Each carries its event's data as the read policy lets the caller see it.")
            .page(r("Notification"))),
    endpoint!(GET "/api/notifications/unread-count", Role(Read), api::notifications::unread_count,
        Doc::new("unreadNotifications", "notifications", "How many of the caller's notifications are unread")
            .reply(200, "The count", json!({"type": "object", "required": ["unread"], "properties": {"unread": int()}}))),
    endpoint!(PUT "/api/notifications/:id/read", Role(Read), api::notifications::read,
        Doc::new("readNotification", "notifications", "Mark one of the caller's notifications read")
            .desc("Emits `notification:read` to `user:<self>` (the caller's other devices) when it was unread; marking a read one again changes nothing. Another user's notification is a 404.")
            .reply(200, "The notification", r("Notification"))),
    endpoint!(POST "/api/notifications/read-all", Role(Read), api::notifications::read_all,
        Doc::new("readAllNotifications", "notifications", "Mark every notification of the caller read")
            .desc("Emits one `notification:read` (`all: true`) to `user:<self>` when any was unread.")
            .reply(200, "How many were marked", json!({"type": "object", "required": ["read", "unread"], "properties": {"read": int(), "unread": int()}}))),
    // --- publishing ---
    endpoint!(GET "/api/publishing/listings" ?&[q::one_of("status", ListingStatus::NAMES), q::text("property_id")], Role(Read), api::publishing::list_listings,
        Doc::new("listListings", "publishing", "List listings").page(r("Listing"))),
    endpoint!(POST "/api/publishing/listings", Role(Write), api::publishing::create_listing,
        Doc::new("createListing", "publishing", "Create a listing of a property (broker, admin)")
            .desc("Copies the property's title, description, price and facts (overridable). Emits `publishing:listing:created`.")
            .input("ListingInput").reply(201, "Created (draft)", r("Listing")).errors(&[503])),
    endpoint!(GET "/api/publishing/listings/:id", Role(Read), api::publishing::get_listing,
        Doc::new("getListing", "publishing", "Get a listing with its publications")
            .reply(200, "The listing", r("Listing"))),
    endpoint!(PUT "/api/publishing/listings/:id", Role(Write), api::publishing::update_listing,
        Doc::new("updateListing", "publishing", "Edit a listing's title, description or price (partial; broker, admin)")
            .desc("Emits `publishing:listing:updated` with `changes`. A live advert shows the edit after the next publish. A concurrent edit is a 409; a patch that changes nothing emits nothing.")
            .input("ListingPatch")
            .reply(200, "Updated", r("Listing")).errors(&[409])),
    endpoint!(POST "/api/publishing/listings/:id/unpublish", Role(Write), api::publishing::unpublish,
        Doc::new("unpublishListing", "publishing", "Withdraw a listing from its platforms (broker, admin)")
            .desc("One `publishing` job per platform (default: every platform it is published on): a signed webhook with `action: unpublish`. The publication is `unpublishing` until the platform confirms, then `unpublished` with `publishing:unpublished`. A listing also comes off every platform when its property is marked sold. Not published on a chosen platform: 409.")
            .optional_input("ListingUnpublishInput")
            .reply(202, "Jobs started", json!({"type": "object", "properties": {
                "listing": r("Listing"), "jobs": {"type": "array", "items": r("Job")}}}))
            .errors(&[409])),
    endpoint!(POST "/api/publishing/listings/:id/publish", Role(Write), api::publishing::publish_now,
        Doc::new("publishListing", "publishing", "Publish now (broker, admin)")
            .desc("One `publishing` job per platform (sent in one batch). Each emits `publishing:started`, then `publishing:completed` or `publishing:failed`. A platform still in flight is a 409.")
            .optional_input("ListingPublishInput")
            .reply(202, "Jobs started", json!({"type": "object", "properties": {
                "listing": r("Listing"), "jobs": {"type": "array", "items": r("Job")}}}))
            .errors(&[409])),
    endpoint!(GET "/api/publishing/schedules" ?&[q::one_of("status", ScheduleStatus::NAMES), q::text("listing_id")], Role(Read), api::publishing::list_schedules,
        Doc::new("listSchedules", "publishing", "List publishing schedules").page(r("Schedule"))),
    endpoint!(POST "/api/publishing/schedules", Role(Write), api::publishing::create_schedule,
        Doc::new("createSchedule", "publishing", "Schedule a publication (broker, admin)")
            .desc("The every-minute cron starts it once `run_at` has passed (publishing jobs, as with publish-now).")
            .input("ScheduleInput").reply(201, "Scheduled", r("Schedule")).errors(&[503])),
    endpoint!(DELETE "/api/publishing/schedules/:id", Role(Write), api::publishing::cancel_schedule,
        Doc::new("cancelSchedule", "publishing", "Cancel a pending schedule (broker, admin)")
            .reply(200, "Cancelled", r("Schedule")).errors(&[409])),
    // --- reports ---
    endpoint!(GET "/api/reports" ?&[q::one_of("kind", report::KINDS), q::one_of("status", ReportStatus::NAMES)], Role(Admin), api::reports::list,
        Doc::new("listReports", "reports", "List reports (admin)").page(r("Report"))),
    endpoint!(POST "/api/reports", Role(Admin), api::reports::create,
        Doc::new("createReport", "reports", "Request a report (admin)")
            .desc("Built on the `reports` queue from D1 aggregates (with `job:progress`), stored in R2; `reports:generated` when ready.")
            .input("ReportInput").reply(202, "Queued", r("Report"))),
    endpoint!(GET "/api/reports/:id", Role(Admin), api::reports::get,
        Doc::new("getReport", "reports", "Get a report's status (admin)").reply(200, "The report", r("Report"))),
    endpoint!(GET "/api/reports/:id/download", Role(Admin), api::reports::download,
        Doc::new("downloadReport", "reports", "Download a ready report (admin)")
            .raw(200, json!({"description": "The file", "content": {
                "text/csv": {"schema": s()}, "application/json": {"schema": obj()}}}))
            .errors(&[409, 410])),
    endpoint!(GET "/api/dashboard", Role(Read), api::dashboard::get,
        Doc::new("getDashboard", "reports", "Tenant totals")
            .desc("Money figures as the caller may read them: admins all, brokers their own, viewers none.")
            .reply(200, "Dashboard", r("Dashboard"))),
    endpoint!(GET "/api/analytics/snapshot", Role(Read), api::analytics::snapshot,
        Doc::new("analyticsSnapshot", "reports", "Events by type over the last 24 h")
            .reply(200, "Snapshot", json!({"type": "object", "properties": {
                "window_hours": int(), "events": int(), "events_by_type": obj(),
                "connections": int(), "head": int()}}))),
    endpoint!(GET "/api/stats", Role(Admin), api::analytics::stats,
        Doc::new("stats", "reports", "Tenant totals (admin)")
            .reply(200, "Stats", json!({"type": "object", "additionalProperties": true}))),
    // --- security ---
    endpoint!(GET "/api/security/blocked-ips", Role(Admin), api::security::list,
        Doc::new("listBlockedIps", "security", "The tenant's IP blocklist (admin)")
            .reply(200, "Blocked addresses", list_of(r("BlockedIp")))),
    endpoint!(POST "/api/security/blocked-ips", Role(Admin), api::security::create,
        Doc::new("blockIp", "security", "Block an address for this tenant (admin)")
            .desc("Requests with a token of this tenant from the address then get 403 `ip_blocked` (within BLOCKLIST_CACHE_MS, 10 s).")
            .input("BlockIpInput").reply(201, "Blocked", r("BlockedIp")).errors(&[409])),
    endpoint!(DELETE "/api/security/blocked-ips/:ip", Role(Admin), api::security::delete,
        Doc::new("unblockIp", "security", "Unblock an address (admin)").empty(204, "Unblocked")),
    // --- dev only ---
    endpoint!(dev GET "/api/dev/messages", Role(Read), api::dev::messages,
        Doc::new("listDevMessages", "dev", "Messages recorded by the `record` providers (dev only)")
            .page(r("SentMessage"))),
    endpoint!(dev GET "/api/dev/dead-letters", Role(Admin), api::dev::dead_letters,
        Doc::new("listDeadLetters", "dev", "Poison queue messages (dev only, admin)").page(obj())),
    endpoint!(dev POST "/api/dev/queues/:queue", Role(Admin), api::dev::queue_send,
        Doc::new("devQueueSend", "dev", "Send raw messages to a job queue (dev only, admin)")
            .input("QueueSendInput").reply(202, "Sent", obj())),
    endpoint!(dev GET "/api/dev/photo-files", Role(Admin), api::photos::dev_files,
        Doc::new("listDevPhotoFiles", "dev", "The tenant's photo files in R2 (dev only, admin)")
            .reply(200, "Their keys", list_of(s()))),
    endpoint!(dev POST "/api/dev/hub-append", Role(Admin), api::dev::hub_append,
        Doc::new("devHubAppend", "dev", "Append an event straight to the hub, skipping D1 (dev only, admin; for benchmarks)")
            .input("HubAppendInput").reply(202, "Appended", obj())),
    // --- realtime ---
    endpoint!(GET "/api/realtime/ws", Stream, live::websocket,
        Doc::new("realtimeWs", "realtime", "Open the tenant's WebSocket")
            .raw(101, switching("Switching Protocols: the WebSocket (protocol in docs/realtime.md)"))
            .errors(&[426])),
    endpoint!(GET "/socket.io/", Public, live::socketio,
        Doc::new("socketioGet", "realtime", "Socket.IO (Engine.IO v4): handshake, long-poll or WebSocket")
            .desc("For `socket.io-client` v4: `io(url, { query: { tenant }, auth: { token } })`. The token is checked at the CONNECT packet; events arrive named by their type. Protocol and mapping: docs/socketio.md.")
            .raw(200, json!({"description": "Engine.IO packets (text/plain)"}))),
    endpoint!(POST "/socket.io/", Public, live::socketio,
        Doc::new("socketioPost", "realtime", "Socket.IO (Engine.IO v4): packets of a polling session")
            .raw(200, json!({"description": "`ok`"}))),
    endpoint!(GET "/api/realtime/stream" ?&[q::list("channels", &CHANNEL_ITEM, QUERY_MAX_CHANNELS), q::list("types", &TYPE_ITEM, MAX_TYPES_PER_SUBSCRIBE),
        q::int("since", 0, MAX_COUNTER)], Stream, live::stream,
        Doc::new("realtimeStream", "realtime", "Server-Sent Events stream")
            .raw(200, json!({"description": "text/event-stream; each `id:` is the event's seq",
                "content": {"text/event-stream": {"schema": {"type": "string"}}}}))
            .param(json!({"name": "Last-Event-ID", "in": "header", "schema": {"type": "string"}}))
            .errors(&[400, 403])),
    endpoint!(GET "/api/realtime/events" ?&[q::int("since", 0, MAX_COUNTER), q::int("limit", 1, HISTORY_MAX_LIMIT),
        q::list("channels", &CHANNEL_ITEM, QUERY_MAX_CHANNELS), q::list("types", &TYPE_ITEM, MAX_TYPES_PER_SUBSCRIBE)], Role(Read), live::events,
        Doc::new("realtimeEvents", "realtime", "History for polling clients")
            .reply(200, "Events after `since`", r("EventPage"))
            .errors(&[400, 403])),
    endpoint!(GET "/api/realtime/stats", Role(Admin), live::stats,
        Doc::new("realtimeStats", "realtime", "Hub statistics (admin)").reply(200, "Stats", obj())),
    endpoint!(POST "/api/realtime/publish", Role(Admin), live::publish,
        Doc::new("realtimePublish", "realtime", "Publish a system alert (admin)")
            .input("PublishInput").reply(202, "Accepted into the history", r("Published"))),
    endpoint!(GET "/api/realtime/rooms", Role(Read), rooms::list,
        Doc::new("listRooms", "realtime", "List rooms").reply(200, "Rooms", list_of(r("Room")))),
    endpoint!(POST "/api/realtime/rooms", Role(Admin), rooms::create,
        Doc::new("createRoom", "realtime", "Create a room (admin)")
            .input("RoomInput").reply(201, "Created", r("Room")).errors(&[409])),
    endpoint!(GET "/api/realtime/rooms/:name/ws", Stream, rooms::websocket,
        Doc::new("roomWs", "realtime", "Join a room's WebSocket")
            .raw(101, switching("Switching Protocols: the WebSocket (protocol in docs/realtime.md)"))
            .errors(&[426])),
    endpoint!(POST "/api/realtime/rooms/:name/publish", Role(Write), rooms::publish,
        Doc::new("roomPublish", "realtime", "Publish into a room (broker, admin)")
            .input("RoomPublishInput").reply(202, "Accepted", r("Published"))),
    endpoint!(GET "/api/public/rooms/:tenant/:name/ws", Public, rooms::public_websocket,
        Doc::new("publicRoomWs", "realtime", "Anonymous join of a public room")
            .raw(101, switching("Switching Protocols")).errors(&[426])),
];

#[derive(Debug, PartialEq)]
pub enum Match<'a> {
    /// The endpoint and its `:param` values in order.
    Found(&'static Endpoint, Vec<&'a str>),
    MethodNotAllowed,
    NotFound,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl PartialEq for Endpoint {
    fn eq(&self, other: &Self) -> bool {
        self.method == other.method && self.path == other.path
    }
}

fn captures<'a>(pattern: &str, segs: &[&'a str]) -> Option<Vec<&'a str>> {
    let pat: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    if pat.len() != segs.len() {
        return None;
    }
    let mut params = Vec::new();
    for (p, s) in pat.iter().zip(segs) {
        if p.starts_with(':') {
            if s.is_empty() {
                return None;
            }
            params.push(*s);
        } else if p != s {
            return None;
        }
    }
    Some(params)
}

pub fn find<'a>(method: &str, path: &'a str) -> Match<'a> {
    let segs: Vec<&'a str> = path.trim_matches('/').split('/').collect();
    let mut path_known = false;
    for ep in ENDPOINTS {
        if let Some(params) = captures(ep.path, &segs) {
            if ep.method == method {
                return Match::Found(ep, params);
            }
            path_known = true;
        }
    }
    if path_known {
        Match::MethodNotAllowed
    } else {
        Match::NotFound
    }
}

/// The route pattern a request is logged under (never the raw path): the matching
/// endpoint's, else any pattern the path matches (another method), else `None`.
pub fn pattern(method: &str, path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut other = None;
    for ep in ENDPOINTS {
        if captures(ep.path, &segs).is_some() {
            if ep.method == method {
                return Some(ep.path);
            }
            other = other.or(Some(ep.path));
        }
    }
    other
}

/// The value of the `:name` segment of an endpoint's path, given its captured params.
pub fn named<'a>(ep: &Endpoint, params: &[&'a str], name: &str) -> Option<&'a str> {
    ep.path
        .split('/')
        .filter_map(|s| s.strip_prefix(':'))
        .position(|p| p == name)
        .and_then(|i| params.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn found(method: &str, path: &str) -> Option<(&'static str, Vec<String>)> {
        match find(method, path) {
            Match::Found(ep, p) => Some((ep.path, p.iter().map(|s| s.to_string()).collect())),
            _ => None,
        }
    }

    #[test]
    fn socket_io_path_is_the_declared_one() {
        for m in ["GET", "POST"] {
            assert_eq!(found(m, SOCKET_IO).map(|f| f.0), Some(SOCKET_IO));
        }
    }

    #[test]
    fn patterns_hide_ids() {
        assert_eq!(
            pattern("GET", "/api/crm/customers/c_1"),
            Some("/api/crm/customers/:id")
        );
        assert_eq!(
            pattern("OPTIONS", "/api/crm/customers/c_1"),
            Some("/api/crm/customers/:id")
        );
        assert_eq!(pattern("GET", "/api/nothing/secret"), None);
    }

    #[test]
    fn matching() {
        assert_eq!(
            found("GET", "/api/crm/customers/c_1"),
            Some(("/api/crm/customers/:id", vec!["c_1".into()]))
        );
        assert_eq!(
            found("GET", "/api/crm/customers/"),
            Some(("/api/crm/customers", vec![]))
        );
        assert_eq!(
            find("PATCH", "/api/crm/customers/c_1"),
            Match::MethodNotAllowed
        );
        assert_eq!(find("GET", "/api/crm/nothing"), Match::NotFound);
        assert_eq!(
            found("GET", "/api/public/rooms/demo/lobby/ws"),
            Some((
                "/api/public/rooms/:tenant/:name/ws",
                vec!["demo".into(), "lobby".into()]
            ))
        );
    }

    #[test]
    fn named_params() {
        let Match::Found(ep, p) = find("GET", "/api/public/rooms/demo/lobby/ws") else {
            panic!("public room route");
        };
        assert_eq!(named(ep, &p, "tenant"), Some("demo"));
        assert_eq!(named(ep, &p, "name"), Some("lobby"));
        assert_eq!(named(ep, &p, "id"), None);
    }

    #[test]
    fn every_endpoint_is_unique() {
        let mut seen = BTreeSet::new();
        for ep in ENDPOINTS {
            assert!(
                seen.insert((ep.method, ep.path)),
                "duplicate endpoint {} {}",
                ep.method,
                ep.path
            );
            assert!(
                ["GET", "POST", "PUT", "DELETE"].contains(&ep.method),
                "{} {}: unknown method",
                ep.method,
                ep.path
            );
        }
    }

    fn access_of(method: &str, path: &str) -> Access {
        match find(method, path) {
            Match::Found(ep, _) => ep.access,
            other => panic!("{method} {path}: {other:?}"),
        }
    }

    /// Whoever may edit a property may add and remove its photos, and nobody else; whoever
    /// may read it may list them.
    #[test]
    fn photos_follow_the_property_rules() {
        let edit = access_of("PUT", "/api/properties/p1");
        assert_eq!(edit, PROPERTY_EDIT);
        assert_eq!(access_of("POST", "/api/properties/p1/photos"), edit);
        assert_eq!(access_of("DELETE", "/api/properties/p1/photos/x1"), edit);
        let read = access_of("GET", "/api/properties/p1");
        assert_eq!(read, PROPERTY_READ);
        assert_eq!(access_of("GET", "/api/properties/p1/photos"), read);
    }

    /// Bodies past 1 MiB only where a route declares it (photo uploads, 10 MiB).
    #[test]
    fn larger_bodies_only_where_declared() {
        for ep in ENDPOINTS {
            let want = if ep.path == "/api/properties/:id/photos" && ep.method == "POST" {
                photo::MAX_BYTES
            } else {
                crate::web::body::MAX_BODY_BYTES
            };
            assert_eq!(ep.body_limit, want, "{ep:?}");
        }
    }

    /// Only streaming routes read `?token=`, and streaming routes are GETs.
    #[test]
    fn query_tokens_only_on_streams() {
        let streams: Vec<&str> = ENDPOINTS
            .iter()
            .filter(|e| e.access.query_token())
            .map(|e| e.path)
            .collect();
        assert_eq!(
            streams,
            [
                "/api/realtime/ws",
                "/api/realtime/stream",
                "/api/realtime/rooms/:name/ws"
            ]
        );
    }
}
