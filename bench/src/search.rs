//! Customer search at scale: 100k customers of one tenant (plus 20k of other tenants, so
//! the shared search index is not one tenant's alone) are written into the local D1 before
//! Pulse starts, as SQL through `wrangler d1 execute` (the same path the e2e seed takes;
//! the search index is filled by its triggers, as for any insert), then
//! `GET /api/crm/customers?q=` is timed through the Worker with a mix of queries shaped like
//! real ones. Run with `make bench QUICK=1 ONLY=search`.

use crate::systems::System;
use hdrhistogram::Histogram;
use pulse_testkit::Api;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

pub const TENANT: &str = "search-bench";
const OWNER: &str = "b1";

const FIRST: &[&str] = &[
    "maria",
    "jose",
    "antonio",
    "carmen",
    "juan",
    "ana",
    "francisco",
    "isabel",
    "david",
    "laura",
    "javier",
    "marta",
    "daniel",
    "lucia",
    "carlos",
    "paula",
    "miguel",
    "sara",
    "alejandro",
    "elena",
    "pablo",
    "cristina",
    "manuel",
    "raquel",
    "sergio",
    "nuria",
    "jorge",
    "silvia",
    "alberto",
    "patricia",
    "luis",
    "beatriz",
    "fernando",
    "rosa",
    "diego",
    "andrea",
    "adrian",
    "irene",
    "alvaro",
    "clara",
    "ruben",
    "julia",
    "ivan",
    "eva",
    "oscar",
    "alba",
    "hugo",
    "noelia",
    "mario",
    "lorena",
    "victor",
    "natalia",
];
const LAST: &[&str] = &[
    "garcia",
    "rodriguez",
    "gonzalez",
    "fernandez",
    "lopez",
    "martinez",
    "sanchez",
    "perez",
    "gomez",
    "martin",
    "jimenez",
    "ruiz",
    "hernandez",
    "diaz",
    "moreno",
    "munoz",
    "alvarez",
    "romero",
    "alonso",
    "gutierrez",
    "navarro",
    "torres",
    "dominguez",
    "vazquez",
    "ramos",
    "gil",
    "ramirez",
    "serrano",
    "blanco",
    "molina",
    "morales",
    "suarez",
    "ortega",
    "delgado",
    "castro",
    "ortiz",
    "rubio",
    "marin",
    "sanz",
    "nunez",
    "iglesias",
    "medina",
    "garrido",
    "cortes",
    "castillo",
    "santos",
    "lozano",
    "guerrero",
    "cano",
    "prieto",
    "mendez",
    "cruz",
    "calvo",
    "gallego",
    "vidal",
    "leon",
    "marquez",
    "herrera",
    "pena",
    "flores",
    "cabrera",
    "campos",
    "vega",
    "fuentes",
    "carrasco",
    "diez",
    "caballero",
    "reyes",
    "nieto",
    "aguilar",
    "pascual",
    "santana",
    "herrero",
    "lorenzo",
    "montero",
    "hidalgo",
    "gimenez",
    "ibanez",
    "ferrer",
    "duran",
    "santiago",
    "benitez",
    "mora",
    "vicente",
    "vargas",
    "arias",
    "carmona",
    "crespo",
    "roman",
    "pastor",
    "soto",
    "saez",
    "velasco",
    "moya",
    "soler",
    "parra",
    "esteban",
    "bravo",
    "gallardo",
    "rojas",
];
const DOMAINS: &[&str] = &[
    "gmail.com",
    "gmail.com",
    "gmail.com",
    "hotmail.com",
    "hotmail.com",
    "yahoo.es",
    "outlook.com",
    "telefonica.net",
    "icloud.com",
];

/// A small deterministic generator (xorshift64*), so every run loads the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[self.below(v.len())]
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
}

struct Row {
    tenant: String,
    id: String,
    name: String,
    email: Option<String>,
    phone: Option<String>,
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn rows(n: usize, others: usize) -> Vec<Row> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t0: u64 = 1_780_000_000_000;
    (0..n + others)
        .map(|k| {
            let (f, l) = (rng.pick(FIRST), rng.pick(LAST));
            let mut name = format!("{} {}", capital(f), capital(l));
            if rng.chance(50) {
                name = format!("{name} {}", capital(rng.pick(LAST)));
            }
            let email = rng
                .chance(80)
                .then(|| format!("{f}.{l}{}@{}", rng.below(999) + 1, rng.pick(DOMAINS)));
            let phone = rng.chance(80).then(|| {
                format!(
                    "+34 6{:02} {:03} {:03}",
                    rng.below(100),
                    rng.below(1000),
                    rng.below(1000)
                )
            });
            // Other tenants' rows interleave with the bench tenant's.
            let tenant = if k % 6 == 5 && k / 6 < others {
                format!("search-other-{}", k % 50)
            } else {
                TENANT.to_string()
            };
            Row {
                tenant,
                id: format!("c_{:012x}{:016x}", t0 + k as u64, rng.next()),
                name,
                email,
                phone,
            }
        })
        .collect()
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map(sql_text).unwrap_or_else(|| "NULL".into())
}

/// The rows as SQL, 200 per INSERT (D1 takes statements up to 100 KB).
fn write_sql(rows: &[Row], path: &Path) {
    let mut out = String::with_capacity(rows.len() * 200);
    for chunk in rows.chunks(200) {
        out.push_str(
            "INSERT INTO customers (tenant_id, id, name, email, phone, status, source, \
             assigned_to, created_by, created_at, updated_at) VALUES\n",
        );
        for (k, r) in chunk.iter().enumerate() {
            let _ = write!(
                out,
                "{}({}, {}, {}, {}, {}, 'lead', 'bench', '{OWNER}', '{OWNER}', \
                 '2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z')",
                if k == 0 { "" } else { ",\n" },
                sql_text(&r.tenant),
                sql_text(&r.id),
                sql_text(&r.name),
                opt(&r.email),
                opt(&r.phone),
            );
        }
        out.push_str(";\n");
    }
    std::fs::write(path, out).expect("write the seed SQL");
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The query mix: (kind, q, a customer it must find when known).
fn queries(rows: &[Row], n: usize) -> Vec<(&'static str, String, Option<String>)> {
    let mine: Vec<&Row> = rows.iter().filter(|r| r.tenant == TENANT).collect();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    (0..n)
        .map(|_| {
            let c = mine[rng.below(mine.len())];
            let roll = rng.below(100);
            if roll < 25 {
                ("surname", rng.pick(LAST).to_string(), None)
            } else if roll < 50 {
                let f = rng.pick(FIRST);
                let len = 3 + rng.below(f.len() - 2);
                ("first-name prefix", f[..len.min(f.len())].to_string(), None)
            } else if roll < 70 {
                let parts: Vec<&str> = c.name.split(' ').collect();
                let last = &parts[1][..parts[1].len().min(4)];
                (
                    "first and last",
                    format!("{} {last}", parts[0]),
                    Some(c.id.clone()),
                )
            } else if roll < 85 {
                match &c.phone {
                    Some(p) => {
                        let d = digits(p);
                        let at = 2 + rng.below(d.len() - 8);
                        (
                            "phone digits",
                            d[at..at + 6].to_string(),
                            Some(c.id.clone()),
                        )
                    }
                    None => ("surname", rng.pick(LAST).to_string(), None),
                }
            } else if roll < 95 {
                match &c.email {
                    Some(e) => {
                        let local = e.split('@').next().unwrap_or("");
                        let len = (6 + rng.below(7)).min(local.len());
                        ("email prefix", local[..len].to_string(), None)
                    }
                    None => ("surname", rng.pick(LAST).to_string(), None),
                }
            } else {
                ("no match", "zzqx".to_string(), None)
            }
        })
        .collect()
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Loads the data, starts Pulse on it, and times the queries (`n` sequentially, then `n`
/// over 4 clients).
pub fn run(secret: &str, quick: bool) -> Result<Value, String> {
    let (n_rows, others) = (100_000, 20_000);
    let all = rows(n_rows, others);
    let dir = crate::systems::root().join("bench/target/state");
    let _ = std::fs::create_dir_all(&dir);
    let sql = dir.join("search-seed.sql");
    write_sql(&all, &sql);
    let t = Instant::now();
    let pulse = System::pulse_seeded(secret, &sql);
    let load_s = t.elapsed().as_secs_f64() - pulse.ready_after.as_secs_f64();
    let api = Api::new(&pulse.base);
    let tok = crate::client::token(secret, TENANT, OWNER, "broker");
    let tenant_rows = all.iter().filter(|r| r.tenant == TENANT).count();
    eprintln!(
        "search: {tenant_rows} customers of {TENANT} and {} of other tenants loaded in {load_s:.1} s",
        all.len() - tenant_rows
    );
    // Correctness on the loaded data: a found customer is the right one, others stay out.
    let n = if quick { 300 } else { 1000 };
    let qs = queries(&all, n);
    let mut checked = 0;
    for (kind, q, want) in qs.iter().take(60) {
        let r = api.get(
            &format!("/api/crm/customers?q={}&limit=100", url_encode(q)),
            &tok,
        );
        if r.status != 200 {
            return Err(format!("q={q}: {} {}", r.status, r.body));
        }
        let data = r.body["data"].as_array().cloned().unwrap_or_default();
        if let Some(id) = want {
            if *kind == "phone digits" && !data.iter().any(|c| c["id"] == id.as_str()) {
                // The page holds the newest 100 matches: a common run may push it out.
                if data.len() < 100 {
                    return Err(format!("q={q} did not find {id}"));
                }
            }
        }
        if *kind == "no match" && !data.is_empty() {
            return Err(format!("q={q} found {}", data.len()));
        }
        checked += 1;
    }
    // Warm-up, then one client.
    for (_, q, _) in qs.iter().take(20) {
        api.status(
            "GET",
            &format!("/api/crm/customers?q={}", url_encode(q)),
            Some(&tok),
            None,
        );
    }
    let mut all_h = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let mut by_kind: std::collections::BTreeMap<&str, Histogram<u64>> = Default::default();
    let mut errors = 0;
    for (kind, q, _) in &qs {
        let t = Instant::now();
        let s = api.status(
            "GET",
            &format!("/api/crm/customers?q={}", url_encode(q)),
            Some(&tok),
            None,
        );
        let us = t.elapsed().as_micros() as u64;
        if s != 200 {
            errors += 1;
        }
        all_h.record(us).ok();
        by_kind
            .entry(kind)
            .or_insert_with(|| Histogram::new(3).expect("histogram"))
            .record(us)
            .ok();
    }
    // Broad queries (most of the tenant matches), each 20 times: the walk stops at the
    // page's end instead of sorting every match.
    let mut broad = serde_json::Map::new();
    for q in ["a", "m", "gmail", "346", "maria"] {
        let mut h = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
        for _ in 0..20 {
            let t = Instant::now();
            api.status(
                "GET",
                &format!("/api/crm/customers?q={q}"),
                Some(&tok),
                None,
            );
            h.record(t.elapsed().as_micros() as u64).ok();
        }
        broad.insert(
            q.into(),
            json!({"p50_ms": ms(&h, 0.5), "max_ms": h.max() as f64 / 1000.0}),
        );
    }
    eprintln!("search: broad queries {}", Value::Object(broad.clone()));
    // The plain list (no q) and a filter, for scale.
    let mut plain = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for _ in 0..100 {
        let t = Instant::now();
        api.status("GET", "/api/crm/customers?mine=1", Some(&tok), None);
        plain.record(t.elapsed().as_micros() as u64).ok();
    }
    // Four clients at once.
    let conc = 4;
    let hists: Vec<Histogram<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..conc)
            .map(|c| {
                let (base, tok, qs) = (pulse.base.clone(), tok.clone(), &qs);
                s.spawn(move || {
                    let api = Api::new(&base);
                    let mut h = Histogram::<u64>::new(3).expect("histogram");
                    for (_, q, _) in qs.iter().skip(c).step_by(conc) {
                        let t = Instant::now();
                        api.status(
                            "GET",
                            &format!("/api/crm/customers?q={}", url_encode(q)),
                            Some(&tok),
                            None,
                        );
                        h.record(t.elapsed().as_micros() as u64).ok();
                    }
                    h
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client"))
            .collect()
    });
    let mut c4 = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    for h in &hists {
        c4.add(h).ok();
    }
    let kinds: serde_json::Map<String, Value> = by_kind
        .iter()
        .map(|(k, h)| {
            (
                k.to_string(),
                json!({"n": h.len(), "p50_ms": ms(h, 0.5), "p99_ms": ms(h, 0.99), "max_ms": h.max() as f64 / 1000.0}),
            )
        })
        .collect();
    let out = json!({
        "customers": tenant_rows,
        "other_tenants_customers": all.len() - tenant_rows,
        "load_seconds": load_s,
        "checked_queries": checked,
        "queries": n,
        "errors": errors,
        "c1": {"p50_ms": ms(&all_h, 0.5), "p90_ms": ms(&all_h, 0.9), "p99_ms": ms(&all_h, 0.99), "max_ms": all_h.max() as f64 / 1000.0},
        "c4": {"p50_ms": ms(&c4, 0.5), "p99_ms": ms(&c4, 0.99), "max_ms": c4.max() as f64 / 1000.0},
        "by_kind": kinds,
        "broad": broad,
        "list_mine_no_q": {"p50_ms": ms(&plain, 0.5), "p99_ms": ms(&plain, 0.99)},
        "target_p99_ms": 50,
    });
    eprintln!(
        "search: {n} queries c=1 p50 {:.1} ms p90 {:.1} ms p99 {:.1} ms max {:.1} ms; c=4 p50 {:.1} ms p99 {:.1} ms; errors {errors}; plain list p50 {:.1} ms p99 {:.1} ms",
        ms(&all_h, 0.5), ms(&all_h, 0.9), ms(&all_h, 0.99), all_h.max() as f64 / 1000.0,
        ms(&c4, 0.5), ms(&c4, 0.99), ms(&plain, 0.5), ms(&plain, 0.99)
    );
    for (k, v) in &kinds {
        eprintln!("search:   {k}: {v}");
    }
    drop(pulse);
    Ok(out)
}
