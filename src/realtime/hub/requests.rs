//! The hub's internal HTTP surface (reachable only through the frontend worker, which
//! verified the token and passes the identity in headers): `/append` from the outbox,
//! `/events` (REST history), and the identity and query subscriptions that `/events`,
//! `/sse` and `/ws` start from.

use super::tenant_hub_do::TenantHub;
use super::{delivery, now_ms, storage, HubStore};
use crate::domain::auth::Role;
use crate::domain::event::{Event, EventDraft};
use crate::domain::query;
use crate::realtime::protocol::{self, FrameError, Identity, OwnerCheck, Sub};
use serde_json::json;
use worker::{Request, Response, Result};

/// Headers the frontend worker sets after verifying the token (the DO is not reachable
/// from outside, so it trusts them).
pub const H_USER: &str = "x-pulse-user";
pub const H_ROLE: &str = "x-pulse-role";
pub const H_EXP: &str = "x-pulse-exp";
pub const H_TENANT: &str = "x-pulse-tenant";
/// Set on public-room joins: the identity is an anonymous visitor.
pub const H_ANON: &str = "x-pulse-anonymous";

/// The identity the frontend worker verified, from the internal headers.
pub fn identity(req: &Request) -> Option<Identity> {
    let h = req.headers();
    let user = h.get(H_USER).ok().flatten().filter(|u| !u.is_empty())?;
    let role = h.get(H_ROLE).ok().flatten().and_then(|r| Role::parse(&r))?;
    let exp = h
        .get(H_EXP)
        .ok()
        .flatten()
        .and_then(|e| e.parse::<i64>().ok())
        .unwrap_or(0);
    let anonymous = h.get(H_ANON).ok().flatten().is_some();
    Some(Identity {
        user_id: user,
        role,
        exp,
        anonymous,
    })
}

pub fn json_error(status: u16, code: &str, message: &str) -> Result<Response> {
    Ok(
        Response::from_json(&json!({"error": {"code": code, "message": message}}))?
            .with_status(status),
    )
}

/// A refused subscription over HTTP: 403 for a forbidden channel, else 400.
pub fn frame_status(e: &FrameError) -> u16 {
    if e.code == "forbidden" {
        403
    } else {
        400
    }
}

/// `?channels=a,b&types=x,y` as subscriptions (default: everything the identity may read),
/// with the owner checks the hub still has to run. At most `max` channels, like a socket.
pub fn subs_from_query(
    url: &str,
    who: &Identity,
    max: usize,
) -> std::result::Result<(Vec<Sub>, Vec<OwnerCheck>), FrameError> {
    let q = |k: &str| query::get(url, k);
    let channels: Vec<String> = match q("channels").filter(|c| !c.is_empty()) {
        Some(c) => c.split(',').map(|s| s.trim().to_string()).collect(),
        None => vec![
            "tenant".into(),
            format!("user:{}", who.user_id),
            format!("role:{}", who.role.as_str()),
        ],
    };
    if channels.len() > max {
        return Err(FrameError::new(
            "too_many_channels",
            format!("at most {max} channels per stream or history request"),
        ));
    }
    let types: Vec<String> = q("types")
        .filter(|t| !t.is_empty())
        .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let checks = protocol::check_subscribe(who, &channels)?;
    protocol::check_types(&types)?;
    let subs = channels
        .into_iter()
        .map(|c| Sub {
            channel: c,
            types: types.clone(),
            presence: false,
        })
        .collect();
    Ok((subs, checks))
}

/// `?since=&limit=` of `/events`: `since` a seq (default 0), `limit` 1..=1000 (default 100).
pub fn page_from_query(url: &str) -> std::result::Result<(u64, usize), &'static str> {
    let since = match query::get(url, "since") {
        None => 0,
        Some(s) => s
            .parse::<u64>()
            .map_err(|_| "since must be a non-negative integer")?,
    };
    let limit = match query::get(url, "limit") {
        None => 100,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=protocol::HISTORY_MAX_LIMIT).contains(&i64::from(n)) => n,
            _ => return Err("limit must be an integer from 1 to 1000"),
        },
    };
    Ok((since, limit as usize))
}

/// The `/events` body: one page of `replay`, with the cursor state around it.
pub fn history_page<S: HubStore>(
    store: &S,
    who: &Identity,
    subs: &[Sub],
    since: u64,
    limit: usize,
) -> std::result::Result<serde_json::Value, S::Error> {
    let head = store.head()?;
    let oldest = store.oldest()?;
    let recovered = protocol::recoverable(Some(since), oldest, head);
    let (data, next_since) = delivery::replay(store, who, subs, since, limit)?;
    Ok(json!({
        "data": data, "head": head, "oldest": oldest, "epoch": store.epoch(),
        "recovered": recovered, "next_since": next_since,
    }))
}

impl TenantHub {
    /// The tenant this hub serves, from the frontend's header; stored, because an alarm
    /// (dashboard push) has no request to read it from.
    pub(super) fn remember_tenant(&self, req: &Request) {
        let Some(t) = req.headers().get(H_TENANT).ok().flatten() else {
            return;
        };
        if self.tenant.borrow().as_deref() != Some(t.as_str()) {
            let _ = self.store.set_text("tenant", &t);
            *self.tenant.borrow_mut() = Some(t);
        }
    }

    /// The verified identity and its subscriptions from `?channels=&types=` for SSE and
    /// the REST history, or the error response.
    pub(super) async fn reader(
        &self,
        req: &Request,
        url: &str,
    ) -> std::result::Result<(Identity, Vec<Sub>), Result<Response>> {
        let Some(who) = identity(req) else {
            return Err(json_error(400, "bad_request", "missing identity"));
        };
        let checked = match subs_from_query(url, &who, self.limits.max_subscriptions) {
            Ok((subs, checks)) => self.check_owners(&who, &checks).await.map(|_| subs),
            Err(e) => Err(e),
        };
        match checked {
            Ok(subs) => Ok((who, subs)),
            Err(e) => Err(json_error(frame_status(&e), e.code, &e.message)),
        }
    }

    /// `POST /append` (the outbox): numbers and stores new events (duplicates by id are
    /// reported with their seq), fans them out, prunes, and schedules a dashboard push.
    pub(super) async fn append(&self, mut req: Request) -> Result<Response> {
        let drafts: Vec<EventDraft> = match req.json().await {
            Ok(d) => d,
            Err(e) => return json_error(400, "bad_request", &format!("bad append body: {e}")),
        };
        let appended = storage::append(&self.store, drafts, now_ms())?;
        let new_events: Vec<&Event> = appended
            .iter()
            .filter_map(|a| match a {
                storage::Appended::New(e) => Some(e),
                storage::Appended::Duplicate { .. } => None,
            })
            .collect();
        let dashboard = new_events
            .iter()
            .any(|e| protocol::affects_dashboard(&e.kind));
        if !new_events.is_empty() {
            self.fan_out(&new_events);
            storage::prune(
                &self.store,
                self.limits.history_max_events,
                self.limits.history_max_age_seconds,
                now_ms(),
            )?;
        }
        if dashboard {
            self.dashboard_changed().await;
        }
        self.flush_counters()?;
        let results: Vec<_> = appended
            .iter()
            .map(|a| {
                let (id, seq) = a.id_and_seq();
                json!({"id": id, "seq": seq})
            })
            .collect();
        Response::from_json(&json!({ "results": results }))
    }

    /// `GET /events?since=&limit=&channels=&types=`: the history for polling clients, with
    /// the same authorization as live delivery.
    pub(super) async fn events(&self, req: &Request) -> Result<Response> {
        let url = req.inner().url();
        let (who, subs) = match self.reader(req, &url).await {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        match page_from_query(&url) {
            Ok((since, limit)) => {
                Response::from_json(&history_page(&self.store, &who, &subs, since, limit)?)
            }
            Err(message) => json_error(400, "bad_request", message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::storage::memory::MemStore;
    use super::*;

    fn who(role: Role) -> Identity {
        Identity {
            user_id: "u1".into(),
            role,
            exp: 0,
            anonymous: false,
        }
    }

    #[test]
    fn query_subscriptions() {
        let (subs, checks) = subs_from_query("/events", &who(Role::Broker), 50).unwrap();
        let ch: Vec<&str> = subs.iter().map(|s| s.channel.as_str()).collect();
        assert_eq!(ch, vec!["tenant", "user:u1", "role:broker"]);
        assert!(checks.is_empty());
        let (subs, checks) = subs_from_query(
            "/sse?channels=tenant,entity:sale:s1&types=finance:*",
            &who(Role::Broker),
            50,
        )
        .unwrap();
        assert_eq!(subs[1].types, vec!["finance:*".to_string()]);
        assert_eq!(checks.len(), 1, "a sale's broker is looked up");
        let many = format!("/sse?channels={}", vec!["tenant"; 51].join(","));
        let e = subs_from_query(&many, &who(Role::Admin), 50).unwrap_err();
        assert_eq!((e.code, frame_status(&e)), ("too_many_channels", 400));
        let e = subs_from_query("/sse?channels=role:admin", &who(Role::Viewer), 50).unwrap_err();
        assert_eq!(frame_status(&e), 403);
    }

    #[test]
    fn history_paging() {
        assert_eq!(page_from_query("/events"), Ok((0, 100)));
        assert_eq!(page_from_query("/events?since=4&limit=1000"), Ok((4, 1000)));
        assert!(page_from_query("/events?since=-1").is_err());
        assert!(page_from_query("/events?limit=0").is_err());
        assert!(page_from_query("/events?limit=1001").is_err());

        let s = MemStore::default();
        s.set_meta("epoch", 9).unwrap();
        let drafts = (1..=5)
            .map(|i| EventDraft {
                id: format!("e{i}"),
                kind: if i % 2 == 0 {
                    "finance:sale:created"
                } else {
                    "crm:customer:created"
                }
                .into(),
                channels: vec!["tenant".into()],
                data: json!({}),
                ts: "t".into(),
                actor: None,
            })
            .collect();
        storage::append(&s, drafts, 1).unwrap();
        let subs = [Sub {
            channel: "tenant".into(),
            types: vec![],
            presence: false,
        }];
        let p = history_page(&s, &who(Role::Viewer), &subs, 0, 2).unwrap();
        assert_eq!(p["data"].as_array().unwrap().len(), 2);
        assert_eq!(
            (
                p["head"].as_u64(),
                p["oldest"].as_u64(),
                p["next_since"].as_u64()
            ),
            (Some(5), Some(1), Some(3))
        );
        assert_eq!(
            (p["epoch"].as_str(), p["recovered"].as_bool()),
            (Some("9"), Some(true))
        );
        let p = history_page(&s, &who(Role::Viewer), &subs, 3, 2).unwrap();
        assert_eq!(p["data"][0]["seq"], 5);
        assert_eq!(p["next_since"], 5);
        let p = history_page(&s, &who(Role::Viewer), &subs, 8, 2).unwrap();
        assert_eq!(
            (p["recovered"].as_bool(), p["next_since"].as_u64()),
            (Some(false), Some(8))
        );
    }
}
