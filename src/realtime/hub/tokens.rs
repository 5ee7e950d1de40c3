//! Token expiry on open sockets: the alarm warns each socket about a minute before its
//! token expires (`token_expiring`), closes it with 4001 once it has, and re-arms itself
//! for the next due socket. The rule per socket is `sockets::token_duty` (pure).

use super::now_ms;
use super::sockets::{self, token_duty, token_expired_error, Refusal, TokenDuty};
use super::tenant_hub_do::TenantHub;
use crate::realtime::protocol::{self, close, ServerFrame};

impl TenantHub {
    /// Arms the alarm for a socket whose token expires at `exp` (epoch seconds; 0: never).
    pub(super) async fn arm_token_alarm(&self, exp: i64) {
        if exp > 0 {
            let warn_at = exp * 1000 - protocol::TOKEN_WARNING_MS;
            self.alarm_at(warn_at.max(now_ms() + 1)).await;
        }
    }

    /// Warns and closes the sockets that are due, then re-arms for the earliest next one.
    pub(super) async fn token_alarm(&self) {
        let now = now_ms();
        let mut next: Option<i64> = None;
        let mut changed = false;
        for (ws, att) in self.live_sockets().iter() {
            match token_duty(att.who.exp, att.warned, now) {
                TokenDuty::Wait(at) => next = earliest(next, at),
                TokenDuty::Warn { at } => {
                    let mut a = att.clone();
                    a.warned = a.who.exp;
                    if sockets::save(ws, &a).is_ok() {
                        sockets::send_frame(
                            ws,
                            a.sio != 0,
                            &ServerFrame::TokenExpiring { exp: a.who.exp }.to_json(),
                        );
                        changed = true;
                    }
                    next = earliest(next, Some(at));
                }
                TokenDuty::Close => {
                    sockets::refuse_as(
                        ws,
                        att.sio != 0,
                        &Refusal::closing(
                            token_expired_error(),
                            close::TOKEN_EXPIRED,
                            "token expired",
                        ),
                    );
                    changed = true;
                }
            }
        }
        if changed {
            self.sockets_changed();
        }
        if let Some(at) = next {
            self.alarm_at(at.max(now + 1)).await;
        }
    }
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}
