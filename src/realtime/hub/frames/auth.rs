//! `{"op":"auth","token":…}`: a fresh token for the same caller on an open socket. The hub
//! verifies it as the Worker does, takes its expiry, keeps every subscription and re-arms
//! the expiry warning, with no answer (the contract lists no success frame, and a client
//! reading events must not meet a new one); a token that does not verify, or that names
//! another tenant, user or role, closes the socket with 1008.

use super::super::sockets::{self, Attachment, Refusal};
use super::super::tenant_hub_do::TenantHub;
use crate::realtime::protocol::{self, close, FrameError};
use worker::WebSocket;

pub async fn auth(
    hub: &TenantHub,
    ws: &WebSocket,
    att: &mut Attachment,
    token: &str,
) -> Result<(), FrameError> {
    let now = super::super::now_ms();
    let verified = crate::platform::verify_token(token, &hub.env, now)
        .await
        .map_err(|e| FrameError::new("unauthorized", e.message()));
    let tenant = hub.tenant.borrow().clone();
    let who = verified.and_then(|p| protocol::reauthorize(&att.who, tenant.as_deref(), &p));
    let who = match who {
        Ok(w) => w,
        Err(e) => {
            sockets::refuse(ws, &Refusal::closing(e, close::POLICY, "token refused"));
            return Ok(());
        }
    };
    let before = std::mem::replace(&mut att.who, who);
    if let Err(e) = sockets::save(ws, att) {
        att.who = before;
        return Err(e);
    }
    hub.sockets_changed();
    hub.arm_token_alarm(att.who.exp).await;
    Ok(())
}
