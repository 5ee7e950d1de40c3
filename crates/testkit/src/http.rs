//! The HTTP client: JSON requests with a bearer token, answers read as status, headers
//! and a JSON body (transport errors panic), and a status-only call for load generation.

use serde_json::Value;
use std::time::Duration;

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct Api {
    pub base: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .build(),
        }
    }

    /// A JSON POST/PUT with extra headers.
    pub fn raw_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        self.send(
            method,
            path,
            Some(token),
            Some("application/json"),
            Some(body),
            headers,
        )
    }

    /// A request with only these headers (no token, no body).
    pub fn raw_with_headers(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        self.send(method, path, None, None, None, headers)
    }

    /// Any request: `token` None = no Authorization header; body sent as-is with `ctype`.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: Option<&str>,
        body: Option<&str>,
    ) -> Resp {
        self.send(method, path, token, ctype, body, &[])
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        ctype: Option<&str>,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .agent
            .request(method, &format!("{}{}", self.base, path));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        if let Some(t) = token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        if let Some(c) = ctype {
            req = req.set("content-type", c);
        }
        let result = match body {
            Some(b) => req.send_string(b),
            None => req.call(),
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{method} {path}: transport error {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let text = resp.into_string().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        // A page of the tenant's history: each event matches the event catalog.
        if method == "GET" && status == 200 && path.starts_with("/api/realtime/events") {
            for event in body["data"].as_array().into_iter().flatten() {
                crate::catalog::check(event, false);
            }
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Only the status of a request (a JSON body when given; the answer is read and
    /// dropped); a transport error is status 0 instead of a panic, for load generation.
    pub fn status(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> u16 {
        let mut req = self
            .agent
            .request(method, &format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => req.set("content-type", "application/json").send_string(b),
            None => req.call(),
        };
        match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                let status = r.status();
                let _ = r.into_string();
                status
            }
            Err(_) => 0,
        }
    }

    /// A JSON POST without a token, with extra headers (login, refresh, logout).
    pub fn post_public(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        self.send(
            "POST",
            path,
            None,
            Some("application/json"),
            Some(&body.to_string()),
            headers,
        )
    }
    pub fn get(&self, path: &str, token: &str) -> Resp {
        self.raw("GET", path, Some(token), None, None)
    }
    pub fn post(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.raw(
            "POST",
            path,
            Some(token),
            Some("application/json"),
            Some(&body.to_string()),
        )
    }
    pub fn put(&self, path: &str, token: &str, body: &Value) -> Resp {
        self.raw(
            "PUT",
            path,
            Some(token),
            Some("application/json"),
            Some(&body.to_string()),
        )
    }
    pub fn delete(&self, path: &str, token: &str) -> Resp {
        self.raw("DELETE", path, Some(token), None, None)
    }
}
