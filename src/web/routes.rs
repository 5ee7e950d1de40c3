//! The route table (pure): every method and path the API serves, in one list that the
//! router dispatches from and the OpenAPI coverage test compares with the spec.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Health,
    OpenApi,
    Docs,
    CustomersList,
    CustomersCreate,
    CustomerGet,
    CustomerUpdate,
    CustomerDelete,
    InteractionsList,
    InteractionsCreate,
    FollowupsList,
    FollowupsCreate,
    FollowupGet,
    FollowupUpdate,
    AppointmentsList,
    AppointmentsCreate,
    AppointmentComplete,
    CardsList,
    CardsCreate,
    CardPublic,
    CardScan,
    AuthLogin,
    AuthRefresh,
    AuthLogout,
    UsersList,
    UsersCreate,
    UserGet,
    UserUpdate,
    UserDelete,
    SalesList,
    SalesCreate,
    SaleGet,
    PaymentsList,
    PaymentsCreate,
    CommissionsList,
    CommissionApprove,
    CommissionRatesGet,
    CommissionRatesPut,
    FinanceSettingsGet,
    FinanceSettingsPut,
    OwnersList,
    OwnersCreate,
    OwnerGet,
    OwnerUpdate,
    OwnerDelete,
    PropertiesList,
    PropertiesCreate,
    PropertyGet,
    PropertyUpdate,
    PropertyDelete,
    SeekersList,
    SeekersCreate,
    SeekerGet,
    SeekerUpdate,
    SeekerDelete,
    MatchingRun,
    MatchesList,
    JobsList,
    JobGet,
    JobRetry,
    CustomerSms,
    ListingsList,
    ListingsCreate,
    ListingGet,
    ListingPublish,
    SchedulesList,
    SchedulesCreate,
    ScheduleCancel,
    ReportsList,
    ReportsCreate,
    ReportGet,
    ReportDownload,
    BlockedIpsList,
    BlockedIpsCreate,
    BlockedIpDelete,
    Dashboard,
    AnalyticsSnapshot,
    Stats,
    DevMessages,
    DevDeadLetters,
    DevQueueSend,
    DevHubAppend,
    RealtimeWs,
    RealtimeStream,
    RealtimeEvents,
    RealtimeStats,
    RealtimePublish,
    RoomsList,
    RoomsCreate,
    RoomWs,
    RoomPublish,
    PublicRoomWs,
}

/// (method, path pattern with `:param` segments, route).
pub const ROUTES: &[(&str, &str, Route)] = &[
    ("GET", "/health", Route::Health),
    ("GET", "/api/openapi.json", Route::OpenApi),
    ("GET", "/api/docs", Route::Docs),
    ("GET", "/api/crm/customers", Route::CustomersList),
    ("POST", "/api/crm/customers", Route::CustomersCreate),
    ("GET", "/api/crm/customers/:id", Route::CustomerGet),
    ("PUT", "/api/crm/customers/:id", Route::CustomerUpdate),
    ("DELETE", "/api/crm/customers/:id", Route::CustomerDelete),
    ("GET", "/api/crm/interactions", Route::InteractionsList),
    ("POST", "/api/crm/interactions", Route::InteractionsCreate),
    ("GET", "/api/crm/followups", Route::FollowupsList),
    ("POST", "/api/crm/followups", Route::FollowupsCreate),
    ("GET", "/api/crm/followups/:id", Route::FollowupGet),
    ("PUT", "/api/crm/followups/:id", Route::FollowupUpdate),
    ("GET", "/api/calendar/appointments", Route::AppointmentsList),
    (
        "POST",
        "/api/calendar/appointments",
        Route::AppointmentsCreate,
    ),
    (
        "PUT",
        "/api/calendar/appointments/:id/complete",
        Route::AppointmentComplete,
    ),
    ("GET", "/api/cards", Route::CardsList),
    ("POST", "/api/cards", Route::CardsCreate),
    ("GET", "/api/cards/public/:slug", Route::CardPublic),
    ("POST", "/api/cards/:id/scan", Route::CardScan),
    ("POST", "/api/auth/login", Route::AuthLogin),
    ("POST", "/api/auth/refresh", Route::AuthRefresh),
    ("POST", "/api/auth/logout", Route::AuthLogout),
    ("GET", "/api/users", Route::UsersList),
    ("POST", "/api/users", Route::UsersCreate),
    ("GET", "/api/users/:id", Route::UserGet),
    ("PUT", "/api/users/:id", Route::UserUpdate),
    ("DELETE", "/api/users/:id", Route::UserDelete),
    ("GET", "/api/finance/sales", Route::SalesList),
    ("POST", "/api/finance/sales", Route::SalesCreate),
    ("GET", "/api/finance/sales/:id", Route::SaleGet),
    ("GET", "/api/finance/payments", Route::PaymentsList),
    ("POST", "/api/finance/payments", Route::PaymentsCreate),
    ("GET", "/api/finance/commissions", Route::CommissionsList),
    (
        "PUT",
        "/api/finance/commissions/:id/approve",
        Route::CommissionApprove,
    ),
    (
        "GET",
        "/api/finance/commission-rates",
        Route::CommissionRatesGet,
    ),
    (
        "PUT",
        "/api/finance/commission-rates",
        Route::CommissionRatesPut,
    ),
    ("GET", "/api/finance/settings", Route::FinanceSettingsGet),
    ("PUT", "/api/finance/settings", Route::FinanceSettingsPut),
    ("GET", "/api/owners", Route::OwnersList),
    ("POST", "/api/owners", Route::OwnersCreate),
    ("GET", "/api/owners/:id", Route::OwnerGet),
    ("PUT", "/api/owners/:id", Route::OwnerUpdate),
    ("DELETE", "/api/owners/:id", Route::OwnerDelete),
    ("GET", "/api/properties", Route::PropertiesList),
    ("POST", "/api/properties", Route::PropertiesCreate),
    ("GET", "/api/properties/:id", Route::PropertyGet),
    ("PUT", "/api/properties/:id", Route::PropertyUpdate),
    ("DELETE", "/api/properties/:id", Route::PropertyDelete),
    ("GET", "/api/seekers", Route::SeekersList),
    ("POST", "/api/seekers", Route::SeekersCreate),
    ("GET", "/api/seekers/:id", Route::SeekerGet),
    ("PUT", "/api/seekers/:id", Route::SeekerUpdate),
    ("DELETE", "/api/seekers/:id", Route::SeekerDelete),
    ("POST", "/api/matching/run", Route::MatchingRun),
    ("GET", "/api/matches", Route::MatchesList),
    ("GET", "/api/jobs", Route::JobsList),
    ("GET", "/api/jobs/:id", Route::JobGet),
    ("POST", "/api/jobs/:id/retry", Route::JobRetry),
    ("POST", "/api/crm/customers/:id/sms", Route::CustomerSms),
    ("GET", "/api/publishing/listings", Route::ListingsList),
    ("POST", "/api/publishing/listings", Route::ListingsCreate),
    ("GET", "/api/publishing/listings/:id", Route::ListingGet),
    (
        "POST",
        "/api/publishing/listings/:id/publish",
        Route::ListingPublish,
    ),
    ("GET", "/api/publishing/schedules", Route::SchedulesList),
    ("POST", "/api/publishing/schedules", Route::SchedulesCreate),
    (
        "DELETE",
        "/api/publishing/schedules/:id",
        Route::ScheduleCancel,
    ),
    ("GET", "/api/reports", Route::ReportsList),
    ("POST", "/api/reports", Route::ReportsCreate),
    ("GET", "/api/reports/:id", Route::ReportGet),
    ("GET", "/api/reports/:id/download", Route::ReportDownload),
    ("GET", "/api/security/blocked-ips", Route::BlockedIpsList),
    ("POST", "/api/security/blocked-ips", Route::BlockedIpsCreate),
    (
        "DELETE",
        "/api/security/blocked-ips/:ip",
        Route::BlockedIpDelete,
    ),
    ("GET", "/api/dashboard", Route::Dashboard),
    ("GET", "/api/analytics/snapshot", Route::AnalyticsSnapshot),
    ("GET", "/api/stats", Route::Stats),
    ("GET", "/api/dev/messages", Route::DevMessages),
    ("GET", "/api/dev/dead-letters", Route::DevDeadLetters),
    ("POST", "/api/dev/queues/:queue", Route::DevQueueSend),
    ("POST", "/api/dev/hub-append", Route::DevHubAppend),
    ("GET", "/api/realtime/ws", Route::RealtimeWs),
    ("GET", "/api/realtime/stream", Route::RealtimeStream),
    ("GET", "/api/realtime/events", Route::RealtimeEvents),
    ("GET", "/api/realtime/stats", Route::RealtimeStats),
    ("POST", "/api/realtime/publish", Route::RealtimePublish),
    ("GET", "/api/realtime/rooms", Route::RoomsList),
    ("POST", "/api/realtime/rooms", Route::RoomsCreate),
    ("GET", "/api/realtime/rooms/:name/ws", Route::RoomWs),
    (
        "POST",
        "/api/realtime/rooms/:name/publish",
        Route::RoomPublish,
    ),
    (
        "GET",
        "/api/public/rooms/:tenant/:name/ws",
        Route::PublicRoomWs,
    ),
];

#[derive(Debug, PartialEq)]
pub enum Match<'a> {
    /// The route and its `:param` values in order.
    Found(Route, Vec<&'a str>),
    MethodNotAllowed,
    NotFound,
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
    for (m, pattern, route) in ROUTES {
        if let Some(params) = captures(pattern, &segs) {
            if *m == method {
                return Match::Found(*route, params);
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
/// route's, else any pattern the path matches (another method), else `None`.
pub fn pattern(method: &str, path: &str) -> Option<&'static str> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut other = None;
    for (m, pattern, _) in ROUTES {
        if captures(pattern, &segs).is_some() {
            if *m == method {
                return Some(pattern);
            }
            other = other.or(Some(*pattern));
        }
    }
    other
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

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
            find("GET", "/api/crm/customers/c_1"),
            Match::Found(Route::CustomerGet, vec!["c_1"])
        );
        assert_eq!(
            find("GET", "/api/crm/customers/"),
            Match::Found(Route::CustomersList, vec![])
        );
        assert_eq!(
            find("PATCH", "/api/crm/customers/c_1"),
            Match::MethodNotAllowed
        );
        assert_eq!(find("GET", "/api/crm/nothing"), Match::NotFound);
        assert_eq!(
            find("GET", "/api/public/rooms/demo/lobby/ws"),
            Match::Found(Route::PublicRoomWs, vec!["demo", "lobby"])
        );
    }

    #[test]
    fn every_route_is_unique() {
        let mut seen = BTreeSet::new();
        for (m, p, _) in ROUTES {
            assert!(seen.insert((m, p)), "duplicate route {m} {p}");
        }
    }

    /// The OpenAPI document lists exactly the served routes: a route without a spec entry,
    /// or a spec entry without a route, fails here.
    #[test]
    fn openapi_covers_exactly_the_routes() {
        let spec: serde_json::Value = serde_json::from_str(include_str!("../../docs/openapi.json"))
            .expect("openapi.json parses");
        let served: serde_json::Value =
            serde_json::from_str(include_str!("../../static/openapi.json"))
                .expect("served copy parses");
        assert_eq!(
            spec, served,
            "static/openapi.json is stale: run scripts/gen_openapi.py"
        );
        assert_eq!(
            spec["openapi"].as_str().map(|v| v.starts_with("3.1")),
            Some(true)
        );
        let mut in_spec = BTreeSet::new();
        for (path, item) in spec["paths"].as_object().expect("paths") {
            for m in ["get", "post", "put", "delete", "patch"] {
                if let Some(op) = item.get(m) {
                    assert!(op.get("responses").is_some(), "{m} {path} has no responses");
                    in_spec.insert((m.to_uppercase(), path.clone()));
                }
            }
        }
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p, _)| {
                let p = p
                    .split('/')
                    .map(|s| match s.strip_prefix(':') {
                        Some(name) => format!("{{{name}}}"),
                        None => s.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                (m.to_string(), p)
            })
            .collect();
        let missing: Vec<_> = served.difference(&in_spec).collect();
        let extra: Vec<_> = in_spec.difference(&served).collect();
        assert!(
            missing.is_empty(),
            "routes without a spec entry: {missing:?}"
        );
        assert!(extra.is_empty(), "spec entries without a route: {extra:?}");
    }
}
