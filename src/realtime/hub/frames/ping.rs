//! `{"op":"ping","head":true}`: the sequence heartbeat. (A plain `{"op":"ping"}` never
//! gets here: the runtime answers it without waking the hub.)

use super::super::sockets;
use super::super::tenant_hub_do::TenantHub;
use super::super::HubStore;
use crate::realtime::protocol::{FrameError, ServerFrame};
use worker::WebSocket;

pub fn ping(hub: &TenantHub, ws: &WebSocket, with_head: bool) -> Result<(), FrameError> {
    let head = if with_head {
        Some(
            hub.store
                .head()
                .map_err(|e| FrameError::new("internal", e.to_string()))?,
        )
    } else {
        None
    };
    sockets::send(ws, &ServerFrame::Pong { head }.to_json());
    Ok(())
}
