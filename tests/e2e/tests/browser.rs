//! A real browser (headless Chromium): `EventSource` with `?token=` receives an event
//! caused by a cross-origin `fetch` from the same page (CORS preflight included).

use crate::fixtures::fresh_tenant;
use crate::Ctx;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium() -> Option<String> {
    if let Ok(p) = std::env::var("PULSE_CHROMIUM") {
        return std::path::Path::new(&p).exists().then_some(p);
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .find(|p| std::path::Path::new(p).exists())
    .map(|p| p.to_string())
}

const PAGE: &str = r#"<!doctype html><html><head><title>pulse</title></head><body><pre id="out">waiting</pre>
<script>
const API = "__API__", TOKEN = "__TOKEN__";
const report = (text) => fetch("/result?" + encodeURIComponent(text));
const es = new EventSource(API + "/api/realtime/stream?channels=tenant&token=" + encodeURIComponent(TOKEN));
es.addEventListener("subscribed", () => {
  fetch(API + "/api/crm/customers", {method: "POST",
    headers: {"authorization": "Bearer " + TOKEN, "content-type": "application/json"},
    body: JSON.stringify({name: "From the browser"})})
  .then(r => { if (r.status !== 201) report("post status " + r.status); })
  .catch(e => report("fetch failed: " + e));
});
es.onmessage = (m) => {
  const e = JSON.parse(m.data);
  es.close();
  report(["EVENT", m.lastEventId, e.seq, e.type, e.data.name].join("|"));
};
es.onerror = () => report("eventsource error");
</script></body></html>"#;

/// Percent-decoding of the page's report (ASCII is enough here).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn eventsource_in_a_real_browser(cx: &mut Ctx) {
    // A missing browser is a failure, never a silent pass.
    let chrome = chromium().expect(
        "no Chromium: scripts/bootstrap.sh installs Debian's `chromium`, or set PULSE_CHROMIUM",
    );
    let t = fresh_tenant("browser");
    let tok = cx.token(&t, "web", "broker");
    let page = PAGE
        .replace("__API__", &cx.server.base)
        .replace("__TOKEN__", &tok);
    let listener = TcpListener::bind(("127.0.0.1", cx.server.page_port)).expect("page port");
    listener.set_nonblocking(true).expect("nonblocking");
    let profile = cx.server.persist.join("chromium-profile");
    let mut browser = Command::new(&chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!(
            "http://127.0.0.1:{}/page.html",
            cx.server.page_port
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run chromium");
    // Serve the page, then wait for the page's report (GET /result?...).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut result = None;
    while result.is_none() && Instant::now() < deadline {
        let Ok((mut s, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        s.set_nonblocking(false).ok();
        s.set_read_timeout(Some(Duration::from_secs(2))).ok();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap_or(0);
        let req = String::from_utf8_lossy(&buf[..n]).to_string();
        let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
        let body = if path == "/page.html" {
            page.clone()
        } else {
            String::new()
        };
        let status = if path == "/page.html" || path.starts_with("/result") {
            "200 OK"
        } else {
            "404 Not Found"
        };
        let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        if let Some(q) = path.strip_prefix("/result?") {
            result = Some(decode(q));
        }
    }
    let _ = browser.kill();
    let _ = browser.wait();
    let report = result.expect("the page reported nothing within 30 s");
    let parts: Vec<&str> = report.split('|').collect();
    assert_eq!(parts.first(), Some(&"EVENT"), "page reported: {report}");
    assert_eq!(parts[1], parts[2], "lastEventId is the seq");
    assert_eq!(parts[3], "crm:customer:created");
    assert_eq!(parts[4], "From the browser");
}
