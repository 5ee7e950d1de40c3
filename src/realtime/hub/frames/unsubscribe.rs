//! `{"op":"unsubscribe","channels":[…]}`: drops the channels and leaves their presence at
//! once (an explicit leave needs no grace period).

use super::super::sockets::{self, Attachment};
use super::super::tenant_hub_do::TenantHub;
use crate::realtime::protocol::{FrameError, ServerFrame};
use worker::WebSocket;

pub fn unsubscribe(
    hub: &TenantHub,
    ws: &WebSocket,
    att: &mut Attachment,
    channels: &[String],
) -> Result<(), FrameError> {
    let left: Vec<String> = att
        .subs
        .iter()
        .filter(|s| s.presence && channels.contains(&s.channel))
        .map(|s| s.channel.clone())
        .collect();
    att.subs.retain(|s| !channels.contains(&s.channel));
    let saved = sockets::save(ws, att);
    hub.sockets_changed();
    saved?;
    for ch in left {
        hub.announce_if_gone(&ch, &att.who.user_id);
    }
    sockets::send(ws, &ServerFrame::Unsubscribed { channels }.to_json());
    Ok(())
}
