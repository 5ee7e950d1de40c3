//! Who may read what: the one read policy behind REST handlers, realtime subscriptions,
//! live delivery, replay, REST history and snapshots. Pure.
//!
//! REST asks `may_read(reader, Resource)`; the realtime side asks the same function through
//! the event catalog (`audience` maps an event to the resource it reveals) and the entity
//! catalog (`entity_resource` maps `entity:<kind>:<id>` to the resource it streams). So a
//! channel can never show what the route refuses: both are answered by `may_read`.

use crate::domain::auth::Role;
use crate::domain::jobs::REPORTS;
use serde_json::{Map, Value};

/// The reader: a verified caller (REST) or a connection's identity (realtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reader<'a> {
    pub user: &'a str,
    pub role: Role,
    /// An anonymous visitor of a public room (reads the `public` channel only).
    pub anonymous: bool,
}

impl<'a> Reader<'a> {
    pub fn new(user: &'a str, role: Role) -> Self {
        Reader {
            user,
            role,
            anonymous: false,
        }
    }
    fn admin(&self) -> bool {
        !self.anonymous && self.role == Role::Admin
    }
}

/// Something a reader may or may not see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// Tenant records every member reads: customers, interactions, follow-ups,
    /// appointments, cards, owners, properties, seekers, matches, listings.
    Shared,
    /// A user's record (email, role): admins and that user.
    User(&'a str),
    /// Sales, payments and commissions of one broker: admins and that broker.
    Finance { broker: &'a str },
    /// Finance data whose broker is not known yet: admins and brokers (each broker then
    /// sees only their own rows).
    FinanceAny,
    /// A background job: admins and the user who started it.
    Job { created_by: &'a str },
    /// Reports, report jobs, commission rates, IP blocklists, tenant stats.
    AdminOnly,
    /// Whatever the event's own channels allow (admin-targeted system notices, room
    /// messages): no extra rule beyond the channel's.
    ChannelOnly,
}

/// The one read rule.
pub fn may_read(r: &Reader, res: &Resource) -> bool {
    if r.anonymous {
        return matches!(res, Resource::ChannelOnly);
    }
    match res {
        Resource::Shared | Resource::ChannelOnly => true,
        Resource::User(id) => r.admin() || r.user == *id,
        Resource::Finance { broker } => r.admin() || (r.role == Role::Broker && r.user == *broker),
        Resource::FinanceAny => matches!(r.role, Role::Admin | Role::Broker),
        Resource::Job { created_by } => r.admin() || r.user == *created_by,
        Resource::AdminOnly => r.admin(),
    }
}

/// How much of the tenant's money figures a reader sees (dashboard, snapshots, reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyScope<'a> {
    /// Every broker's and the tenant's totals.
    All,
    /// Only the totals of this broker's own sales and commissions.
    Own(&'a str),
    /// No money figures at all.
    None,
}

pub fn money_scope<'a>(r: &Reader<'a>) -> MoneyScope<'a> {
    if r.anonymous {
        return MoneyScope::None;
    }
    match r.role {
        Role::Admin => MoneyScope::All,
        Role::Broker => MoneyScope::Own(r.user),
        Role::Viewer => MoneyScope::None,
    }
}

/// The money keys of a dashboard snapshot; `by_broker` holds each broker's own figures.
pub const MONEY_KEYS: [&str; 2] = ["sales", "commissions"];
pub const BY_BROKER: &str = "by_broker";

/// The dashboard snapshot as `r` may see it: admins get it whole; a broker gets their own
/// `sales`/`commissions` (from `by_broker`) in place of the tenant's; viewers get none.
pub fn redact_dashboard(r: &Reader, snapshot: &Value) -> Value {
    let Some(obj) = snapshot.as_object() else {
        return snapshot.clone();
    };
    let mut out: Map<String, Value> = obj.clone();
    match money_scope(r) {
        MoneyScope::All => {}
        MoneyScope::Own(me) => {
            let mine = obj.get(BY_BROKER).and_then(|b| b.get(me)).cloned();
            out.remove(BY_BROKER);
            for k in MONEY_KEYS {
                let v = mine
                    .as_ref()
                    .and_then(|m| m.get(k))
                    .cloned()
                    .unwrap_or_else(|| empty_money(k));
                out.insert(k.into(), v);
            }
            out.insert("money_scope".into(), Value::from("own"));
        }
        MoneyScope::None => {
            out.remove(BY_BROKER);
            for k in MONEY_KEYS {
                out.remove(k);
            }
            out.insert("money_scope".into(), Value::from("none"));
        }
    }
    Value::Object(out)
}

fn empty_money(key: &str) -> Value {
    match key {
        "sales" => serde_json::json!({"count": 0, "by_currency": {}}),
        _ => serde_json::json!({"by_currency": {}}),
    }
}

/// Who an event type is for: the resource it reveals, derived from the event itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `Resource::Shared`.
    Members,
    /// `Resource::User` of the id at this JSON pointer in `data`.
    UserAt(&'static str),
    /// `Resource::Finance` of the broker(s) the event addresses with `user:<id>`.
    FinanceOfAddressedBroker,
    /// `Resource::Job` of `data.created_by`; report jobs are `AdminOnly`.
    Job,
    /// `Resource::AdminOnly`.
    Admins,
    /// A dashboard snapshot: every member, money figures redacted per reader.
    DashboardSnapshot,
    /// `Resource::ChannelOnly`.
    Channels,
}

impl Audience {
    /// Its name in the event catalog (`catalog::AUDIENCES`).
    pub fn name(self) -> &'static str {
        match self {
            Audience::Members => "members",
            Audience::UserAt(_) => "user",
            Audience::FinanceOfAddressedBroker => "finance",
            Audience::Job => "job",
            Audience::Admins => "admins",
            Audience::DashboardSnapshot => "dashboard",
            Audience::Channels => "channels",
        }
    }
}

/// Event type (exact, or a prefix ending in `*`; first match wins) → audience. Every type
/// of the event catalog (`catalog::EVENTS`) is covered; a type not listed (room messages)
/// is delivered by its channels only.
pub const EVENT_AUDIENCES: &[(&str, Audience)] = &[
    ("crm:*", Audience::Members),
    ("calendar:*", Audience::Members),
    ("card:*", Audience::Members),
    ("owners:*", Audience::Members),
    ("publishing:*", Audience::Members),
    ("settings:*", Audience::Admins),
    // Invitations name people who are not users yet: admins only.
    ("users:invitation:*", Audience::Admins),
    ("users:*", Audience::UserAt("/id")),
    ("notification:*", Audience::UserAt("/user_id")),
    ("auth:*", Audience::Admins),
    ("finance:commission_rate:*", Audience::Admins),
    ("finance:settings:*", Audience::Admins),
    ("finance:*", Audience::FinanceOfAddressedBroker),
    ("reports:dashboard:updated", Audience::DashboardSnapshot),
    ("reports:*", Audience::Admins),
    ("job:*", Audience::Job),
    ("system:*", Audience::Channels),
];

/// Fields removed from an event's data, per audience: (audience, field, removed for).
/// Documented in docs/realtime.md; a unit test keeps the two in step.
pub const REMOVED_FIELDS: &[(&str, &str, &str)] = &[
    (
        "reports:dashboard:updated",
        "sales, commissions",
        "viewers (brokers get their own figures in their place)",
    ),
    (
        "reports:dashboard:updated",
        "by_broker",
        "brokers and viewers",
    ),
];

fn pattern_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => kind.starts_with(prefix),
        None => pattern == kind,
    }
}

pub fn audience(kind: &str) -> Audience {
    EVENT_AUDIENCES
        .iter()
        .find(|(p, _)| pattern_matches(p, kind))
        .map(|(_, a)| *a)
        .unwrap_or(Audience::Channels)
}

/// Jobs of this queue produce reports: admin-only, like the reports themselves.
pub const REPORTS_QUEUE: &str = REPORTS.name;

/// The resource a job is: report jobs are admin-only, others their creator's.
pub fn job_resource<'a>(queue: &str, created_by: &'a str) -> Resource<'a> {
    if queue == REPORTS_QUEUE {
        Resource::AdminOnly
    } else {
        Resource::Job { created_by }
    }
}

/// What `r` gets of an event: nothing, all of it, or its data with fields removed.
#[derive(Debug, Clone, PartialEq)]
pub enum View {
    Hidden,
    Full,
    Redacted(Value),
}

/// The read rule applied to one event (`kind`, `channels`, `data`).
pub fn event_view(r: &Reader, kind: &str, channels: &[String], data: &Value) -> View {
    let visible = |res: Resource| may_read(r, &res);
    let ok = match audience(kind) {
        Audience::Members => visible(Resource::Shared),
        Audience::Channels => visible(Resource::ChannelOnly),
        Audience::Admins => visible(Resource::AdminOnly),
        Audience::UserAt(ptr) => match data.pointer(ptr).and_then(Value::as_str) {
            Some(id) => visible(Resource::User(id)),
            None => visible(Resource::AdminOnly),
        },
        Audience::FinanceOfAddressedBroker => {
            let mut brokers = channels.iter().filter_map(|c| c.strip_prefix("user:"));
            visible(Resource::AdminOnly)
                || brokers.any(|b| visible(Resource::Finance { broker: b }))
        }
        Audience::Job => {
            let queue = data.get("queue").and_then(Value::as_str).unwrap_or("");
            match data.get("created_by").and_then(Value::as_str) {
                Some(by) => visible(job_resource(queue, by)),
                None => visible(Resource::AdminOnly),
            }
        }
        Audience::DashboardSnapshot => {
            if !visible(Resource::Shared) {
                return View::Hidden;
            }
            return match money_scope(r) {
                MoneyScope::All => View::Full,
                _ => View::Redacted(redact_dashboard(r, data)),
            };
        }
    };
    if ok {
        View::Full
    } else {
        View::Hidden
    }
}

/// What an `entity:<kind>:<id>` channel streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityResource<'a> {
    /// Decided from the reader alone.
    Known(Resource<'a>),
    /// A sale: needs its broker (looked up by the hub) unless the reader is an admin.
    SaleOwner,
    /// A job: needs its creator and queue (looked up by the hub) unless the reader is an
    /// admin.
    JobOwner,
}

/// Entity kinds that any member may stream (records of `Resource::Shared`).
pub const SHARED_ENTITIES: &[&str] = &[
    "customer",
    "interaction",
    "followup",
    "appointment",
    "card",
    "owner",
    "property",
    "seeker",
    "match",
    "listing",
    "schedule",
];

/// The resource behind `entity:<kind>:<id>`; `None` for an unknown kind.
pub fn entity_resource<'a>(kind: &str, id: &'a str) -> Option<EntityResource<'a>> {
    if SHARED_ENTITIES.contains(&kind) {
        return Some(EntityResource::Known(Resource::Shared));
    }
    Some(match kind {
        "user" => EntityResource::Known(Resource::User(id)),
        "sale" | "payment" | "commission" => EntityResource::SaleOwner,
        "job" => EntityResource::JobOwner,
        "report" => EntityResource::Known(Resource::AdminOnly),
        _ => return None,
    })
}

/// The entity subscription decision once any owner lookup is done. `owner` is the sale's
/// broker or the job's creator (`None`: not found); `admin_only` marks report jobs.
pub fn may_stream_entity(
    r: &Reader,
    what: &EntityResource,
    owner: Option<&str>,
    admin_only: bool,
) -> bool {
    match what {
        EntityResource::Known(res) => may_read(r, res),
        _ if r.anonymous => false,
        _ if r.role == Role::Admin => true,
        EntityResource::SaleOwner => {
            owner.is_some_and(|b| may_read(r, &Resource::Finance { broker: b }))
        }
        EntityResource::JobOwner => {
            !admin_only && owner.is_some_and(|c| may_read(r, &Resource::Job { created_by: c }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rd(user: &str, role: Role) -> Reader<'_> {
        Reader::new(user, role)
    }
    fn ch(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn users_are_read_by_admins_and_themselves() {
        let u = Resource::User("u1");
        assert!(may_read(&rd("a", Role::Admin), &u));
        assert!(may_read(&rd("u1", Role::Viewer), &u));
        assert!(!may_read(&rd("u2", Role::Viewer), &u));
        assert!(!may_read(&rd("b", Role::Broker), &u));
    }

    #[test]
    fn finance_is_for_admins_and_the_broker() {
        let f = Resource::Finance { broker: "b1" };
        assert!(may_read(&rd("a", Role::Admin), &f));
        assert!(may_read(&rd("b1", Role::Broker), &f));
        assert!(!may_read(&rd("b2", Role::Broker), &f));
        // A viewer named like the broker still reads no money.
        assert!(!may_read(&rd("b1", Role::Viewer), &f));
        assert!(!may_read(&rd("v", Role::Viewer), &Resource::FinanceAny));
    }

    #[test]
    fn anonymous_readers_see_channel_only_events() {
        let anon = Reader {
            user: "anon",
            role: Role::Viewer,
            anonymous: true,
        };
        assert!(may_read(&anon, &Resource::ChannelOnly));
        assert!(!may_read(&anon, &Resource::Shared));
        assert_eq!(
            event_view(&anon, "crm:customer:created", &ch(&["public"]), &json!({})),
            View::Hidden
        );
    }

    #[test]
    fn events_follow_the_read_rule() {
        let admin = rd("a", Role::Admin);
        let b1 = rd("b1", Role::Broker);
        let b2 = rd("b2", Role::Broker);
        let v = rd("v", Role::Viewer);
        let user_ev = json!({"id": "u9", "email": "x@y"});
        assert_eq!(
            event_view(&v, "users:user:created", &ch(&["entity:user:u9"]), &user_ev),
            View::Hidden
        );
        assert_eq!(
            event_view(&rd("u9", Role::Viewer), "users:user:created", &[], &user_ev),
            View::Full
        );
        assert_eq!(
            event_view(&admin, "users:user:created", &[], &user_ev),
            View::Full
        );
        let sale = ch(&["user:b1", "role:admin", "entity:sale:s1"]);
        for k in ["finance:sale:created", "finance:payment:received"] {
            assert_eq!(event_view(&b1, k, &sale, &json!({})), View::Full);
            assert_eq!(event_view(&b2, k, &sale, &json!({})), View::Hidden);
            assert_eq!(event_view(&v, k, &sale, &json!({})), View::Hidden);
            assert_eq!(event_view(&admin, k, &sale, &json!({})), View::Full);
        }
        assert_eq!(
            event_view(
                &b1,
                "finance:commission_rate:updated",
                &ch(&["user:b1"]),
                &json!({})
            ),
            View::Hidden
        );
        assert_eq!(
            event_view(&v, "crm:customer:created", &ch(&["tenant"]), &json!({})),
            View::Full
        );
    }

    #[test]
    fn jobs_are_for_admins_and_their_creator_and_reports_for_admins() {
        let job = json!({"created_by": "b1", "queue": "pulse-email", "kind": "welcome_email"});
        assert_eq!(
            event_view(&rd("b1", Role::Broker), "job:completed", &[], &job),
            View::Full
        );
        assert_eq!(
            event_view(&rd("v", Role::Viewer), "job:completed", &[], &job),
            View::Hidden
        );
        let report = json!({"created_by": "b1", "queue": "pulse-reports", "result": {"totals": 1}});
        assert_eq!(
            event_view(&rd("b1", Role::Broker), "job:completed", &[], &report),
            View::Hidden
        );
        assert_eq!(
            event_view(&rd("a", Role::Admin), "job:completed", &[], &report),
            View::Full
        );
    }

    #[test]
    fn dashboard_money_is_scoped() {
        let snap = json!({
            "customers": {"total": 3},
            "sales": {"count": 2, "by_currency": {"EUR": {"total_minor": 300}}},
            "commissions": {"by_currency": {"EUR": {"pending_minor": 9}}},
            "by_broker": {"b1": {"sales": {"count": 1, "by_currency": {"EUR": {"total_minor": 100}}},
                                  "commissions": {"by_currency": {"EUR": {"pending_minor": 3}}}}}
        });
        let a = redact_dashboard(&rd("a", Role::Admin), &snap);
        assert_eq!(a, snap);
        let b = redact_dashboard(&rd("b1", Role::Broker), &snap);
        assert_eq!(b["sales"]["by_currency"]["EUR"]["total_minor"], 100);
        assert!(b.get("by_broker").is_none());
        let b2 = redact_dashboard(&rd("b2", Role::Broker), &snap);
        assert_eq!(b2["sales"]["count"], 0);
        assert_eq!(b2["commissions"]["by_currency"], json!({}));
        let v = redact_dashboard(&rd("v", Role::Viewer), &snap);
        assert!(v.get("sales").is_none() && v.get("commissions").is_none());
        assert!(v.get("by_broker").is_none());
        assert_eq!(v["customers"]["total"], 3);
        match event_view(
            &rd("v", Role::Viewer),
            "reports:dashboard:updated",
            &[],
            &snap,
        ) {
            View::Redacted(d) => assert!(d.get("sales").is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn entity_channels_follow_the_read_rule() {
        let v = rd("v", Role::Viewer);
        let b1 = rd("b1", Role::Broker);
        let admin = rd("a", Role::Admin);
        let user = entity_resource("user", "u1").unwrap();
        assert!(!may_stream_entity(&v, &user, None, false));
        assert!(may_stream_entity(
            &rd("u1", Role::Viewer),
            &user,
            None,
            false
        ));
        assert!(may_stream_entity(&admin, &user, None, false));
        let sale = entity_resource("sale", "s1").unwrap();
        assert!(may_stream_entity(&b1, &sale, Some("b1"), false));
        assert!(!may_stream_entity(&b1, &sale, Some("b2"), false));
        assert!(!may_stream_entity(&b1, &sale, None, false));
        assert!(!may_stream_entity(
            &rd("b1", Role::Viewer),
            &sale,
            Some("b1"),
            false
        ));
        assert!(may_stream_entity(&admin, &sale, None, false));
        let job = entity_resource("job", "j1").unwrap();
        assert!(may_stream_entity(&b1, &job, Some("b1"), false));
        assert!(!may_stream_entity(&b1, &job, Some("b1"), true));
        assert!(!may_stream_entity(&v, &job, Some("b1"), false));
        let report = entity_resource("report", "r1").unwrap();
        assert!(!may_stream_entity(&b1, &report, None, false));
        assert!(may_stream_entity(
            &v,
            &entity_resource("customer", "c1").unwrap(),
            None,
            false
        ));
        assert!(entity_resource("planet", "x").is_none());
    }

    /// Every event type of the catalog has an audience here, and it is the one the catalog
    /// declares; every entry here covers some type of the catalog.
    #[test]
    fn the_catalog_declares_the_policys_audiences() {
        use crate::domain::catalog::EVENTS;
        for e in EVENTS {
            // A family (`system:*`) is checked on one of its members.
            let kind = match e.kind.strip_suffix('*') {
                Some(prefix) => format!("{prefix}x"),
                None => e.kind.to_string(),
            };
            assert!(
                EVENT_AUDIENCES
                    .iter()
                    .any(|(p, _)| pattern_matches(p, &kind)),
                "{} has no audience",
                e.kind
            );
            assert_eq!(audience(&kind).name(), e.audience, "{}", e.kind);
        }
        for (pattern, _) in EVENT_AUDIENCES {
            assert!(
                EVENTS.iter().any(|e| pattern_matches(pattern, e.kind)),
                "{pattern} covers no event type of the catalog"
            );
        }
    }

    /// The fields the policy removes for some readers are optional in the catalog.
    #[test]
    fn removed_fields_are_optional_in_the_catalog() {
        use crate::domain::catalog::{data_schema, find};
        for (kind, fields, _) in REMOVED_FIELDS {
            let schema = data_schema(find(kind).unwrap());
            for field in fields.split(", ") {
                assert!(
                    schema["properties"].get(field).is_some(),
                    "{kind}: {field} is not in the catalog"
                );
                assert!(
                    !schema["required"]
                        .as_array()
                        .unwrap()
                        .contains(&serde_json::json!(field)),
                    "{kind}: {field} is removed for some readers, so it cannot be required"
                );
            }
        }
    }

    #[test]
    fn the_docs_table_lists_every_audience() {
        let doc = include_str!("../../../../docs/realtime.md");
        for (pattern, _) in EVENT_AUDIENCES {
            assert!(
                doc.contains(&format!("`{pattern}`")),
                "docs/realtime.md lacks `{pattern}`"
            );
        }
        for (kind, fields, _) in REMOVED_FIELDS {
            assert!(
                doc.contains(kind) && doc.contains(fields),
                "{kind} {fields}"
            );
        }
    }
}
