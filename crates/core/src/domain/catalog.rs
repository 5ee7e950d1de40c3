//! The event catalog: every event type the API emits, declared once with its audience, a
//! one-line description and its `data` fields; rendered as the catalog document
//! (static/events.json, served at `GET /api/events.json`, and docs/events.json) that client
//! types are generated from, and the check that holds an event to that document.

use super::card::SCAN_SOURCES;
use super::crm::INTERACTION_TYPES;
use super::finance::METHODS;
use super::owners::{OWNER, PROPERTY, SEEKER};
use super::report::{FORMATS, KINDS as REPORT_KINDS};
use super::schema::{Kind, Mode, Spec};
use super::status::{
    AppointmentStatus, CommissionStatus, CustomerStatus, FollowupStatus, JobStatus, ListingStatus,
    MatchStatus, PublicationStatus, ReportStatus, SaleStatus, ScheduleStatus,
};
use super::user::ROLES;
use serde_json::{json, Map, Value};

/// The document's format version.
pub const VERSION: u32 = 1;

/// The audiences an event may have (`policy::Audience::name`).
pub const AUDIENCES: &[&str] = &[
    "members",
    "user",
    "admins",
    "finance",
    "dashboard",
    "job",
    "channels",
];

/// The JSON type of a field.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Str,
    Int,
    Bool,
    /// Any JSON object.
    Object,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// An array of this type.
    List(&'static Ty),
    /// An object with exactly these fields.
    Record(&'static [Field]),
    /// An object of free keys (a currency, a status, a user id) whose values are this type.
    Map(&'static Ty),
    /// Any JSON value (the `from` and `to` of a change).
    Any,
}

/// One key of an event's data (or of a nested record).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    /// `null` is a value it may have.
    pub nullable: bool,
    /// Always present (a key that only some events of the type carry is not).
    pub required: bool,
    pub description: Option<&'static str>,
}

/// A key that is always present and never `null`.
pub const fn f(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        nullable: false,
        required: true,
        description: None,
    }
}

/// A key that is always present and may be `null`.
pub const fn n(name: &'static str, ty: Ty) -> Field {
    Field {
        nullable: true,
        ..f(name, ty)
    }
}

impl Field {
    /// Only some events carry it.
    pub const fn optional(self) -> Field {
        Field {
            required: false,
            ..self
        }
    }
    pub const fn doc(self, d: &'static str) -> Field {
        Field {
            description: Some(d),
            ..self
        }
    }
}

/// What an event's `data` is.
#[derive(Clone, Copy)]
pub enum Data {
    /// An object with exactly these keys.
    Fields(&'static [Field]),
    /// A schema-described record (`schema::Spec`) as REST returns it: `id`, the spec's
    /// fields, `created_by`, `created_at`, `updated_at`.
    Record(&'static Spec),
    /// Free-form: any object the publisher chose, with these keys when present.
    Open(&'static [Field]),
    /// An update: these keys plus `changes` (`{field: {from, to}}`, the fields it changed).
    Changed(&'static [Field]),
    /// An update of a schema-described record: the record plus `changes`.
    RecordChanged(&'static Spec),
}

/// One event type (or, ending in `*`, a family of free-form types).
#[derive(Clone, Copy)]
pub struct EventType {
    pub kind: &'static str,
    /// One of `AUDIENCES`: who may read it (`policy::audience`).
    pub audience: &'static str,
    pub description: &'static str,
    pub data: Data,
}

const fn ev(
    kind: &'static str,
    audience: &'static str,
    description: &'static str,
    data: Data,
) -> EventType {
    EventType {
        kind,
        audience,
        description,
        data,
    }
}

use Ty::{Bool, Int, Object, Str};

const STRS: Ty = Ty::List(&Str);

const CUSTOMER: &[Field] = &[
    f("id", Str),
    f("name", Str),
    n("email", Str),
    n("phone", Str),
    f("status", Ty::Enum(CustomerStatus::NAMES)),
    n("source", Str),
    n("notes", Str),
    f("assigned_to", Str).doc("the user who owns the lead (a broker or admin)"),
    f("created_by", Str),
    f("created_at", Str),
    f("updated_at", Str),
    f("version", Int).doc("bumped by every update (If-Match / ETag)"),
];

const CUSTOMER_ASSIGNED: &[Field] = &[
    f("id", Str),
    f("name", Str),
    n("email", Str),
    n("phone", Str),
    f("status", Ty::Enum(CustomerStatus::NAMES)),
    n("source", Str),
    n("notes", Str),
    f("assigned_to", Str).doc("the new assignee"),
    f("previous_assigned_to", Str).doc("the assignee before"),
    f("created_by", Str),
    f("created_at", Str),
    f("updated_at", Str),
    f("version", Int),
];

const LEAD_CAPTURED: &[Field] = &[
    f("customer", Ty::Record(CUSTOMER))
        .doc("the new customer (`source: \"card\"`, assigned to the card's owner)"),
    f("card", Ty::Record(&[f("id", Str), f("slug", Str)])).doc("the card the visitor used"),
];

const ID_ONLY: &[Field] = &[f("id", Str)];

const NOTIFICATION_READ: &[Field] = &[
    f("user_id", Str),
    f("ids", STRS),
    f("all", Bool),
    f("unread", Int),
];

const LOGIN_FAILED: &[Field] = &[f("user_id", Str), f("email", Str)];

const INTERACTION: &[Field] = &[
    f("id", Str),
    f("customer_id", Str),
    f("type", Ty::Enum(INTERACTION_TYPES)),
    f("summary", Str),
    f("occurred_at", Str),
    f("created_by", Str),
    f("created_at", Str),
];

const FOLLOWUP: &[Field] = &[
    f("id", Str),
    f("customer_id", Str),
    f("assigned_to", Str),
    f("due_at", Str),
    n("note", Str),
    f("status", Ty::Enum(FollowupStatus::NAMES)),
    f("created_by", Str),
    f("created_at", Str),
    f("updated_at", Str),
    f("version", Int),
];

const APPOINTMENT: &[Field] = &[
    f("id", Str),
    f("title", Str),
    n("customer_id", Str),
    f("assigned_to", Str),
    f("starts_at", Str),
    f("ends_at", Str),
    n("location", Str),
    n("notes", Str),
    f("status", Ty::Enum(AppointmentStatus::NAMES)),
    n("outcome", Str),
    f("created_by", Str),
    f("created_at", Str),
    f("updated_at", Str),
];

/// One changed field of an update: its value before and after.
const CHANGE: Ty = Ty::Record(&[n("from", Ty::Any), n("to", Ty::Any)]);
/// `changes` of an update event: `{field: {from, to}}` for each field whose value differs.
const CHANGES: Field = f("changes", Ty::Map(&CHANGE)).doc("each changed field: {from, to}");

const TENANT_SETTINGS: &[Field] = &[
    f("name", Str),
    f("timezone", Str),
    f("currency", Str),
    f("commission_default_bps", Int),
    n("commission_max_bps", Int),
    f("publishing_platforms", STRS),
    f("cors_origins", STRS),
    n("updated_by", Str),
    n("updated_at", Str),
];

const INVITATION: &[Field] = &[
    f("id", Str),
    f("email", Str),
    f("role", Ty::Enum(ROLES)),
    f("invited_by", Str),
    f("created_at", Str),
    f("expires_at", Str),
];

const INVITATION_ACCEPTED: &[Field] = &[
    f("id", Str),
    f("email", Str),
    f("role", Ty::Enum(ROLES)),
    f("user_id", Str),
];

const CARD: &[Field] = &[
    f("id", Str),
    f("slug", Str),
    f("owner_id", Str),
    f("display_name", Str),
    n("title", Str),
    n("phone", Str),
    n("email", Str),
    n("bio", Str),
    f("scans", Int),
    f("created_at", Str),
    f("updated_at", Str),
];

const CARD_DELETED: &[Field] = &[f("id", Str), f("slug", Str), f("owner_id", Str)];

const CARD_SCANNED: &[Field] = &[
    f("card_id", Str),
    f("slug", Str),
    f("scans", Int).doc("scans counted in all"),
    f("count", Int).doc("scans since the last announcement"),
    n("source", Ty::Enum(SCAN_SOURCES)),
    f("at", Str),
];

const CARD_ANALYTICS: &[Field] = &[
    f("card_id", Str),
    f("slug", Str),
    f("scans", Int).doc("scans counted in all"),
    f("count", Int).doc("scans since the last announcement"),
    f("last_scan_at", Str),
    n("last_source", Ty::Enum(SCAN_SOURCES)),
];

const USER: &[Field] = &[
    f("id", Str),
    f("email", Str),
    f("name", Str),
    f("role", Ty::Enum(ROLES)),
    f("created_at", Str),
    f("updated_at", Str),
    f("version", Int),
];

const COMMISSION: &[Field] = &[
    f("id", Str),
    f("sale_id", Str),
    f("broker_id", Str),
    f("amount_minor", Int),
    f("currency", Str),
    f("rate_bps", Int),
    f("status", Ty::Enum(CommissionStatus::NAMES)),
    n("approved_by", Str),
    n("approved_at", Str),
    n("paid_by", Str),
    n("paid_at", Str),
    f("created_at", Str),
    f("updated_at", Str),
];

const SALE: &[Field] = &[
    f("id", Str),
    f("customer_id", Str),
    n("property_id", Str),
    f("broker_id", Str),
    f("total_minor", Int),
    f("paid_minor", Int),
    f("balance_minor", Int),
    f("currency", Str),
    f("commission_rate_bps", Int),
    f("status", Ty::Enum(SaleStatus::NAMES)),
    f("sold_at", Str),
    n("notes", Str),
    f("created_by", Str),
    f("created_at", Str),
    f("updated_at", Str),
    f("commission", Ty::Record(COMMISSION)).doc("the sale's pending commission"),
];

const PAYMENT: &[Field] = &[
    f("id", Str),
    f("sale_id", Str),
    f("amount_minor", Int),
    f("currency", Str),
    f("method", Ty::Enum(METHODS)),
    n("reference", Str),
    f("received_at", Str),
    f("created_by", Str),
    f("created_at", Str),
    f("refunded_minor", Int).doc("refunded of it so far"),
    f("sale_balance_minor", Int).doc("the sale's balance this payment left"),
    f("sale_status", Ty::Enum(SaleStatus::NAMES)),
];

const REFUND: &[Field] = &[
    f("id", Str),
    f("payment_id", Str),
    f("sale_id", Str),
    f("amount_minor", Int),
    f("currency", Str),
    f("reason", Str),
    f("created_by", Str),
    f("created_at", Str),
    f("payment_refunded_minor", Int).doc("refunded of the payment, this refund included"),
    f("sale_balance_minor", Int).doc("the sale's balance after the refund"),
    f("sale_status", Ty::Enum(SaleStatus::NAMES)),
];

const RATE: &[Field] = &[
    n("broker_id", Str).doc("null: the tenant's default rate"),
    f("rate_bps", Int),
    f("updated_by", Str),
    f("updated_at", Str),
];

const SETTINGS: &[Field] = &[
    n("broker_rate_override_max_bps", Int).doc("null: brokers may not set a rate"),
    f("updated_by", Str),
    f("updated_at", Str),
];

const PUBLICATION: &[Field] = &[
    f("platform", Str),
    f("status", Ty::Enum(PublicationStatus::NAMES)),
    n("job_id", Str),
    n("external_id", Str),
    n("url", Str),
    f("attempts", Int),
    n("last_error", Str),
    n("published_at", Str),
    f("updated_at", Str),
];

const LISTING: &[Field] = &[
    f("id", Str),
    f("property_id", Str),
    f("title", Str),
    n("description", Str),
    f("price_minor", Int),
    f("currency", Str),
    n("city", Str),
    n("kind", Str),
    n("bedrooms", Int),
    f("platforms", STRS),
    f("status", Ty::Enum(ListingStatus::NAMES)),
    f("publications", Ty::List(&Ty::Record(PUBLICATION))),
    f("created_by", Str),
    f("created_at", Str),
    f("updated_at", Str),
    n("published_at", Str),
];

const SCHEDULE: &[Field] = &[
    f("id", Str),
    f("listing_id", Str),
    f("platforms", STRS),
    f("run_at", Str),
    f("status", Ty::Enum(ScheduleStatus::NAMES)),
    f("job_ids", STRS),
    f("created_by", Str),
    f("created_at", Str),
    n("started_at", Str),
];

const PUBLISH_STARTED: &[Field] = &[
    f("listing_id", Str),
    f("platform", Str),
    f("job_id", Str),
    f("attempt", Int).doc("1 on the first try"),
];

const PUBLISH_FAILED: &[Field] = &[
    f("listing_id", Str),
    f("platform", Str),
    f("job_id", Str),
    f("attempt", Int).doc("1 on the first try"),
    f("error", Str),
    f("will_retry", Bool).doc("false: the publication is failed for good"),
    f("action", Ty::Enum(&["unpublish"]))
        .optional()
        .doc("present when withdrawing failed (the advert stays published when it is for good)"),
];

const REPORT: &[Field] = &[
    f("id", Str),
    f("kind", Ty::Enum(REPORT_KINDS)),
    f("format", Ty::Enum(FORMATS)),
    f("from", Str),
    f("to", Str),
    f("status", Ty::Enum(ReportStatus::NAMES)),
    f("job_id", Str),
    n("size_bytes", Int),
    n("row_count", Int),
    n("totals", Object),
    n("error", Str),
    n("download_url", Str),
    f("created_by", Str),
    f("created_at", Str),
    n("finished_at", Str),
];

const JOB: &[Field] = &[
    f("id", Str),
    f("queue", Str),
    f("kind", Str),
    f("status", Ty::Enum(JobStatus::NAMES)),
    f("attempts", Int).doc("tries so far (1 during the first run)"),
    f("max_attempts", Int),
    f("progress", Int).doc("0 to 100"),
    f("payload", Object),
    n("result", Object),
    n("last_error", Str),
    n("subject", Str),
    f("created_by", Str),
    f("created_at", Str),
    f("updated_at", Str),
    n("started_at", Str),
    n("finished_at", Str),
];

const PHOTO: &[Field] = &[
    f("id", Str),
    f("property_id", Str),
    f("url", Str).doc("absolute: GET /api/photos/<id>"),
    f("content_type", Ty::Enum(super::photo::CONTENT_TYPES)),
    f("bytes", Int),
    n("width", Int),
    n("height", Int),
    f("created_by", Str),
    f("created_at", Str),
];

const MATCH: &[Field] = &[
    f("id", Str),
    f("status", Ty::Enum(MatchStatus::NAMES)),
    f("seeker_id", Str),
    f("property_id", Str),
    f("score", Int).doc("0 to 100"),
    f("reasons", STRS),
    f("job_id", Str),
    f("created_at", Str),
    f("seeker", Ty::Record(&[f("id", Str), f("name", Str)])),
    f(
        "property",
        Ty::Record(&[
            f("id", Str),
            f("title", Str),
            f("city", Str),
            f("price_minor", Int),
            f("currency", Str),
        ]),
    ),
];

/// A match as `GET /api/matches` lists it, after a broker's decision.
const MATCH_DECIDED: &[Field] = &[
    f("id", Str),
    f("status", Ty::Enum(MatchStatus::NAMES)),
    f("seeker_id", Str),
    f("property_id", Str),
    f("score", Int).doc("0 to 100"),
    f("reasons", STRS),
    f("job_id", Str),
    f("created_at", Str),
    n("decided_by", Str),
    n("decided_at", Str),
    CHANGES,
];

const COUNTS: &[Field] = &[f("total", Int), f("by_status", Ty::Map(&Int))];

const SALES_TOTALS: &[Field] = &[
    f("count", Int),
    f(
        "by_currency",
        Ty::Map(&Ty::Record(&[
            f("count", Int),
            f("total_minor", Int),
            f("paid_minor", Int),
            f("balance_minor", Int),
        ])),
    ),
];

const COMMISSION_TOTALS: &[Field] = &[f(
    "by_currency",
    Ty::Map(&Ty::Record(&[
        f("count", Int),
        f("pending_minor", Int),
        f("approved_minor", Int),
        f("paid_minor", Int),
    ])),
)];

const DASHBOARD: &[Field] = &[
    f("customers", Ty::Record(COUNTS)),
    f("jobs", Ty::Record(COUNTS)),
    f("sales", Ty::Record(SALES_TOTALS))
        .optional()
        .doc("left out for viewers; a broker's own figures for brokers"),
    f("commissions", Ty::Record(COMMISSION_TOTALS))
        .optional()
        .doc("left out for viewers; a broker's own figures for brokers"),
    f(
        "by_broker",
        Ty::Map(&Ty::Record(&[
            f("sales", Ty::Record(SALES_TOTALS)),
            f("commissions", Ty::Record(COMMISSION_TOTALS)),
        ])),
    )
    .optional()
    .doc("each broker's figures, by user id: admins only"),
    f("as_of", Str),
    f("money_scope", Ty::Enum(&["own", "none"]))
        .optional()
        .doc("present when money figures were narrowed for the reader"),
];

const SYSTEM: &[Field] = &[f("published_by", Str)
    .optional()
    .doc("the admin who published it (POST /api/realtime/publish)")];

/// Every event type the API emits.
pub const EVENTS: &[EventType] = &[
    ev("crm:customer:created", "members", "A customer was created.", Data::Fields(CUSTOMER)),
    ev("crm:customer:updated", "members", "A customer was updated; `changes` lists the fields it changed.", Data::Changed(CUSTOMER)),
    ev("crm:customer:deleted", "members", "A customer was deleted.", Data::Fields(ID_ONLY)),
    ev("crm:customer:assigned", "members", "A customer was handed to another assignee (to both assignees' user channels, the tenant and the customer's channel).", Data::Fields(CUSTOMER_ASSIGNED)),
    ev("crm:lead:captured", "members", "A visitor left their details on a card: the new customer, to the card owner's user channel only.", Data::Fields(LEAD_CAPTURED)),
    ev("crm:interaction:created", "members", "A call, meeting or note was logged against a customer.", Data::Fields(INTERACTION)),
    ev("crm:followup:created", "members", "A follow-up was created.", Data::Fields(FOLLOWUP)),
    ev("crm:followup:updated", "members", "A follow-up was rescheduled, re-noted, cancelled or reopened; `changes` lists what changed.", Data::Changed(FOLLOWUP)),
    ev("crm:followup:completed", "members", "A follow-up was marked done.", Data::Fields(FOLLOWUP)),
    ev("crm:followup:due", "members", "An open follow-up came due (announced once, to its assignee).", Data::Fields(FOLLOWUP)),
    ev("calendar:appointment:created", "members", "An appointment was created.", Data::Fields(APPOINTMENT)),
    ev("calendar:appointment:completed", "members", "An appointment was completed.", Data::Fields(APPOINTMENT)),
    ev("calendar:appointment:rescheduled", "members", "An appointment's start or end moved (its reminder is due again for the new start); `changes` lists every edited field.", Data::Changed(APPOINTMENT)),
    ev("calendar:appointment:updated", "members", "An appointment was edited without moving it (title, assignee, location, notes).", Data::Changed(APPOINTMENT)),
    ev("calendar:appointment:cancelled", "members", "An appointment was cancelled (the reason, if given, is its `outcome`); no reminder follows.", Data::Fields(APPOINTMENT)),
    ev("calendar:reminder", "members", "An appointment starts soon (once, to its assignee).", Data::Fields(APPOINTMENT)),
    ev("card:created", "members", "A business card was created.", Data::Fields(CARD)),
    ev("card:updated", "members", "A business card was edited; `changes` lists the edited fields.", Data::Changed(CARD)),
    ev("card:deleted", "members", "A business card was deleted (its public page and vCard are gone).", Data::Fields(CARD_DELETED)),
    ev("card:scanned", "members", "A card was scanned (at most once per card per window, with the count since the last one).", Data::Fields(CARD_SCANNED)),
    ev("card:analytics:updated", "members", "A card's scan figures changed.", Data::Fields(CARD_ANALYTICS)),
    ev("owners:owner:added", "members", "A property owner was added.", Data::Record(&OWNER)),
    ev("owners:owner:updated", "members", "A property owner was updated; `changes` lists the fields it changed.", Data::RecordChanged(&OWNER)),
    ev("owners:owner:deleted", "members", "A property owner was deleted (the record as it was).", Data::Record(&OWNER)),
    ev("owners:property:added", "members", "A property was added.", Data::Record(&PROPERTY)),
    ev("owners:property:updated", "members", "A property was updated; `changes` lists the fields it changed.", Data::RecordChanged(&PROPERTY)),
    ev("owners:property:deleted", "members", "A property was deleted (the record as it was).", Data::Record(&PROPERTY)),
    ev("owners:property:photo_added", "members", "A photo was added to a property (stored in R2).", Data::Fields(PHOTO)),
    ev("owners:property:photo_removed", "members", "A photo was removed from a property (the photo as it was).", Data::Fields(PHOTO)),
    ev("owners:seeker:added", "members", "A seeker was added.", Data::Record(&SEEKER)),
    ev("owners:seeker:updated", "members", "A seeker was updated; `changes` lists the fields it changed.", Data::RecordChanged(&SEEKER)),
    ev("owners:seeker:deleted", "members", "A seeker was deleted (the record as it was).", Data::Record(&SEEKER)),
    ev("owners:match:found", "members", "The matching job found a new seeker–property match (proposed).", Data::Fields(MATCH)),
    ev("owners:match:accepted", "members", "A broker accepted a match (`changes` holds the status it had).", Data::Fields(MATCH_DECIDED)),
    ev("owners:match:rejected", "members", "A broker rejected a match; later matching runs do not propose it again.", Data::Fields(MATCH_DECIDED)),
    ev("publishing:listing:created", "members", "A draft listing was created.", Data::Fields(LISTING)),
    ev("publishing:schedule:created", "members", "A publishing schedule was created.", Data::Fields(SCHEDULE)),
    ev("publishing:schedule:cancelled", "members", "A pending publishing schedule was cancelled.", Data::Fields(SCHEDULE)),
    ev("publishing:started", "members", "A publishing job started on one platform.", Data::Fields(PUBLISH_STARTED)),
    ev("publishing:completed", "members", "A listing was published on one platform (the listing as REST returns it).", Data::Fields(LISTING)),
    ev("publishing:listing:updated", "members", "A listing's title, description or price was edited (a live advert shows it after the next publish); `changes` lists what changed.", Data::Changed(LISTING)),
    ev("publishing:unpublished", "members", "A listing was withdrawn from one platform, which confirmed it (the listing as REST returns it; that platform's publication is `unpublished`).", Data::Fields(LISTING)),
    ev("publishing:failed", "members", "Publishing (or, with `action: unpublish`, withdrawing) on one platform failed (retried unless will_retry is false).", Data::Fields(PUBLISH_FAILED)),
    ev("users:user:created", "user", "A user was created (to admins and that user).", Data::Fields(USER)),
    ev("settings:updated", "admins", "An admin changed the brokerage's settings; `changes` lists what changed.", Data::Changed(TENANT_SETTINGS)),
    ev("users:invitation:created", "admins", "An admin invited someone (never the token, which only the invitation email carries).", Data::Fields(INVITATION)),
    ev("users:invitation:accepted", "admins", "An invitation was accepted: the new user's id (their `users:user:created` follows).", Data::Fields(INVITATION_ACCEPTED)),
    ev("users:user:updated", "user", "A user was updated (to admins and that user); `changes` lists the changed name or role (a password reset is never listed: it ends the user's sessions).", Data::Changed(USER)),
    ev("users:user:deleted", "user", "A user was deleted.", Data::Fields(ID_ONLY)),
    ev("notification:read", "user", "Notifications of the user were marked read (to that user's other devices), with the new unread count.", Data::Fields(NOTIFICATION_READ)),
    ev("auth:login:failed", "admins", "A wrong password for an existing account (no IP).", Data::Fields(LOGIN_FAILED)),
    ev("finance:sale:created", "finance", "A sale was recorded, with its pending commission (to admins and its broker).", Data::Fields(SALE)),
    ev("finance:commission:calculated", "finance", "A sale's commission was calculated.", Data::Fields(COMMISSION)),
    ev("finance:commission:approved", "finance", "An admin approved a commission.", Data::Fields(COMMISSION)),
    ev("finance:payment:received", "finance", "A payment was recorded against a sale.", Data::Fields(PAYMENT)),
    ev("finance:payment:refunded", "finance", "A payment was refunded, in part or in full; the sale's balance grows by the refund.", Data::Fields(REFUND)),
    ev("finance:commission:paid", "finance", "An admin marked an approved commission paid.", Data::Fields(COMMISSION)),
    ev("finance:commission_rate:updated", "admins", "A commission rate (a broker's or the tenant default) was set; `changes.rate_bps.from` is null for a new one.", Data::Changed(RATE)),
    ev("finance:settings:updated", "admins", "The tenant's finance settings changed (`changes` is empty when the value stayed).", Data::Changed(SETTINGS)),
    ev("reports:dashboard:updated", "dashboard", "The dashboard's figures changed (money figures narrowed per reader).", Data::Fields(DASHBOARD)),
    ev("reports:generated", "admins", "A report is ready to download.", Data::Fields(REPORT)),
    ev("reports:failed", "admins", "A report could not be built.", Data::Fields(REPORT)),
    ev("job:queued", "job", "A background job was queued (or queued again by a retry).", Data::Fields(JOB)),
    ev("job:progress", "job", "A job started running or reported progress.", Data::Fields(JOB)),
    ev("job:completed", "job", "A job completed.", Data::Fields(JOB)),
    ev("job:failed", "job", "A job's try failed; it will be retried.", Data::Fields(JOB)),
    ev("job:dead", "job", "A job failed for good.", Data::Fields(JOB)),
    ev("system:*", "channels", "A notice an admin published to channels, roles or users: any `system:<name>` type, free-form data.", Data::Open(SYSTEM)),
];

/// What room events are: any type a room's publisher chose, free-form data, in the room's
/// own history (never the tenant's).
pub const ROOM_EVENTS: &str = "Events of a room (POST /api/realtime/rooms/{name}/publish) \
    have any type the publisher chose and free-form object data; they are delivered on the \
    room's sockets only.";

/// An entry by type: exact, else a pattern ending in `*`.
pub fn find(kind: &str) -> Option<&'static EventType> {
    EVENTS.iter().find(|e| e.kind == kind).or_else(|| {
        EVENTS.iter().find(|e| {
            e.kind
                .strip_suffix('*')
                .is_some_and(|prefix| kind.starts_with(prefix))
        })
    })
}

fn ty_schema(ty: &Ty, nullable: bool) -> Map<String, Value> {
    let name = |t: &str| {
        if nullable {
            json!([t, "null"])
        } else {
            json!(t)
        }
    };
    let mut s = Map::new();
    match ty {
        Ty::Str => {
            s.insert("type".into(), name("string"));
        }
        Ty::Int => {
            s.insert("type".into(), name("integer"));
        }
        Ty::Bool => {
            s.insert("type".into(), name("boolean"));
        }
        Ty::Object => {
            s.insert("type".into(), name("object"));
        }
        Ty::Enum(values) => {
            s.insert("type".into(), name("string"));
            let mut e: Vec<Value> = values.iter().map(|v| json!(v)).collect();
            if nullable {
                e.push(Value::Null);
            }
            s.insert("enum".into(), Value::Array(e));
        }
        Ty::List(item) => {
            s.insert("type".into(), name("array"));
            s.insert("items".into(), Value::Object(ty_schema(item, false)));
        }
        Ty::Record(fields) => {
            s = object_schema(fields, false);
            if nullable {
                s.insert("type".into(), name("object"));
            }
        }
        Ty::Map(value) => {
            s.insert("type".into(), name("object"));
            s.insert(
                "additionalProperties".into(),
                Value::Object(ty_schema(value, false)),
            );
        }
        Ty::Any => {}
    }
    s
}

fn field_schema(fl: &Field) -> Value {
    let mut s = ty_schema(&fl.ty, fl.nullable);
    if let Some(d) = fl.description {
        s.insert("description".into(), json!(d));
    }
    Value::Object(s)
}

/// An object of these keys; `open`: other keys may appear too (free-form data).
fn object_schema(fields: &[Field], open: bool) -> Map<String, Value> {
    let props: Map<String, Value> = fields
        .iter()
        .map(|fl| (fl.name.to_string(), field_schema(fl)))
        .collect();
    let required: Vec<Value> = fields
        .iter()
        .filter(|fl| fl.required)
        .map(|fl| json!(fl.name))
        .collect();
    let mut s = Map::new();
    s.insert("type".into(), json!("object"));
    s.insert("properties".into(), Value::Object(props));
    s.insert("required".into(), Value::Array(required));
    s.insert("additionalProperties".into(), json!(open));
    s
}

/// The schema of a spec field's kind (`schema::Kind`) as a stored value.
fn kind_schema(kind: &Kind, nullable: bool) -> Map<String, Value> {
    let scalar = match kind {
        Kind::List(item, ..) => {
            let mut s = ty_schema(&Ty::List(&Str), nullable);
            s.insert("items".into(), Value::Object(kind_schema(item, false)));
            return s;
        }
        Kind::Int(..) | Kind::Money => Int,
        Kind::Enum(values) => Ty::Enum(values),
        Kind::Bool => Bool,
        Kind::Object => Object,
        _ => Str,
    };
    ty_schema(&scalar, nullable)
}

/// A spec record's fields as REST returns it: `id`, its fields (`null` where a patch may
/// clear them or they were left out), then the meta columns.
fn record_schema(spec: &Spec) -> Map<String, Value> {
    let mut props = Map::new();
    let mut required = vec![json!("id")];
    props.insert("id".into(), json!({"type": "string"}));
    for fl in spec.fields {
        let s = kind_schema(&fl.kind, fl.nullable_in(Mode::Patch));
        props.insert(fl.name.to_string(), Value::Object(s));
        required.push(json!(fl.name));
    }
    for meta in ["created_by", "created_at", "updated_at"] {
        props.insert(meta.into(), json!({"type": "string"}));
        required.push(json!(meta));
    }
    let mut s = Map::new();
    s.insert("type".into(), json!("object"));
    s.insert("properties".into(), Value::Object(props));
    s.insert("required".into(), Value::Array(required));
    s.insert("additionalProperties".into(), json!(false));
    s
}

/// The JSON Schema of an event type's `data`.
pub fn data_schema(e: &EventType) -> Value {
    Value::Object(match e.data {
        Data::Fields(fields) => object_schema(fields, false),
        Data::Open(fields) => object_schema(fields, true),
        Data::Record(spec) => record_schema(spec),
        Data::Changed(fields) => with_changes(object_schema(fields, false)),
        Data::RecordChanged(spec) => with_changes(record_schema(spec)),
    })
}

/// An object schema with the required `changes` key of update events.
fn with_changes(mut s: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Object(p)) = s.get_mut("properties") {
        p.insert("changes".into(), field_schema(&CHANGES));
    }
    if let Some(Value::Array(r)) = s.get_mut("required") {
        r.push(json!("changes"));
    }
    s
}

/// The envelope every event carries, over every transport (WebSocket frames add
/// `"op":"event"`; SSE `data:` lines and REST history pages carry it as is).
pub fn envelope_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "op": {"type": "string", "enum": ["event"], "description": "WebSocket frames only"},
            "seq": {"type": "integer", "description": "tenant-wide, gap-free, strictly increasing: the one cursor (WebSocket since, SSE Last-Event-ID, REST ?since=)"},
            "id": {"type": "string", "description": "unique event id"},
            "type": {"type": "string", "description": "the event type: an entry of `events`"},
            "channels": {"type": "array", "items": {"type": "string"}, "description": "the audience: tenant, user:<id>, role:<role>, entity:<kind>:<id>, …"},
            "data": {"type": "object", "description": "the payload: the `data` schema of the event's type"},
            "ts": {"type": "string", "description": "when the change committed (RFC 3339, UTC, milliseconds)"}
        },
        "required": ["seq", "id", "type", "channels", "data", "ts"],
        "additionalProperties": false
    })
}

/// The catalog document (static/events.json, docs/events.json).
pub fn document() -> Value {
    let events: Vec<Value> = EVENTS
        .iter()
        .map(|e| {
            json!({
                "type": e.kind,
                "audience": e.audience,
                "description": e.description,
                "data": data_schema(e),
            })
        })
        .collect();
    json!({
        "version": VERSION,
        "description": "Every event type Pulse emits, its audience and its data. A type ending \
            in `*` is a family of free-form events (additionalProperties true). Room events are \
            free-form too (see `rooms`). Generated from crates/core/src/domain/catalog.rs.",
        "envelope": envelope_schema(),
        "rooms": {"description": ROOM_EVENTS, "data": {"type": "object", "additionalProperties": true}},
        "events": events,
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(x) if x.is_i64() || x.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `v` against a schema of the catalog's subset (type, enum, properties, required,
/// additionalProperties, items); pushes one line per mismatch, naming its path.
pub fn check_value(schema: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
    if let Some(t) = schema.get("type") {
        let have = type_name(v);
        let ok = |t: &Value| {
            t.as_str()
                .is_some_and(|t| t == have || (t == "number" && have == "integer"))
        };
        let fits = match t {
            Value::Array(ts) => ts.iter().any(ok),
            one => ok(one),
        };
        if !fits {
            errs.push(format!("{path}: is {have}, the catalog says {t}"));
            return;
        }
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        if !values.contains(v) {
            errs.push(format!(
                "{path}: {v} is not one of {}",
                Value::Array(values.clone())
            ));
        }
    }
    match v {
        Value::Object(m) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(req)) = schema.get("required") {
                for k in req.iter().filter_map(Value::as_str) {
                    if !m.contains_key(k) {
                        errs.push(format!("{path}: lacks the required key `{k}`"));
                    }
                }
            }
            for (k, x) in m {
                let at = format!("{path}.{k}");
                match (
                    props.and_then(|p| p.get(k)),
                    schema.get("additionalProperties"),
                ) {
                    (Some(s), _) => check_value(s, x, &at, errs),
                    (None, Some(Value::Bool(false))) => {
                        errs.push(format!("{at}: a key the catalog does not declare"))
                    }
                    (None, Some(s @ Value::Object(_))) => check_value(s, x, &at, errs),
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, x) in items.iter().enumerate() {
                    check_value(s, x, &format!("{path}[{i}]"), errs);
                }
            }
        }
        _ => {}
    }
}

/// The entry of the catalog document `doc` for `kind`: exact, else a pattern ending in `*`.
pub fn doc_entry<'a>(doc: &'a Value, kind: &str) -> Option<&'a Value> {
    let events = doc.get("events")?.as_array()?;
    fn ty(e: &Value) -> &str {
        e.get("type").and_then(Value::as_str).unwrap_or_default()
    }
    events.iter().find(|e| ty(e) == kind).or_else(|| {
        events.iter().find(|e| {
            ty(e)
                .strip_suffix('*')
                .is_some_and(|prefix| kind.starts_with(prefix))
        })
    })
}

/// Holds one event (a WebSocket frame, an SSE `data:` object or a history item) to the
/// catalog document `doc`: its envelope, its type listed, its data of that type's schema.
/// `room`: an event of a room's history (any type, free-form data).
pub fn check_event(doc: &Value, event: &Value, room: bool) -> Result<(), String> {
    let mut errs = Vec::new();
    check_value(&doc["envelope"], event, "event", &mut errs);
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let data = event.get("data").unwrap_or(&Value::Null);
    if room {
        check_value(&doc["rooms"]["data"], data, "data", &mut errs);
    } else {
        match doc_entry(doc, kind) {
            Some(entry) => check_value(&entry["data"], data, "data", &mut errs),
            None => errs.push(format!("the type `{kind}` is not in the event catalog")),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "event {kind} does not match the event catalog (docs/events.json): {}",
            errs.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed catalog files are the generated document: the served copy minified,
    /// the one in docs/ indented. `PULSE_WRITE_EVENTS=1 cargo test --workspace --lib catalog`
    /// rewrites both.
    #[test]
    fn event_catalog_files_are_current() {
        crate::assert_generated_files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
            &document(),
            ("static/events.json", "docs/events.json"),
            "PULSE_WRITE_EVENTS",
            "PULSE_WRITE_EVENTS=1 cargo test --workspace --lib catalog",
        );
    }

    #[test]
    fn types_are_unique_and_audiences_known() {
        for (i, e) in EVENTS.iter().enumerate() {
            assert!(
                EVENTS[..i].iter().all(|o| o.kind != e.kind),
                "{} is declared twice",
                e.kind
            );
            assert!(
                AUDIENCES.contains(&e.audience),
                "{}: {}",
                e.kind,
                e.audience
            );
            assert!(
                !e.description.is_empty() && !e.description.contains('\n'),
                "{}",
                e.kind
            );
        }
    }

    #[test]
    fn lookups_take_exact_types_then_patterns() {
        assert_eq!(
            find("crm:customer:created").unwrap().kind,
            "crm:customer:created"
        );
        assert_eq!(find("system:alert").unwrap().kind, "system:*");
        assert!(find("crm:customer:exploded").is_none());
        let doc = document();
        assert_eq!(
            doc_entry(&doc, "system:maintenance").unwrap()["type"],
            "system:*"
        );
        assert!(doc_entry(&doc, "nope").is_none());
    }

    /// Only the keywords the format allows appear in `data` schemas.
    #[test]
    fn data_schemas_use_the_allowed_keywords() {
        const ALLOWED: &[&str] = &[
            "type",
            "properties",
            "required",
            "additionalProperties",
            "items",
            "enum",
            "description",
        ];
        fn walk(s: &Value, at: &str) {
            let Some(m) = s.as_object() else { return };
            for (k, v) in m {
                assert!(ALLOWED.contains(&k.as_str()), "{at}: keyword {k}");
                match k.as_str() {
                    "properties" => {
                        for (name, p) in v.as_object().unwrap() {
                            walk(p, &format!("{at}.{name}"));
                        }
                    }
                    "items" | "additionalProperties" => walk(v, at),
                    _ => {}
                }
            }
        }
        for e in EVENTS {
            walk(&data_schema(e), e.kind);
        }
    }

    fn conforms(kind: &str, data: Value) {
        let doc = document();
        let event = json!({"seq": 1, "id": "evt_1", "type": kind, "channels": ["tenant"],
                           "data": data, "ts": "2026-01-01T00:00:00.000Z"});
        if let Err(e) = check_event(&doc, &event, false) {
            panic!("{e}");
        }
    }

    /// The resources events carry, serialized from the core's own types, match the catalog.
    #[test]
    fn the_cores_resources_match_their_events() {
        use crate::domain::{calendar, card, crm, customer, finance, jobs, publishing, report};
        use crate::domain::{status, user};
        let c = customer::build(
            "c_1".into(),
            customer::validate_create(&json!({"name": "Ada", "email": "a@b.co"})).unwrap(),
            "u1",
            "2026-01-01T00:00:00.000Z",
        );
        conforms("crm:customer:created", serde_json::to_value(&c).unwrap());
        let it = crm::Interaction {
            id: "int_1".into(),
            customer_id: "c_1".into(),
            kind: "call".into(),
            summary: "s".into(),
            occurred_at: "t".into(),
            created_by: "u1".into(),
            created_at: "t".into(),
        };
        conforms(
            "crm:interaction:created",
            serde_json::to_value(&it).unwrap(),
        );
        let fu = crm::Followup {
            id: "fu_1".into(),
            customer_id: "c_1".into(),
            assigned_to: "u1".into(),
            due_at: "t".into(),
            note: None,
            status: status::FollowupStatus::Open,
            created_by: "u1".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            version: 1,
        };
        conforms("crm:followup:due", serde_json::to_value(&fu).unwrap());
        let a = calendar::Appointment {
            id: "apt_1".into(),
            title: "t".into(),
            customer_id: None,
            assigned_to: "u1".into(),
            starts_at: "t".into(),
            ends_at: "t".into(),
            location: Some("x".into()),
            notes: None,
            status: status::AppointmentStatus::Scheduled,
            outcome: None,
            created_by: "u1".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        conforms("calendar:reminder", serde_json::to_value(&a).unwrap());
        let cd = card::Card {
            id: "card_1".into(),
            slug: "ada".into(),
            owner_id: "u1".into(),
            display_name: "Ada".into(),
            title: None,
            phone: None,
            email: None,
            bio: None,
            scans: 0,
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        conforms("card:created", serde_json::to_value(&cd).unwrap());
        let u = user::User {
            id: "u1".into(),
            email: "a@b.co".into(),
            name: "Ada".into(),
            role: "broker".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            version: 1,
        };
        let mut renamed = u.clone();
        renamed.name = "Ada L.".into();
        conforms(
            "users:user:updated",
            super::super::event::with_changes(
                &serde_json::to_value(&u).unwrap(),
                serde_json::to_value(&renamed).unwrap(),
                &user::PATCH.editable(),
            ),
        );
        let com = finance::Commission {
            id: "com_1".into(),
            sale_id: "sale_1".into(),
            broker_id: "b1".into(),
            amount_minor: 3,
            currency: "EUR".into(),
            rate_bps: 300,
            status: status::CommissionStatus::Pending,
            approved_by: None,
            approved_at: None,
            paid_by: None,
            paid_at: None,
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        conforms(
            "finance:commission:approved",
            serde_json::to_value(&com).unwrap(),
        );
        let sale = finance::Sale {
            id: "sale_1".into(),
            customer_id: "c_1".into(),
            property_id: None,
            broker_id: "b1".into(),
            total_minor: 100,
            paid_minor: 0,
            balance_minor: 100,
            currency: "EUR".into(),
            commission_rate_bps: 300,
            status: status::SaleStatus::Open,
            sold_at: "t".into(),
            notes: None,
            created_by: "b1".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
        };
        let mut view = serde_json::to_value(&sale).unwrap();
        view["commission"] = serde_json::to_value(&com).unwrap();
        conforms("finance:sale:created", view);
        let pay = finance::Payment {
            id: "pay_1".into(),
            sale_id: "sale_1".into(),
            amount_minor: 10,
            currency: "EUR".into(),
            method: "cash".into(),
            reference: None,
            received_at: "t".into(),
            created_by: "b1".into(),
            created_at: "t".into(),
            refunded_minor: 0,
        };
        let mut view = serde_json::to_value(&pay).unwrap();
        view["sale_balance_minor"] = json!(90);
        view["sale_status"] = json!("open");
        conforms("finance:payment:received", view);
        let listing = publishing::Listing {
            id: "lst_1".into(),
            property_id: "prp_1".into(),
            title: "t".into(),
            description: None,
            price_minor: 1,
            currency: "EUR".into(),
            city: None,
            kind: Some("house".into()),
            bedrooms: None,
            platforms: vec!["a".into()],
            status: status::ListingStatus::Draft,
            publications: vec![publishing::Publication {
                platform: "a".into(),
                status: status::PublicationStatus::Queued,
                job_id: Some("job_1".into()),
                external_id: None,
                url: None,
                attempts: 0,
                last_error: None,
                published_at: None,
                updated_at: "t".into(),
            }],
            created_by: "u1".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            published_at: None,
        };
        conforms(
            "publishing:completed",
            serde_json::to_value(&listing).unwrap(),
        );
        let sch = publishing::Schedule {
            id: "sch_1".into(),
            listing_id: "lst_1".into(),
            platforms: vec![],
            run_at: "t".into(),
            status: status::ScheduleStatus::Pending,
            job_ids: vec![],
            created_by: "u1".into(),
            created_at: "t".into(),
            started_at: None,
        };
        conforms(
            "publishing:schedule:created",
            serde_json::to_value(&sch).unwrap(),
        );
        let rep = report::Report {
            id: "rep_1".into(),
            kind: "pipeline".into(),
            format: "csv".into(),
            from: "2026-01-01".into(),
            to: "2026-01-31".into(),
            status: status::ReportStatus::Ready,
            job_id: "job_1".into(),
            size_bytes: Some(10),
            row_count: Some(1),
            totals: Some(json!({"sales": 1})),
            error: None,
            download_url: Some("/api/reports/rep_1/download".into()),
            created_by: "u1".into(),
            created_at: "t".into(),
            finished_at: Some("t".into()),
        };
        conforms("reports:generated", serde_json::to_value(&rep).unwrap());
        let job = jobs::Job {
            id: "job_1".into(),
            queue: "pulse-email".into(),
            kind: "welcome_email".into(),
            status: jobs::JobStatus::Queued,
            attempts: 0,
            max_attempts: 3,
            progress: 0,
            payload: json!({"to": "a@b.co"}),
            result: None,
            last_error: None,
            subject: Some("c_1".into()),
            created_by: "u1".into(),
            created_at: "t".into(),
            updated_at: "t".into(),
            started_at: None,
            finished_at: None,
        };
        conforms("job:queued", serde_json::to_value(&job).unwrap());
    }

    /// A record of a spec-described resource (what `records.rs` emits) matches; a key the
    /// catalog lacks, a missing key or a wrong type does not.
    #[test]
    fn spec_records_and_mismatches() {
        let owner = json!({"id": "own_1", "name": "Ada", "email": null, "phone": null,
            "notes": null, "created_by": "u1", "created_at": "t", "updated_at": "t"});
        conforms("owners:owner:added", owner.clone());
        let doc = document();
        let bad = |data: Value| {
            let e = json!({"seq": 1, "id": "e", "type": "owners:owner:added",
                           "channels": [], "data": data, "ts": "t"});
            check_event(&doc, &e, false).unwrap_err()
        };
        let mut extra = owner.clone();
        extra["secret"] = json!(1);
        assert!(bad(extra).contains("data.secret"));
        let mut missing = owner.clone();
        missing.as_object_mut().unwrap().remove("name");
        assert!(bad(missing).contains("`name`"));
        let mut wrong = owner;
        wrong["name"] = json!(7);
        assert!(bad(wrong).contains("data.name"));
        let seeker = json!({"id": "skr_1", "name": "S", "email": null, "phone": null,
            "customer_id": null, "budget_min_minor": null, "budget_max_minor": 100,
            "currency": "EUR", "cities": ["Lyon"], "kinds": ["house"], "listing": "sale",
            "bedrooms_min": null, "notes": null, "active": true,
            "created_by": "u1", "created_at": "t", "updated_at": "t"});
        conforms("owners:seeker:added", seeker.clone());
        let mut edited = seeker.clone();
        edited["active"] = json!(false);
        let data = super::super::event::with_changes(&seeker, edited, &["active", "name"]);
        assert_eq!(
            data["changes"],
            json!({"active": {"from": true, "to": false}})
        );
        conforms("owners:seeker:updated", data.clone());
        let mut without = data;
        without.as_object_mut().unwrap().remove("changes");
        let e = json!({"seq": 1, "id": "e", "type": "owners:seeker:updated",
                       "channels": [], "data": without, "ts": "t"});
        assert!(check_event(&doc, &e, false)
            .unwrap_err()
            .contains("`changes`"));
    }

    #[test]
    fn envelopes_free_form_types_and_rooms() {
        let doc = document();
        let alert = json!({"op": "event", "seq": 3, "id": "e", "type": "system:alert",
            "channels": ["role:broker"], "data": {"message": "hi", "published_by": "a"}, "ts": "t"});
        check_event(&doc, &alert, false).unwrap();
        let mut no_seq = alert.clone();
        no_seq.as_object_mut().unwrap().remove("seq");
        assert!(check_event(&doc, &no_seq, false)
            .unwrap_err()
            .contains("`seq`"));
        let room = json!({"op": "event", "seq": 1, "id": "e", "type": "card:scanned",
            "channels": ["public"], "data": {"anything": [1]}, "ts": "t"});
        check_event(&doc, &room, true).unwrap();
        assert!(check_event(&doc, &room, false).is_err());
        let unknown = json!({"seq": 1, "id": "e", "type": "crm:customer:exploded",
            "channels": [], "data": {}, "ts": "t"});
        assert!(check_event(&doc, &unknown, false)
            .unwrap_err()
            .contains("not in the event catalog"));
    }
}
