//! Fake outside providers (email, SMS, listing platforms) on loopback: a tiny HTTP server
//! that records every request and answers from a script per path and tenant (status
//! codes, or a hang to force a timeout), so tests can make a provider fail N times, time
//! out, or return 4xx/5xx without touching what other tests running meanwhile send.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake does with the next request to a path.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    Status(u16),
    /// Answer 200 only after this long (longer than the worker's provider timeout).
    Hang(Duration),
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    /// (path, body needle naming the tenant) → the next answers.
    scripts: HashMap<(String, String), VecDeque<Answer>>,
    seen: Vec<Recorded>,
}

#[derive(Clone)]
pub struct Fake {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl Fake {
    pub fn start() -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake provider");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || serve(conn, &s));
            }
        });
        Fake { base, state }
    }

    /// The next answers for `path` to requests on behalf of `tenant` (then 200s). Every
    /// outgoing message carries its tenant, so other tenants' requests are not consumed.
    pub fn script(&self, path: &str, tenant: &str, answers: &[Answer]) {
        let mut st = self.state.lock().unwrap();
        st.scripts.insert(
            (path.to_string(), tenant_needle(tenant)),
            answers.iter().copied().collect(),
        );
    }

    /// Requests seen on `path` whose body contains `needle`, oldest first.
    pub fn seen(&self, path: &str, needle: &str) -> Vec<Recorded> {
        let st = self.state.lock().unwrap();
        st.seen
            .iter()
            .filter(|r| r.path == path && r.body.contains(needle))
            .cloned()
            .collect()
    }

    /// Waits until `n` matching requests were seen (or panics after `timeout`).
    pub fn wait_seen(
        &self,
        path: &str,
        needle: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<Recorded> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.seen(path, needle);
            if s.len() >= n {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "fake {path}: saw {} of {n} requests with {needle}",
                s.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// How a tenant appears in the JSON body Pulse sends to providers.
fn tenant_needle(tenant: &str) -> String {
    format!(r#""tenant_id":"{tenant}""#)
}

fn serve(conn: TcpStream, state: &Arc<Mutex<State>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body).to_string();
    let answer = {
        let mut st = state.lock().unwrap();
        let answer = st
            .scripts
            .iter_mut()
            .find(|((p, needle), _)| *p == path && body.contains(needle.as_str()))
            .and_then(|(_, answers)| answers.pop_front())
            .unwrap_or(Answer::Status(200));
        st.seen.push(Recorded {
            path,
            headers,
            body,
            at: Instant::now(),
        });
        answer
    };
    let status = match answer {
        Answer::Status(s) => s,
        Answer::Hang(d) => {
            std::thread::sleep(d);
            200
        }
    };
    let n = state.lock().unwrap().seen.len();
    let reply = if status == 200 {
        format!(r#"{{"id":"ext-{n}","url":"https://platform.example/l/{n}"}}"#)
    } else {
        format!(r#"{{"error":"scripted {status}"}}"#)
    };
    let mut out = conn;
    let _ = write!(
        out,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = out.flush();
}
