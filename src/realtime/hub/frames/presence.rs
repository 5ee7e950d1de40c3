//! `{"op":"presence","channel":…}`: the presence list of a channel this connection is
//! subscribed to (and only such a channel: the list names users).

use super::super::sockets::{self, Attachment};
use super::super::tenant_hub_do::TenantHub;
use crate::realtime::protocol::FrameError;
use worker::WebSocket;

pub fn presence(
    hub: &TenantHub,
    ws: &WebSocket,
    att: &Attachment,
    channel: &str,
) -> Result<(), FrameError> {
    if !att.subs.iter().any(|s| s.channel == channel) {
        return Err(FrameError::new(
            "not_subscribed",
            "subscribe to the channel first",
        ));
    }
    sockets::send(ws, &hub.presence_frame(channel));
    Ok(())
}
