//! The mixed scenario: dashboards on WebSockets (tenant, user and snapshot channels) while
//! brokers write customers, interactions and sales at steady rates, readers list customers
//! and an admin runs report jobs; REST latency per route kind, errors by status, and
//! publish → deliver latency matched by the created entity's id in each event's data.

use crate::client;
use crate::systems::System;
use hdrhistogram::Histogram;
use pulse_testkit::Api;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// What runs, how fast and for how long.
pub struct Plan {
    pub secs: f64,
    pub dashboards: usize,
    pub tenants: usize,
    pub customers_per_s: f64,
    pub interactions_per_s: f64,
    pub sales_per_s: f64,
    pub lists_per_s: f64,
    /// Pause between one report job's end and the next one's start.
    pub report_pause: Duration,
    /// How long dashboards keep reading after the last write.
    pub drain: Duration,
}

impl Plan {
    /// 60 s quick, 180 s full; `MIXED_SECS` overrides the length (for trying it out).
    pub fn new(quick: bool) -> Plan {
        let secs = std::env::var("MIXED_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(if quick { 60.0 } else { 180.0 });
        Plan {
            secs,
            dashboards: 200,
            tenants: 3,
            customers_per_s: 10.0,
            interactions_per_s: 10.0,
            sales_per_s: 2.0,
            lists_per_s: 10.0,
            report_pause: Duration::from_secs(2),
            drain: Duration::from_secs(5),
        }
    }
}

/// The events whose delivery is timed (each carries the created entity as `data`).
const TIMED: [&str; 3] = [
    "crm:customer:created",
    "crm:interaction:created",
    "finance:sale:created",
];

/// The REST route kinds, in report order.
const ROUTES: [&str; 6] = [
    "customer_create",
    "interaction_create",
    "sale_create",
    "customer_list",
    "report_create",
    "report_poll",
];

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Admin,
    Broker,
    Viewer,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Broker => "broker",
            Role::Viewer => "viewer",
        }
    }
}

/// One dashboard's identity: dashboard `i` is on tenant `i % tenants`; per tenant, one in
/// ten is an admin, four a broker, five a viewer.
#[derive(Clone)]
struct Seat {
    tenant: usize,
    user: String,
    role: Role,
}

fn seats(plan: &Plan) -> Vec<Seat> {
    (0..plan.dashboards)
        .map(|i| {
            let role = match (i / plan.tenants) % 10 {
                0 => Role::Admin,
                1..=4 => Role::Broker,
                _ => Role::Viewer,
            };
            Seat {
                tenant: i % plan.tenants,
                user: format!("{}-{i}", role.name()),
                role,
            }
        })
        .collect()
}

/// A request and its answer's status and JSON body; a transport error is status 0.
fn call(api: &Api, method: &str, path: &str, tok: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let r = catch_unwind(AssertUnwindSafe(|| {
        api.raw(
            method,
            path,
            Some(tok),
            body.as_ref().map(|_| "application/json"),
            body.as_deref(),
        )
    }));
    match r {
        Ok(r) => (r.status, r.body),
        Err(_) => (0, Value::Null),
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return f64::NAN;
    }
    h.value_at_quantile(q) as f64 / 1000.0
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let _ = h.record((d.as_micros() as u64).max(1));
}

/// REST latencies and statuses of one route kind, merged over threads.
struct RouteStats {
    hist: Histogram<u64>,
    statuses: BTreeMap<u16, u64>,
}

impl RouteStats {
    fn new() -> RouteStats {
        RouteStats {
            hist: Histogram::new(3).unwrap(),
            statuses: BTreeMap::new(),
        }
    }
    fn add(&mut self, took: Duration, status: u16) {
        record(&mut self.hist, took);
        *self.statuses.entry(status).or_default() += 1;
    }
}

type Stats = Arc<Mutex<HashMap<&'static str, RouteStats>>>;

fn note(stats: &Stats, route: &'static str, took: Duration, status: u16) {
    let mut s = stats.lock().unwrap();
    s.entry(route)
        .or_insert_with(RouteStats::new)
        .add(took, status);
}

/// A write whose event is awaited: when its request started, its tenant, and (sales) the
/// broker whose `user:` channel it names.
struct Sent {
    at: Instant,
    /// How long the write's own answer took.
    took: Duration,
    kind: usize,
    tenant: usize,
    broker: Option<String>,
}

/// What one dashboard saw after the start line.
#[derive(Default)]
struct Seen {
    /// (TIMED index, entity id, received at)
    timed: Vec<(usize, String, Instant)>,
    events_in_window: u64,
    events: u64,
    /// Snapshot frames by channel.
    snapshots: HashMap<String, u64>,
    by_type: HashMap<String, u64>,
    /// Frames this reader's role may not see (money for viewers, others' sales, …).
    leaks: Vec<String>,
    errors: Vec<String>,
    closed_early: bool,
}

/// Opens a dashboard and waits for `subscribed` and its three snapshots; returns the socket
/// and how long that took.
fn open_dashboard(
    ws_base: &str,
    secret: &str,
    tenant: &str,
    seat: &Seat,
) -> Result<(client::Socket, Duration), String> {
    let t = Instant::now();
    let tok = client::token(secret, tenant, &seat.user, seat.role.name());
    let mut s = client::ws(&format!("{ws_base}/api/realtime/ws"), Some(&tok))?;
    let frame = json!({"op": "subscribe", "channels": ["tenant", format!("user:{}", seat.user), "dashboard", "analytics", "notifications"]});
    s.try_send_text(&frame.to_string())?;
    let (mut subscribed, mut snaps) = (false, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && !(subscribed && snaps == 3) {
        if let Some(text) = s.try_read_text()? {
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            match v["op"].as_str() {
                Some("subscribed") => subscribed = true,
                Some("snapshot") => snaps += 1,
                Some("error") => return Err(format!("subscribe refused: {text}")),
                _ => {}
            }
        }
    }
    if !subscribed {
        return Err("no subscribed frame".into());
    }
    if snaps < 3 {
        return Err(format!("{snaps} of 3 snapshots"));
    }
    Ok((s, t.elapsed()))
}

/// A frame this seat's role may not read, as the read policy says (docs/realtime.md):
/// money for viewers, other brokers' sales, report records, others' jobs (report jobs are
/// admins' only), and dashboard updates with more figures than the role may read.
fn leak(seat: &Seat, kind: &str, data: &Value) -> bool {
    if seat.role == Role::Admin {
        return false;
    }
    let money = data.get("sales").is_some() || data.get("commissions").is_some();
    let own_sale = data["broker_id"].as_str() == Some(seat.user.as_str());
    let own_job = data["created_by"].as_str() == Some(seat.user.as_str());
    match kind {
        "reports:dashboard:updated" => {
            data.get("by_broker").is_some() || (seat.role == Role::Viewer && money)
        }
        k if k.starts_with("reports:") => true,
        k if k.starts_with("job:") => {
            let report = data["subject"]
                .as_str()
                .is_some_and(|s| s.starts_with("report:"));
            !own_job || report
        }
        k if k.starts_with("finance:") => seat.role == Role::Viewer || !own_sale,
        _ => false,
    }
}

/// Reads until `stop`; events are counted from `go` on, and in the window until `end`.
fn read_dashboard(
    mut s: client::Socket,
    seat: &Seat,
    go: &AtomicBool,
    stop: &AtomicBool,
    end: &Mutex<Option<Instant>>,
) -> Seen {
    let mut seen = Seen::default();
    let end = || *end.lock().unwrap();
    while !stop.load(Ordering::Relaxed) {
        let text = match s.try_read_text() {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                seen.closed_early = true;
                seen.errors.push(format!("socket: {e}"));
                break;
            }
        };
        let at = Instant::now();
        if !go.load(Ordering::Relaxed) {
            continue;
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match v["op"].as_str() {
            Some("event") => {
                let kind = v["type"].as_str().unwrap_or("?");
                seen.events += 1;
                if end().is_none_or(|e| at <= e) {
                    seen.events_in_window += 1;
                }
                *seen.by_type.entry(kind.to_string()).or_default() += 1;
                if leak(seat, kind, &v["data"]) && seen.leaks.len() < 5 {
                    seen.leaks.push(text.chars().take(300).collect());
                }
                if let Some(k) = TIMED.iter().position(|t| *t == kind) {
                    if let Some(id) = v["data"]["id"].as_str() {
                        seen.timed.push((k, id.to_string(), at));
                    }
                }
            }
            Some("snapshot") => {
                let channel = v["channel"].as_str().unwrap_or("?").to_string();
                *seen.snapshots.entry(channel).or_default() += 1;
            }
            Some("error") if seen.errors.len() < 5 => seen.errors.push(text),
            _ => {}
        }
    }
    s.close();
    seen
}

/// Per tenant: customers to attach interactions and sales to, properties for sales.
struct Fixtures {
    tenants: Vec<String>,
    customers: Vec<Mutex<Vec<String>>>,
    properties: Vec<Vec<String>>,
    brokers: Vec<Vec<String>>,
    readers: Vec<Vec<(String, Role)>>,
}

fn setup(sys: &System, plan: &Plan, seats: &[Seat], tag: &str) -> Result<Fixtures, String> {
    let api = Api::new(&sys.base);
    let mut fx = Fixtures {
        tenants: vec![],
        customers: vec![],
        properties: vec![],
        brokers: vec![],
        readers: vec![],
    };
    for k in 0..plan.tenants {
        let tenant = format!("mixed-{tag}-t{k}");
        let tok = client::token(&sys.secret, &tenant, "setup", "broker");
        let id = |(s, b): (u16, Value), what: &str| -> Result<String, String> {
            match b["id"].as_str() {
                Some(id) if s == 201 => Ok(id.to_string()),
                _ => Err(format!("setup {what}: {s} {b}")),
            }
        };
        let mut customers = vec![];
        for c in 0..10 {
            let body = json!({"name": format!("Setup customer {c}"), "email": format!("c{c}@example.com"), "phone": "+34 600 000 000"});
            customers.push(id(
                call(&api, "POST", "/api/crm/customers", &tok, Some(&body)),
                "customer",
            )?);
        }
        let owner = id(
            call(
                &api,
                "POST",
                "/api/owners",
                &tok,
                Some(&json!({"name": "Olga Owner", "phone": "+34 600 000 001"})),
            ),
            "owner",
        )?;
        let mut properties = vec![];
        for p in 0..3 {
            let body = json!({"owner_id": owner, "title": format!("Flat {p}"), "kind": "apartment", "price_minor": 20_000_000 + p, "currency": "EUR", "city": "Madrid", "bedrooms": 2});
            properties.push(id(
                call(&api, "POST", "/api/properties", &tok, Some(&body)),
                "property",
            )?);
        }
        let on = |k2: usize, roles: &[Role]| -> Vec<(String, Role)> {
            seats
                .iter()
                .filter(|s| s.tenant == k2 && roles.contains(&s.role))
                .map(|s| (s.user.clone(), s.role))
                .collect()
        };
        let brokers: Vec<String> = on(k, &[Role::Broker]).into_iter().map(|b| b.0).collect();
        if brokers.is_empty() {
            return Err(format!("tenant {k} has no broker dashboard"));
        }
        fx.tenants.push(tenant);
        fx.customers.push(Mutex::new(customers));
        fx.properties.push(properties);
        fx.brokers.push(brokers);
        fx.readers.push(on(k, &[Role::Broker, Role::Viewer]));
    }
    Ok(fx)
}

/// The paced request kinds.
#[derive(Clone, Copy)]
enum Op {
    Customer,
    Interaction,
    Sale,
    List,
}

impl Op {
    fn route(self) -> &'static str {
        match self {
            Op::Customer => "customer_create",
            Op::Interaction => "interaction_create",
            Op::Sale => "sale_create",
            Op::List => "customer_list",
        }
    }
}

/// What every load thread shares: the fixtures, the REST statistics and the writes sent.
struct Shared {
    fx: Fixtures,
    secret: String,
    base: String,
    stats: Stats,
    sent: Mutex<HashMap<String, Sent>>,
    late: AtomicU64,
}

/// Slot `slot` of `op`: tenant `slot % tenants`, users rotating within it; a created entity
/// is remembered (with its request's start) for matching its events.
fn one_request(sh: &Shared, api: &Api, op: Op, slot: u64, tokens: &mut HashMap<String, String>) {
    let tenants = sh.fx.tenants.len();
    let k = slot as usize % tenants;
    let n = slot as usize / tenants;
    let tenant = &sh.fx.tenants[k];
    let (user, role) = match op {
        Op::List => {
            let r = &sh.fx.readers[k][n % sh.fx.readers[k].len()];
            (r.0.clone(), r.1)
        }
        _ => {
            let b = &sh.fx.brokers[k];
            (b[n % b.len()].clone(), Role::Broker)
        }
    };
    let tok = tokens
        .entry(format!("{k}/{user}"))
        .or_insert_with(|| client::token(&sh.secret, tenant, &user, role.name()))
        .clone();
    let pick = |v: &[String]| v[(n * 7 + 3) % v.len()].clone();
    let (method, path, body, timed) = match op {
        Op::Customer => (
            "POST",
            "/api/crm/customers",
            Some(
                json!({"name": format!("Lead {slot}"), "email": format!("lead{slot}@example.com"), "phone": "+34 611 222 333", "source": "web"}),
            ),
            Some(0),
        ),
        Op::Interaction => {
            let c = pick(&sh.fx.customers[k].lock().unwrap());
            (
                "POST",
                "/api/crm/interactions",
                Some(
                    json!({"customer_id": c, "type": "call", "summary": format!("Follow-up call {slot}")}),
                ),
                Some(1),
            )
        }
        Op::Sale => {
            let c = pick(&sh.fx.customers[k].lock().unwrap());
            let p = pick(&sh.fx.properties[k]);
            (
                "POST",
                "/api/finance/sales",
                Some(
                    json!({"customer_id": c, "property_id": p, "total_minor": 25_000_000 + slot as i64, "currency": "EUR"}),
                ),
                Some(2),
            )
        }
        Op::List => ("GET", "/api/crm/customers?limit=50", None, None),
    };
    let at = Instant::now();
    let (status, answer) = call(api, method, path, &tok, body.as_ref());
    let took = at.elapsed();
    note(&sh.stats, op.route(), took, status);
    if let (Some(kind), 201, Some(id)) = (timed, status, answer["id"].as_str()) {
        if kind == 0 {
            sh.fx.customers[k].lock().unwrap().push(id.to_string());
        }
        let broker = (kind == 2).then(|| user.clone());
        sh.sent.lock().unwrap().insert(
            id.to_string(),
            Sent {
                at,
                took,
                kind,
                tenant: k,
                broker,
            },
        );
    }
}

/// One steadily paced request stream: slot `n` starts at `start + n / rate`, taken by
/// whichever of its threads is free; a slot started more than 250 ms late is counted.
fn stream(
    sh: Arc<Shared>,
    op: Op,
    rate: f64,
    start: Instant,
    secs: f64,
) -> Vec<std::thread::JoinHandle<()>> {
    let threads = ((rate * 0.5).ceil() as usize).max(2);
    let next = Arc::new(AtomicU64::new(0));
    (0..threads)
        .map(|_| {
            let (sh, next) = (sh.clone(), next.clone());
            std::thread::spawn(move || {
                let api = Api::new(&sh.base);
                let mut tokens = HashMap::new();
                loop {
                    let slot = next.fetch_add(1, Ordering::Relaxed);
                    let offset = slot as f64 / rate;
                    if offset >= secs {
                        return;
                    }
                    let due = start + Duration::from_secs_f64(offset);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    } else if now - due > Duration::from_millis(250) {
                        sh.late.fetch_add(1, Ordering::Relaxed);
                    }
                    one_request(&sh, &api, op, slot, &mut tokens);
                }
            })
        })
        .collect()
}

/// Report jobs back to back (a short pause between them), rotating tenants and kinds, each
/// polled every 500 ms until ready or failed; returns each job's POST → ready time (None:
/// failed or not ready within 60 s).
fn reports(sh: Arc<Shared>, until: Instant, pause: Duration) -> Vec<Option<Duration>> {
    let api = Api::new(&sh.base);
    let kinds = ["sales_summary", "commissions_by_broker", "pipeline"];
    let mut out = vec![];
    let mut n = 0;
    while Instant::now() < until {
        let k = n % sh.fx.tenants.len();
        let tok = client::token(&sh.secret, &sh.fx.tenants[k], "reporter", "admin");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let body = json!({"kind": kinds[n % kinds.len()], "format": "json", "from": rfc3339(now - 3600), "to": rfc3339(now + 3600)});
        n += 1;
        let t = Instant::now();
        let (status, answer) = call(&api, "POST", "/api/reports", &tok, Some(&body));
        note(&sh.stats, "report_create", t.elapsed(), status);
        let Some(id) = answer["id"].as_str().filter(|_| status == 202) else {
            std::thread::sleep(pause);
            continue;
        };
        let path = format!("/api/reports/{id}");
        let deadline = t + Duration::from_secs(60);
        let mut done = None;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(500));
            let p = Instant::now();
            let (s, r) = call(&api, "GET", &path, &tok, None);
            note(&sh.stats, "report_poll", p.elapsed(), s);
            match r["status"].as_str() {
                Some("ready") => {
                    done = Some(t.elapsed());
                    break;
                }
                Some("failed") => break,
                _ => {}
            }
        }
        out.push(done);
        std::thread::sleep(pause);
    }
    out
}

/// Machine CPU time (all cores: busy and total) and this process's own, in clock ticks.
struct Cpu {
    busy: u64,
    total: u64,
    own: u64,
}

fn cpu_now() -> Cpu {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3).copied().unwrap_or(0) + f.get(4).copied().unwrap_or(0);
    let me = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = me.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let own = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse::<u64>().ok())
        .sum();
    Cpu {
        busy: total - idle,
        total,
        own,
    }
}

impl Cpu {
    /// Over the time since `start`: the machine's busy share of all cores, and the cores
    /// this load generator used itself.
    fn since(&self, start: &Cpu, secs: f64) -> Value {
        let total = (self.total - start.total).max(1) as f64;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        json!({
            "machine_busy": (self.busy - start.busy) as f64 / total,
            "load_generator_cores": (self.own - start.own) as f64 / 100.0 / secs.max(1e-6),
            "cores": cores,
        })
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn latency(h: &Histogram<u64>) -> Value {
    json!({"count": h.len(), "p50_ms": ms(h, 0.5), "p99_ms": ms(h, 0.99), "max_ms": if h.is_empty() { f64::NAN } else { h.max() as f64 / 1000.0 }})
}

/// Runs the scenario once on `sys` (Pulse) and returns its numbers as JSON.
pub fn run(sys: &System, plan: &Plan) -> Result<Value, String> {
    let tag = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            % 100_000
    );
    let seats = seats(plan);
    let fx = setup(sys, plan, &seats, &tag)?;
    let rss_before = sys.workerd_rss_kib();

    // Dashboards, connected in waves, each reading on its own thread.
    let ready = Arc::new(Barrier::new(plan.dashboards + 1));
    let go = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let end: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = mpsc::channel::<(usize, Result<Duration, String>, Seen)>();
    let connect_t = Instant::now();
    let mut handles = vec![];
    for (i, seat) in seats.iter().enumerate() {
        if i % 50 == 0 && i > 0 {
            std::thread::sleep(Duration::from_millis(30));
        }
        let (ready, go, stop, end, tx, seat) = (
            ready.clone(),
            go.clone(),
            stop.clone(),
            end.clone(),
            tx.clone(),
            seat.clone(),
        );
        let (ws_base, secret, tenant) = (
            sys.ws_base(),
            sys.secret.clone(),
            fx.tenants[seat.tenant].clone(),
        );
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let opened = open_dashboard(&ws_base, &secret, &tenant, &seat);
                ready.wait();
                match opened {
                    Ok((s, took)) => {
                        let seen = read_dashboard(s, &seat, &go, &stop, &end);
                        let _ = tx.send((i, Ok(took), seen));
                    }
                    Err(e) => {
                        let _ = tx.send((i, Err(e), Seen::default()));
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        handles.push(h);
    }
    drop(tx);
    ready.wait();
    let connect_s = connect_t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(500));
    go.store(true, Ordering::Relaxed);

    // Writers, readers and the report job, for `secs`.
    let sh = Arc::new(Shared {
        fx,
        secret: sys.secret.clone(),
        base: sys.base.clone(),
        stats: Arc::new(Mutex::new(HashMap::new())),
        sent: Mutex::new(HashMap::new()),
        late: AtomicU64::new(0),
    });
    let start = Instant::now();
    let cpu_start = cpu_now();
    let mut workers = vec![];
    for (op, rate) in [
        (Op::Customer, plan.customers_per_s),
        (Op::Interaction, plan.interactions_per_s),
        (Op::Sale, plan.sales_per_s),
        (Op::List, plan.lists_per_s),
    ] {
        if rate > 0.0 {
            workers.extend(stream(sh.clone(), op, rate, start, plan.secs));
        }
    }
    let until = start + Duration::from_secs_f64(plan.secs);
    let reporter = {
        let (sh, pause) = (sh.clone(), plan.report_pause);
        std::thread::spawn(move || reports(sh, until, pause))
    };
    for w in workers {
        let _ = w.join();
    }
    let writes_end = Instant::now();
    *end.lock().unwrap() = Some(writes_end);
    let window = writes_end.duration_since(start).as_secs_f64();
    let cpu = cpu_now().since(&cpu_start, window);
    let report_times = reporter.join().unwrap_or_default();
    std::thread::sleep(plan.drain);
    stop.store(true, Ordering::Relaxed);
    let rss_after = sys.workerd_rss_kib();

    let mut results: Vec<(usize, Result<Duration, String>, Seen)> = rx.iter().collect();
    for h in handles {
        let _ = h.join();
    }
    results.sort_by_key(|r| r.0);

    // Match every timed event to its write.
    let sent = sh.sent.lock().unwrap();
    let mut all = Histogram::<u64>::new(3).unwrap();
    let mut per: Vec<Histogram<u64>> = TIMED.iter().map(|_| Histogram::new(3).unwrap()).collect();
    let (mut dups, mut unmatched, mut misrouted) = (0u64, 0u64, 0u64);
    // Deliveries that reached the dashboard before the writer had its answer.
    let mut before_answer = 0u64;
    // Per write: when its last expected subscriber had it.
    let mut last_delivery: HashMap<&str, Duration> = HashMap::new();
    let mut delivered = [0u64; 3];
    let mut ready_h = Histogram::<u64>::new(3).unwrap();
    let (mut connected, mut failed, mut closed_early) = (0usize, vec![], 0usize);
    let mut connected_seats: Vec<&Seat> = vec![];
    let (mut events, mut events_in_window) = (0u64, 0u64);
    let mut snapshots: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let (mut leaks, mut ws_errors) = (vec![], vec![]);
    for (i, opened, seen) in &results {
        let seat = &seats[*i];
        match opened {
            Ok(t) => {
                connected += 1;
                connected_seats.push(seat);
                record(&mut ready_h, *t);
            }
            Err(e) => {
                failed.push(e.clone());
                continue;
            }
        }
        closed_early += usize::from(seen.closed_early);
        events += seen.events;
        events_in_window += seen.events_in_window;
        for (k, n) in &seen.snapshots {
            *snapshots.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &seen.by_type {
            *by_type.entry(k.clone()).or_default() += n;
        }
        leaks.extend(
            seen.leaks
                .iter()
                .map(|l| format!("{} {}: {l}", seat.role.name(), seat.user)),
        );
        ws_errors.extend(seen.errors.iter().cloned());
        let mut once = HashSet::new();
        for (k, id, at) in &seen.timed {
            let Some(s) = sent.get(id) else {
                unmatched += 1;
                continue;
            };
            if s.kind != *k || s.tenant != seat.tenant {
                misrouted += 1;
                continue;
            }
            if !once.insert(id.as_str()) {
                dups += 1;
                continue;
            }
            let d = at.saturating_duration_since(s.at);
            record(&mut all, d);
            record(&mut per[*k], d);
            delivered[*k] += 1;
            before_answer += u64::from(d < s.took);
            let last = last_delivery.entry(id.as_str()).or_insert(d);
            *last = (*last).max(d);
        }
    }
    // Who should have received each write: every connected dashboard of its tenant for
    // CRM events; for a sale, the tenant's admins and the selling broker.
    let mut expected = [0u64; 3];
    for s in sent.values() {
        expected[s.kind] += connected_seats
            .iter()
            .filter(|d| d.tenant == s.tenant)
            .filter(|d| {
                s.kind != 2 || d.role == Role::Admin || s.broker.as_deref() == Some(d.user.as_str())
            })
            .count() as u64;
    }

    let stats = sh.stats.lock().unwrap();
    let mut rest = Map::new();
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    for route in ROUTES {
        let Some(r) = stats.get(route) else { continue };
        let errors: BTreeMap<String, u64> = r
            .statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        for (s, n) in &errors {
            *by_status.entry(s.clone()).or_default() += n;
        }
        let ok: u64 = r
            .statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum();
        let mut v = latency(&r.hist);
        v["ok"] = json!(ok);
        v["ok_per_s"] = json!(ok as f64 / window);
        v["errors"] = json!(errors);
        rest.insert(route.into(), v);
    }
    let mut delivery = Map::new();
    let mut all_v = latency(&all);
    all_v["delivered"] = json!(delivered.iter().sum::<u64>());
    all_v["expected"] = json!(expected.iter().sum::<u64>());
    delivery.insert("all".into(), all_v);
    for (k, t) in TIMED.iter().enumerate() {
        let mut v = latency(&per[k]);
        v["writes"] = json!(sent.values().filter(|s| s.kind == k).count());
        v["delivered"] = json!(delivered[k]);
        v["expected"] = json!(expected[k]);
        delivery.insert((*t).into(), v);
    }
    delivery.insert("duplicates".into(), json!(dups));
    delivery.insert("before_answer".into(), json!(before_answer));
    let mut last_h = Histogram::<u64>::new(3).unwrap();
    last_delivery.values().for_each(|d| record(&mut last_h, *d));
    delivery.insert("last_subscriber_per_write".into(), latency(&last_h));
    delivery.insert("unmatched".into(), json!(unmatched));
    delivery.insert("misrouted".into(), json!(misrouted));
    let reports_ok: Vec<Duration> = report_times.iter().flatten().copied().collect();
    let mut report_h = Histogram::<u64>::new(3).unwrap();
    reports_ok.iter().for_each(|d| record(&mut report_h, *d));
    let roles = |r: Role| connected_seats.iter().filter(|s| s.role == r).count();
    failed.truncate(5);
    leaks.truncate(10);
    ws_errors.truncate(10);
    Ok(json!({
        "seconds": window,
        "plan": {
            "dashboards": plan.dashboards, "tenants": plan.tenants,
            "customers_per_s": plan.customers_per_s, "interactions_per_s": plan.interactions_per_s,
            "sales_per_s": plan.sales_per_s, "lists_per_s": plan.lists_per_s,
            "channels": ["tenant", "user:<self>", "dashboard", "analytics", "notifications"],
        },
        "dashboards": {
            "connected": connected, "admin": roles(Role::Admin), "broker": roles(Role::Broker), "viewer": roles(Role::Viewer),
            "connect_all_s": connect_s, "ready_ms": latency(&ready_h),
            "failed": failed, "closed_early": closed_early, "ws_errors": ws_errors,
        },
        "rest": rest,
        "rest_errors_by_status": by_status,
        "late_slots": sh.late.load(Ordering::Relaxed),
        "reports": {"started": report_times.len(), "ready": reports_ok.len(), "post_to_ready_ms": latency(&report_h)},
        "delivery": delivery,
        "deliveries_per_s": events_in_window as f64 / window,
        "event_frames": events,
        "snapshot_frames": snapshots,
        "cpu": cpu,
        "events_by_type": by_type,
        "leaks": leaks,
        "workerd_rss_kib": {"before": rss_before, "after": rss_after},
        "note": "publish → deliver from each write's request start to each subscriber's receipt, matched by the created entity's id; deliveries/s counts every event frame received while the writes ran",
    }))
}

/// One line per route kind and the delivery figures, for the log.
pub fn summary_lines(v: &Value) -> Vec<String> {
    let mut out = vec![];
    if let Some(rest) = v["rest"].as_object() {
        for (k, r) in rest {
            out.push(format!(
                "mixed rest {k}: {} ok ({:.1}/s) p50 {:.1} ms p99 {:.1} ms errors {}",
                r["ok"],
                r["ok_per_s"].as_f64().unwrap_or(0.0),
                r["p50_ms"].as_f64().unwrap_or(f64::NAN),
                r["p99_ms"].as_f64().unwrap_or(f64::NAN),
                r["errors"]
            ));
        }
    }
    if let Some(d) = v["delivery"].as_object() {
        for (k, r) in d {
            if r.is_object() {
                out.push(format!(
                    "mixed deliver {k}: {}/{} p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
                    r["delivered"],
                    r["expected"],
                    r["p50_ms"].as_f64().unwrap_or(f64::NAN),
                    r["p99_ms"].as_f64().unwrap_or(f64::NAN),
                    r["max_ms"].as_f64().unwrap_or(f64::NAN)
                ));
            }
        }
    }
    out.push(format!(
        "mixed: {:.0} deliveries/s, snapshots {}, cpu {}, dashboards {}, reports {}, errors by status {}, late slots {}, duplicates {}, before the answer {}, leaks {}",
        v["deliveries_per_s"].as_f64().unwrap_or(0.0),
        v["snapshot_frames"],
        v["cpu"],
        v["dashboards"]["connected"],
        v["reports"],
        v["rest_errors_by_status"],
        v["late_slots"],
        v["delivery"]["duplicates"],
        v["delivery"]["before_answer"],
        v["leaks"].as_array().map_or(0, |l| l.len()),
    ));
    out
}
