//! The bench's choices on top of the test kit's clients: tokens valid for a whole run, and
//! WebSockets to any system (Pulse or a peer) with a 500 ms read timeout.

use std::time::Duration;

pub type Socket = pulse_testkit::Ws;

/// An HS256 token with Pulse's claims (`sub`, `tid`, `role`), valid for two hours.
pub fn token(secret: &str, tenant: &str, user: &str, role: &str) -> String {
    pulse_testkit::token::hs256(secret, tenant, user, role, 7200)
}

/// Opens a WebSocket (`ws://host:port/path`), optionally with a bearer token.
pub fn ws(url: &str, bearer: Option<&str>) -> Result<Socket, String> {
    let sock = Socket::open(url, bearer)?;
    sock.set_read_timeout(Duration::from_millis(500));
    Ok(sock)
}
