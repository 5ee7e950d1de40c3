//! `{"op":"subscribe",…}`: checks every channel against the read policy (and D1 owners
//! for sale and job channels) before anything changes, merges the subscriptions into the
//! attachment (50 at most, 2 KB at most), answers `subscribed`, replays the history after
//! `since` when it can be recovered, announces presence joins, then sends the snapshots of
//! snapshot channels. The replay is sent synchronously after `subscribed`, so no live event
//! can land in between.

use super::super::sockets::{self, Attachment};
use super::super::tenant_hub_do::TenantHub;
use super::super::{delivery, HubStore};
use crate::realtime::protocol::{self, Channel, FrameError, ServerFrame, Sub};
use worker::WebSocket;

pub struct Subscribe {
    pub channels: Vec<String>,
    pub since: Option<u64>,
    pub epoch: Option<String>,
    pub types: Vec<String>,
    pub presence: bool,
}

/// The subscriptions a subscribe adds, after validating its channels and types as a whole
/// (all or none).
pub fn new_subs(att: &Attachment, req: &Subscribe) -> Result<Vec<Sub>, FrameError> {
    protocol::check_subscribe(&att.who, &req.channels)?;
    protocol::check_types(&req.types)?;
    Ok(req
        .channels
        .iter()
        .map(|c| Sub {
            channel: c.clone(),
            types: req.types.clone(),
            presence: req.presence,
        })
        .collect())
}

/// Channels whose presence this subscribe newly joins.
pub fn joined(att: &Attachment, req: &Subscribe) -> Vec<String> {
    if !req.presence {
        return Vec::new();
    }
    req.channels
        .iter()
        .filter(|c| !att.subs.iter().any(|s| s.presence && s.channel == **c))
        .cloned()
        .collect()
}

pub async fn subscribe(
    hub: &TenantHub,
    ws: &WebSocket,
    att: &mut Attachment,
    req: Subscribe,
) -> Result<(), FrameError> {
    // Channel rules first, then the D1 owner lookups they call for, then the rest.
    let checks = protocol::check_subscribe(&att.who, &req.channels)?;
    hub.check_owners(&att.who, &checks).await?;
    // Other frames of this socket may have been handled during the lookups: the change is
    // applied to the attachment as it is now (its rate bucket kept from this frame's).
    if let Some(mut latest) = sockets::attachment(ws) {
        latest.bucket = att.bucket;
        *att = latest;
    }
    let new = new_subs(att, &req)?;
    let joined = joined(att, &req);
    let mut subs = att.subs.clone();
    protocol::merge_subscriptions(&mut subs, &new, hub.limits.max_subscriptions)?;
    let before = std::mem::replace(&mut att.subs, subs);
    let saved = sockets::save(ws, att);
    hub.sockets_changed();
    if let Err(e) = saved {
        att.subs = before;
        return Err(e);
    }
    let internal = |e: worker::Error| FrameError::new("internal", e.to_string());
    let (head, recovered) = hub
        .recovery(req.since, req.epoch.as_deref())
        .map_err(internal)?;
    let epoch = hub.store.epoch();
    let frame = ServerFrame::Subscribed {
        channels: &req.channels,
        head,
        recovered,
        epoch: &epoch,
    };
    sockets::send(ws, &frame.to_json());
    if let Some(since) = req.since.filter(|_| recovered) {
        delivery::replay_all(&hub.store, &att.who, &new, since, |e| {
            sockets::send(ws, &protocol::event_frame(e))
        })
        .map_err(internal)?;
    }
    for ch in joined {
        hub.announce_join(&ch, &att.who.user_id);
    }
    for c in &req.channels {
        if let Some(Channel::Snapshot(kind)) = protocol::parse_channel(c) {
            hub.send_snapshot(ws, &att.who, kind).await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::auth::Role;
    use crate::realtime::protocol::{Bucket, Identity};

    fn att(subs: &[(&str, bool)]) -> Attachment {
        Attachment {
            who: Identity {
                user_id: "b1".into(),
                role: Role::Broker,
                exp: 0,
                anonymous: false,
            },
            subs: subs
                .iter()
                .map(|(c, p)| Sub {
                    channel: c.to_string(),
                    types: vec![],
                    presence: *p,
                })
                .collect(),
            bucket: Bucket::full(100, 0),
            closed: false,
            warned: 0,
            sio: 0,
            pid: String::new(),
            opened_ms: 0,
        }
    }
    fn req(channels: &[&str], types: &[&str], presence: bool) -> Subscribe {
        Subscribe {
            channels: channels.iter().map(|s| s.to_string()).collect(),
            since: None,
            epoch: None,
            types: types.iter().map(|s| s.to_string()).collect(),
            presence,
        }
    }

    #[test]
    fn all_channels_or_none() {
        let a = att(&[]);
        let subs = new_subs(&a, &req(&["tenant", "entity:sale:s1"], &["crm:*"], true)).unwrap();
        assert_eq!(subs.len(), 2);
        assert!(subs
            .iter()
            .all(|s| s.presence && s.types == vec!["crm:*".to_string()]));
        let e = new_subs(&a, &req(&["tenant", "role:admin"], &[], false)).unwrap_err();
        assert_eq!(e.code, "forbidden");
        let e = new_subs(&a, &req(&["tenant"], &["bad type"], false)).unwrap_err();
        assert_eq!(e.code, "bad_frame");
    }

    #[test]
    fn presence_joins_only_new_channels() {
        let a = att(&[("tenant", true), ("user:b1", false)]);
        assert_eq!(
            joined(&a, &req(&["tenant", "user:b1", "entity:card:c"], &[], true)),
            vec!["user:b1".to_string(), "entity:card:c".to_string()]
        );
        assert!(joined(&a, &req(&["entity:card:c"], &[], false)).is_empty());
    }
}
