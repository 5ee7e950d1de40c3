//! Per-request observability: the request id, what one request did (D1 calls, the
//! verified caller) counted on its own future, and its one JSON log line. Never logs a
//! token, a query string or a raw path: only the route pattern.

use crate::store;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use worker::{Headers, Response};

/// What one request did, filled in while its future runs.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Scope {
    pub d1_calls: u32,
    pub tenant: Option<String>,
    pub user: Option<String>,
}

thread_local! {
    /// The scope of the request whose future is being polled (the isolate runs many
    /// requests interleaved, one poll at a time).
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// Records the verified caller of the current request.
pub fn note_caller(tenant: &str, user: &str) {
    CURRENT.with(|c| {
        if let Some(s) = c.borrow_mut().as_mut() {
            s.tenant = Some(tenant.to_string());
            s.user = Some(user.to_string());
        }
    });
}

/// Runs a request's future with its own `Scope` installed during each poll, so counters
/// from other requests interleaved on the isolate never mix in.
pub struct Scoped<F> {
    fut: Pin<Box<F>>,
    scope: Option<Scope>,
    d1_calls: u32,
}

impl<F: Future> Scoped<F> {
    pub fn new(fut: F) -> Self {
        Scoped {
            fut: Box::pin(fut),
            scope: Some(Scope::default()),
            d1_calls: 0,
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = (F::Output, Scope);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let outer = CURRENT.with(|c| c.replace(this.scope.take()));
        let outer_d1 = store::swap_d1_calls(this.d1_calls);
        let r = this.fut.as_mut().poll(cx);
        this.d1_calls = store::swap_d1_calls(outer_d1);
        this.scope = CURRENT.with(|c| c.replace(outer));
        match r {
            Poll::Ready(out) => {
                let mut scope = this.scope.take().unwrap_or_default();
                scope.d1_calls = this.d1_calls;
                Poll::Ready((out, scope))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// An incoming `X-Request-Id` is kept when it is 1-64 characters of `[A-Za-z0-9._-]`.
pub fn valid_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The request's id: a valid incoming one, else a fresh random one.
pub fn request_id(incoming: Option<&str>) -> String {
    match incoming.map(str::trim) {
        Some(id) if valid_request_id(id) => id.to_string(),
        _ => crate::platform::random_hex(),
    }
}

/// The one log line of a request (JSON).
pub fn line(
    request_id: &str,
    method: &str,
    route: Option<&str>,
    status: u16,
    duration_ms: i64,
    scope: &Scope,
) -> String {
    serde_json::json!({
        "request_id": request_id,
        "tenant": scope.tenant,
        "user": scope.user,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "d1_calls": scope.d1_calls,
    })
    .to_string()
}

/// Lines written by one console call at most, when lines are grouped.
const GROUP_MAX: usize = 32;
/// How long a grouped line may wait for others before it is written.
const GROUP_WAIT_MS: u64 = 100;

thread_local! {
    /// Grouped lines not written yet.
    static PENDING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Writes a request's log line; runs after the answer has gone (`wait_until`).
///
/// In production each line is its own console call: Workers Logs reads each call's JSON
/// as one record, and a call costs microseconds. Under `wrangler dev` (`grouped`) each
/// console call costs the isolate ~1.5 ms (the local runtime forwards every call to the
/// dev tools), a third of a small read's time, so lines are written in groups of up to
/// `GROUP_MAX`, each still on its own line, at most `GROUP_WAIT_MS` late.
pub async fn write_line(line: String, grouped: bool) {
    if !grouped {
        worker::console_log!("{line}");
        return;
    }
    let (first, full) = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.push(line);
        (p.len() == 1, p.len() >= GROUP_MAX)
    });
    if full {
        flush_lines();
    } else if first {
        worker::Delay::from(std::time::Duration::from_millis(GROUP_WAIT_MS)).await;
        flush_lines();
    }
}

fn flush_lines() {
    let lines = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if !lines.is_empty() {
        worker::console_log!("{}", lines.join("\n"));
    }
}

/// Sets a header on a fresh header set (responses from a Durable Object, a WebSocket
/// upgrade included, have immutable headers).
pub fn with_header(resp: Response, name: &str, value: &str) -> Response {
    let h = Headers::new();
    for (k, v) in resp.headers().entries() {
        let _ = h.append(&k, &v);
    }
    let _ = h.set(name, value);
    resp.with_headers(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids() {
        assert!(valid_request_id("abc-123_X.y"));
        assert!(valid_request_id(&"a".repeat(64)));
        assert!(!valid_request_id(&"a".repeat(65)));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id("a\"b"));
        assert!(!valid_request_id("é"));
        assert_eq!(request_id(Some("ok-1")), "ok-1");
    }

    #[test]
    fn the_line_is_json_with_every_field() {
        let s = Scope {
            d1_calls: 3,
            tenant: Some("t1".into()),
            user: None,
        };
        let v: serde_json::Value =
            serde_json::from_str(&line("r1", "GET", Some("/api/x/:id"), 200, 5, &s)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"request_id": "r1", "tenant": "t1", "user": null,
                "method": "GET", "route": "/api/x/:id", "status": 200, "duration_ms": 5,
                "d1_calls": 3})
        );
    }

    #[test]
    fn scopes_do_not_mix() {
        use std::task::{RawWaker, RawWakerVTable, Waker};
        fn noop(_: *const ()) {}
        fn clone(p: *const ()) -> RawWaker {
            RawWaker::new(p, &VTABLE)
        }
        static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, noop, noop, noop);
        let waker = unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) };
        let mut cx = Context::from_waker(&waker);
        // Two requests, each yielding once between D1 calls, polled alternately.
        fn req(tenant: &'static str, calls: u32) -> Scoped<impl Future<Output = ()>> {
            Scoped::new(async move {
                note_caller(tenant, "u");
                for _ in 0..calls {
                    store::count_d1_call();
                    YieldOnce(false).await;
                }
            })
        }
        struct YieldOnce(bool);
        impl Future for YieldOnce {
            type Output = ();
            fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                if self.0 {
                    Poll::Ready(())
                } else {
                    self.0 = true;
                    Poll::Pending
                }
            }
        }
        let mut a = req("ta", 2);
        let mut b = req("tb", 5);
        let (mut ra, mut rb) = (None, None);
        while ra.is_none() || rb.is_none() {
            if ra.is_none() {
                if let Poll::Ready(r) = Pin::new(&mut a).poll(&mut cx) {
                    ra = Some(r.1);
                }
            }
            if rb.is_none() {
                if let Poll::Ready(r) = Pin::new(&mut b).poll(&mut cx) {
                    rb = Some(r.1);
                }
            }
            // Work outside any request counts nowhere.
            store::count_d1_call();
        }
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!((ra.d1_calls, ra.tenant.as_deref()), (2, Some("ta")));
        assert_eq!((rb.d1_calls, rb.tenant.as_deref()), (5, Some("tb")));
    }
}
