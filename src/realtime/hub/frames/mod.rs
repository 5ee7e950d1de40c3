//! Client frames, one file per `op`: each handler gets the socket and its attachment
//! (already admitted: token, size, rate), does its work, and answers; a refusal comes back
//! as a `FrameError` that the dispatcher sends as an `error` frame, keeping the socket open.

mod auth;
mod ping;
mod presence;
mod subscribe;
mod unsubscribe;

pub use subscribe::{new_subs, Subscribe};

use super::sockets::Attachment;
use super::tenant_hub_do::TenantHub;
use crate::realtime::protocol::{ClientFrame, FrameError};
use worker::WebSocket;

/// Runs one parsed client frame.
pub async fn handle(
    hub: &TenantHub,
    ws: &WebSocket,
    att: &mut Attachment,
    frame: ClientFrame,
) -> Result<(), FrameError> {
    match frame {
        ClientFrame::Ping { head } => ping::ping(hub, ws, head),
        ClientFrame::Subscribe {
            channels,
            since,
            epoch,
            types,
            presence,
        } => {
            let req = subscribe::Subscribe {
                channels,
                since,
                epoch,
                types: types.unwrap_or_default(),
                presence,
            };
            subscribe::subscribe(hub, ws, att, req).await
        }
        ClientFrame::Unsubscribe { channels } => unsubscribe::unsubscribe(hub, ws, att, &channels),
        ClientFrame::Presence { channel } => presence::presence(hub, ws, att, &channel),
        ClientFrame::Auth { token } => auth::auth(hub, ws, att, &token).await,
    }
}
