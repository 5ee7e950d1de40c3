//! The realtime hub beyond the basics: channels and filters, re-authorization at replay,
//! presence, limits, SSE, REST history, publish, stats, retention, restarts.

use crate::assertions as check;
use crate::client::{Sse, Ws};
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const C: &str = "/api/crm/customers";
const PUBLISH: &str = "/api/realtime/publish";

fn publish(cx: &Ctx, admin: &str, body: Value) -> Value {
    let r = cx.api.post(PUBLISH, admin, &body);
    check::status(&r, 202);
    r.body
}

pub fn channels_filters_and_audiences(cx: &mut Ctx) {
    let t = fresh_tenant("chan");
    let admin = cx.token(&t, "boss", "admin");
    let buyer = cx.token(&t, "buyer", "viewer");
    let seller = cx.token(&t, "seller", "broker");
    let other = cx.token(&t, "other", "broker");
    // Type filter: only job events on the tenant channel.
    let mut jobs_only = Ws::connect(&cx.server.base, &admin);
    jobs_only.send(&json!({"op": "subscribe", "channels": ["tenant"], "types": ["job:*"]}));
    assert_eq!(jobs_only.expect("subscribed")["op"], "subscribed");
    // Entity channel: one customer only.
    let keep = cx.api.post(C, &admin, &json!({"name": "Watched"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut entity = Ws::connect(&cx.server.base, &other);
    entity.subscribe(&[&format!("entity:customer:{keep}")], None);
    // Both parties of a deal, by user channel.
    let mut wb = Ws::connect(&cx.server.base, &buyer);
    wb.subscribe(&["user:buyer"], None);
    let mut wsell = Ws::connect(&cx.server.base, &seller);
    wsell.subscribe(&["user:seller"], None);
    let mut wo = Ws::connect(&cx.server.base, &other);
    wo.subscribe(&["user:other"], None);

    cx.api
        .put(&format!("{C}/{keep}"), &admin, &json!({"status": "active"}));
    cx.api.post(C, &admin, &json!({"name": "Unwatched"}));
    publish(
        cx,
        &admin,
        json!({"type": "system:deal_agreed", "target_users": ["buyer", "seller"], "data": {"deal": "d1"}}),
    );
    let r = cx.api.post(
        C,
        &admin,
        &json!({"name": "Mailed", "email": "m@example.com"}),
    );
    let job = r.header("pulse-job-id").unwrap().to_string();

    let e = entity.next_event();
    assert_eq!(
        (e["type"].as_str(), e["data"]["id"].as_str()),
        (Some("crm:customer:updated"), Some(keep.as_str()))
    );
    assert!(
        entity.drain(Duration::from_millis(500)).is_empty(),
        "entity channel leaked other customers"
    );
    for ws in [&mut wb, &mut wsell] {
        let e = ws.next_event();
        assert_eq!(e["type"], "system:deal_agreed");
        assert_eq!(e["data"]["deal"], "d1");
    }
    assert!(
        wo.drain(Duration::from_millis(500)).is_empty(),
        "a third user saw the deal"
    );
    let (done, before) = jobs_only.wait_for("job:completed", Duration::from_secs(30));
    assert_eq!(done["data"]["id"], job.as_str());
    assert!(
        before.iter().all(
            |f| f["op"] != "event" || f["type"].as_str().is_some_and(|t| t.starts_with("job:"))
        ),
        "type filter let through {before:?}"
    );
}

pub fn reauthorization_at_replay(cx: &mut Ctx) {
    let t = fresh_tenant("reauth");
    let admin = cx.token(&t, "pat", "admin");
    let mut ws = Ws::connect(&cx.server.base, &admin);
    let head = ws.subscribe(&["tenant", "role:admin", "user:pat"], None)["head"]
        .as_u64()
        .unwrap();
    publish(
        cx,
        &admin,
        json!({"type": "system:admin_only", "target_roles": ["admin"], "data": {"secret": 1}}),
    );
    publish(
        cx,
        &admin,
        json!({"type": "system:for_pat", "target_users": ["pat"], "data": {}}),
    );
    cx.api.post(C, &admin, &json!({"name": "Public to tenant"}));
    let seen: Vec<String> = (0..3)
        .map(|_| ws.next_event()["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        seen,
        [
            "system:admin_only",
            "system:for_pat",
            "crm:customer:created"
        ]
    );
    ws.close();
    // Pat was demoted to broker: a replay with the new token skips the admin-only event.
    let demoted = cx.token(&t, "pat", "broker");
    let mut ws = Ws::connect(&cx.server.base, &demoted);
    ws.send(&json!({"op": "subscribe", "channels": ["role:admin"], "since": head}));
    assert_eq!(ws.expect("error")["code"], "forbidden");
    ws.subscribe(&["tenant", "user:pat", "role:broker"], Some(head));
    let replay: Vec<String> = ws
        .drain(Duration::from_millis(800))
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(replay, ["system:for_pat", "crm:customer:created"]);
    // The REST history applies the same rule.
    let r = cx
        .api
        .get(&format!("/api/realtime/events?since={head}"), &demoted);
    check::status(&r, 200);
    let types: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["system:for_pat", "crm:customer:created"]);
    let r = cx
        .api
        .get(&format!("/api/realtime/events?since={head}"), &admin);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 3);
    check::error(
        &cx.api.get("/api/realtime/events?since=-4", &admin),
        400,
        "bad_request",
    );
    check::error(
        &cx.api
            .get("/api/realtime/events?channels=role:admin", &demoted),
        403,
        "forbidden",
    );
}

pub fn presence_join_leave_list(cx: &mut Ctx) {
    let t = fresh_tenant("presence");
    let ch = "entity:property:p1";
    let mut a = Ws::connect(&cx.server.base, &cx.token(&t, "alice", "broker"));
    a.send(&json!({"op": "subscribe", "channels": [ch], "presence": true}));
    assert_eq!(a.expect("subscribed")["op"], "subscribed");
    // Joins go to every member of the channel, the joiner included.
    assert_eq!(a.expect("own join")["user_id"], "alice");
    let bob = cx.token(&t, "bob", "viewer");
    let mut b = Ws::connect(&cx.server.base, &bob);
    b.send(&json!({"op": "subscribe", "channels": [ch], "presence": true}));
    assert_eq!(b.expect("subscribed")["op"], "subscribed");
    assert_eq!(b.expect("own join")["user_id"], "bob");
    let j = a.expect("presence join");
    assert_eq!(
        (
            j["op"].as_str(),
            j["action"].as_str(),
            j["user_id"].as_str()
        ),
        (Some("presence"), Some("join"), Some("bob"))
    );
    // A second tab of bob: no second join.
    let mut b2 = Ws::connect(&cx.server.base, &bob);
    b2.send(&json!({"op": "subscribe", "channels": [ch], "presence": true}));
    b2.expect("subscribed");
    a.send(&json!({"op": "presence", "channel": ch}));
    let list = a.expect("presence list");
    assert_eq!(
        list["users"],
        json!([{"user_id": "alice", "connections": 1}, {"user_id": "bob", "connections": 2}])
    );
    // A reload (close and come back within the grace period) is not a leave/join storm.
    b2.close();
    b.close();
    std::thread::sleep(Duration::from_millis(300));
    let mut b3 = Ws::connect(&cx.server.base, &bob);
    b3.send(&json!({"op": "subscribe", "channels": [ch], "presence": true}));
    b3.expect("subscribed");
    let quiet = a.drain(Duration::from_millis(2500));
    assert!(
        quiet.iter().all(|f| f["op"] != "presence"),
        "reload caused {quiet:?}"
    );
    // A real leave, announced after the grace period (1.5 s in tests).
    b3.close();
    let t0 = Instant::now();
    let l = a.expect("presence leave");
    assert_eq!(
        (l["action"].as_str(), l["user_id"].as_str()),
        (Some("leave"), Some("bob"))
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "leave came before the grace period"
    );
    a.send(&json!({"op": "presence", "channel": ch}));
    assert_eq!(
        a.expect("presence list")["users"],
        json!([{"user_id": "alice", "connections": 1}])
    );
    // Presence list needs a subscription.
    a.send(&json!({"op": "presence", "channel": "entity:property:other"}));
    assert_eq!(a.expect("error")["code"], "not_subscribed");
}

pub fn limits_close_the_offender_only(cx: &mut Ctx) {
    let t = fresh_tenant("limits");
    let tok = cx.token(&t, "heavy", "broker");
    let calm_tok = cx.token(&t, "calm", "broker");
    let mut calm = Ws::connect(&cx.server.base, &calm_tok);
    calm.subscribe(&["tenant"], None);
    // 6th connection of one user.
    let mut five: Vec<Ws> = (0..5).map(|_| Ws::connect(&cx.server.base, &tok)).collect();
    let mut sixth = Ws::connect(&cx.server.base, &tok);
    let (frames, code) = sixth.until_close(Duration::from_secs(10));
    assert_eq!(
        frames.first().map(|f| f["code"].clone()),
        Some(json!("too_many_connections"))
    );
    assert_eq!(code, Some(1008));
    // Frame flood: 100 frames per minute, then an error and 1008.
    let flooder = &mut five[0];
    for _ in 0..130 {
        flooder.send(&json!({"op": "ping", "head": true}));
    }
    let (frames, code) = flooder.until_close(Duration::from_secs(10));
    let pongs = frames.iter().filter(|f| f["op"] == "pong").count();
    assert_eq!(pongs, 100, "the bucket holds 100 frames");
    assert_eq!(frames.last().unwrap()["code"], "rate_limited");
    assert_eq!(code, Some(1008));
    // Frame size: 64 KB.
    let big = format!(r#"{{"op":"ping","pad":"{}"}}"#, "x".repeat(70 * 1024));
    five[1].send_text(&big);
    let (frames, code) = five[1].until_close(Duration::from_secs(10));
    assert_eq!(frames.last().unwrap()["code"], "frame_too_large");
    assert_eq!(code, Some(1009));
    // Subscriptions: at most 50.
    let many: Vec<String> = (0..51).map(|n| format!("entity:customer:c{n}")).collect();
    five[2].send(&json!({"op": "subscribe", "channels": many}));
    assert_eq!(five[2].expect("error")["code"], "too_many_channels");
    // The other client is unaffected: it still gets pongs and events promptly.
    calm.send(&json!({"op": "ping", "head": true}));
    assert_eq!(calm.expect("pong")["op"], "pong");
    cx.api.post(C, &calm_tok, &json!({"name": "still flowing"}));
    assert_eq!(calm.next_event()["data"]["name"], "still flowing");
}

pub fn sse_stream_and_resume(cx: &mut Ctx) {
    let t = fresh_tenant("sse");
    let tok = cx.token(&t, "s1", "broker");
    let base = cx.server.base.clone();
    let unauth = Sse::open(&base, "/api/realtime/stream", None);
    assert_eq!(unauth.status, 401);
    assert!(unauth.body.contains("unauthorized"));
    let mut s = Sse::open(
        &base,
        &format!("/api/realtime/stream?channels=tenant&token={tok}"),
        None,
    );
    assert_eq!(s.status, 200);
    let pre = s.next().expect("preamble");
    assert_eq!(pre.event.as_deref(), Some("subscribed"));
    let id1 = cx.api.post(C, &tok, &json!({"name": "SSE one"})).body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (seq, e) = s.next_event();
    assert_eq!(e["data"]["id"], id1.as_str());
    assert_eq!(
        seq,
        e["seq"].as_u64().unwrap().to_string(),
        "SSE id is the seq"
    );
    drop(s);
    let mut missed = Vec::new();
    for n in 0..2 {
        missed.push(
            cx.api
                .post(C, &tok, &json!({"name": format!("missed {n}")}))
                .body["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut s = Sse::open(
        &base,
        &format!("/api/realtime/stream?channels=tenant&token={tok}"),
        Some(&seq),
    );
    s.next().expect("preamble");
    let got: Vec<String> = (0..2)
        .map(|_| s.next_event().1["data"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, missed);
    // Type filters and channel rules apply to SSE too.
    let bad = Sse::open(
        &base,
        &format!("/api/realtime/stream?channels=role:admin&token={tok}"),
        None,
    );
    assert_eq!(bad.status, 403);
    // Heartbeat comments keep idle streams alive (every 1 s in tests, 15 s by default).
    let t0 = Instant::now();
    let hb = loop {
        let l = s.next_line().expect("stream stays open");
        if l.starts_with(": heartbeat") {
            break t0.elapsed();
        }
    };
    assert!(hb < Duration::from_secs(5), "no heartbeat for {hb:?}");
    // At most 3 streams per user.
    let _a = Sse::open(&base, &format!("/api/realtime/stream?token={tok}"), None);
    let _b = Sse::open(&base, &format!("/api/realtime/stream?token={tok}"), None);
    let fourth = Sse::open(&base, &format!("/api/realtime/stream?token={tok}"), None);
    assert_eq!(fourth.status, 429, "{}", fourth.body);
    assert!(fourth.body.contains("too_many_streams"));
}

pub fn publish_and_stats_are_admin_only(cx: &mut Ctx) {
    let t = fresh_tenant("admin");
    let admin = cx.token(&t, "a", "admin");
    let broker = cx.token(&t, "b", "broker");
    check::error(
        &cx.api
            .post(PUBLISH, &broker, &json!({"target_roles": ["broker"]})),
        403,
        "forbidden",
    );
    check::error(
        &cx.api.post(
            PUBLISH,
            &admin,
            &json!({"type": "crm:customer:created", "target_roles": ["broker"]}),
        ),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api
            .post(PUBLISH, &admin, &json!({"target_roles": ["wizard"]})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(PUBLISH, &admin, &json!({"data": {}})),
        422,
        "validation_failed",
    );
    let mut ws = Ws::connect(&cx.server.base, &broker);
    ws.subscribe(&["role:broker"], None);
    let p = publish(
        cx,
        &admin,
        json!({"type": "system:alert", "target_roles": ["broker"], "data": {"message": "Office closed Friday"}}),
    );
    let e = ws.next_event();
    assert_eq!(e["data"]["message"], "Office closed Friday");
    assert_eq!(e["seq"], p["seq"]);
    check::error(
        &cx.api.get("/api/realtime/stats", &broker),
        403,
        "forbidden",
    );
    let s = cx.api.get("/api/realtime/stats", &admin);
    check::status(&s, 200);
    assert_eq!(s.body["connections"]["websocket"], 1);
    assert_eq!(s.body["connections"]["by_role"]["broker"], 1);
    assert_eq!(s.body["connections"]["by_channel"]["role:broker"], 1);
    assert_eq!(s.body["history"]["events"], 1);
    assert_eq!(s.body["outbox"]["pending"], 0);
    assert!(s.body["messages"]["out"].as_u64().unwrap() >= 1);
}

/// Publishes `n` events from 4 threads; returns the head before.
/// Publishes `n` events from 4 threads, each as its own admin of the tenant of `admin`'s
/// token (so no caller passes the per-user rate limit of 600 requests per minute).
fn burst(cx: &Ctx, admin: &str, n: usize) {
    let tenant = crate::client::claim(admin, "tid");
    let tokens: Vec<String> = (0..4)
        .map(|k| cx.token(&tenant, &format!("burst-{k}"), "admin"))
        .collect();
    std::thread::scope(|s| {
        for (k, tok) in tokens.iter().enumerate() {
            let api = &cx.api;
            s.spawn(move || {
                for i in (k..n).step_by(4) {
                    let r = api.post(
                        PUBLISH,
                        tok,
                        &json!({"type": "system:tick", "channels": ["tenant"], "data": {"i": i}}),
                    );
                    assert_eq!(r.status, 202, "{}", r.body);
                }
            });
        }
    });
}

pub fn replay_after_gap_of_1000(cx: &mut Ctx) {
    let t = fresh_tenant("gap");
    let admin = cx.token(&t, "a", "admin");
    let mut ws = Ws::connect(&cx.server.base, &admin);
    let head = ws.subscribe(&["tenant"], None)["head"].as_u64().unwrap();
    ws.close();
    burst(cx, &admin, 1000);
    let mut ws = Ws::connect(&cx.server.base, &admin);
    let t0 = Instant::now();
    let s = ws.subscribe(&["tenant"], Some(head));
    assert_eq!(s["recovered"], true);
    assert_eq!(s["head"].as_u64().unwrap(), head + 1000);
    let events: Vec<Value> = (0..1000).map(|_| ws.next_event()).collect();
    let took = t0.elapsed();
    let seqs = check::seqs(&events);
    assert_eq!(seqs.first(), Some(&(head + 1)));
    check::consecutive(&seqs);
    eprintln!(
        "    replay of 1000 events: {:.0} ms (figure, not an assertion)",
        took.as_secs_f64() * 1000.0
    );
    assert!(ws.drain(Duration::from_millis(300)).is_empty());
}

pub fn retention_and_restart(cx: &mut Ctx) {
    let t = fresh_tenant("retain");
    let admin = cx.token(&t, "a", "admin");
    cx.restart_with(&[("HISTORY_MAX_EVENTS", "100")]);
    burst(cx, &admin, 150);
    let mut ws = Ws::connect(&cx.server.base, &admin);
    let s = ws.subscribe(&["tenant"], Some(10));
    assert_eq!(
        s["recovered"], false,
        "since=10 is older than the kept 100 events"
    );
    assert_eq!(s["head"], 150);
    let epoch = s["epoch"].as_str().unwrap().to_string();
    assert!(
        ws.drain(Duration::from_millis(500)).is_empty(),
        "no partial replay when not recovered"
    );
    ws.close();
    let mut ws = Ws::connect(&cx.server.base, &admin);
    assert_eq!(ws.subscribe(&["tenant"], Some(60))["recovered"], true);
    let replay: Vec<Value> = (0..90).map(|_| ws.next_event()).collect();
    assert_eq!(check::seqs(&replay).first(), Some(&61));
    ws.close();
    let stats = cx.api.get("/api/realtime/stats", &admin).body;
    assert_eq!(stats["history"]["events"], 100);
    assert_eq!(stats["history"]["oldest_seq"], 51);
    // A full restart of the runtime on the same persist folder: history, seq, epoch survive.
    cx.restart_with(&[]);
    let mut ws = Ws::connect(&cx.server.base, &admin);
    let s = ws.subscribe(&["tenant"], Some(145));
    assert_eq!(
        (
            s["head"].as_u64(),
            s["recovered"].as_bool(),
            s["epoch"].as_str()
        ),
        (Some(150), Some(true), Some(epoch.as_str()))
    );
    let replay: Vec<Value> = (0..5).map(|_| ws.next_event()).collect();
    assert_eq!(check::seqs(&replay), vec![146, 147, 148, 149, 150]);
    publish(
        cx,
        &admin,
        json!({"type": "system:after_restart", "channels": ["tenant"]}),
    );
    assert_eq!(ws.next_event()["seq"], 151);
    // A different epoch means the client's cursor belongs to another history.
    ws.send(
        &json!({"op": "subscribe", "channels": ["tenant"], "since": 150, "epoch": "not-this-one"}),
    );
    assert_eq!(ws.expect("subscribed")["recovered"], false);
}

pub fn snapshot_channels(cx: &mut Ctx) {
    let t = fresh_tenant("snap");
    let admin = cx.token(&t, "boss", "admin");
    // Notifications are saved for the tenant's users: val and someone else are real ones.
    let mut ids = Vec::new();
    for name in ["val", "sam"] {
        let r = cx.api.post(
            "/api/users",
            &admin,
            &json!({"email": format!("{name}@example.test"), "name": name, "role": "viewer",
                    "password": format!("{name}-password-1")}),
        );
        check::status(&r, 201);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let (val, sam) = (ids[0].clone(), ids[1].clone());
    let viewer = cx.token(&t, &val, "viewer");
    for n in 0..2 {
        cx.api.post(
            C,
            &admin,
            &json!({"name": format!("Snap {n}"), "status": "active"}),
        );
    }
    publish(
        cx,
        &admin,
        json!({"type": "system:notice", "target_users": [val], "data": {"n": 1}}),
    );
    publish(
        cx,
        &admin,
        json!({"type": "system:notice", "target_users": [sam], "data": {"n": 2}}),
    );
    let rest = cx.api.get("/api/dashboard", &viewer);
    check::status(&rest, 200);
    assert_eq!(rest.body["customers"]["total"], 2);
    assert_eq!(rest.body["customers"]["by_status"]["active"], 2);

    let mut ws = Ws::connect(&cx.server.base, &viewer);
    ws.subscribe(&["dashboard"], None);
    let snap = ws.expect("dashboard snapshot");
    assert_eq!(
        (snap["op"].as_str(), snap["channel"].as_str()),
        (Some("snapshot"), Some("dashboard"))
    );
    assert_eq!(
        snap["data"]["customers"], rest.body["customers"],
        "snapshot agrees with REST"
    );
    // A change pushes a fresh snapshot (no raw events on this channel).
    cx.api.post(C, &admin, &json!({"name": "Snap 3"}));
    let next = ws.expect("updated dashboard snapshot");
    assert_eq!(next["op"], "snapshot");
    assert_eq!(next["data"]["customers"]["total"], 3);
    assert_eq!(next["data"]["customers"]["by_status"]["lead"], 1);

    ws.subscribe(&["notifications"], None);
    let n = ws.expect("notifications snapshot");
    assert_eq!(n["channel"], "notifications");
    let items = n["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only val's own notice: {n}");
    assert_eq!(items[0]["data"]["n"], 1);
    assert_eq!(n["data"]["unread"], 1);
    publish(
        cx,
        &admin,
        json!({"type": "system:notice", "target_roles": ["viewer"], "data": {"n": 3}}),
    );
    let live = ws.next_event();
    assert_eq!(live["data"]["n"], 3);

    ws.subscribe(&["analytics"], None);
    let a = ws.expect("analytics snapshot");
    assert_eq!(a["channel"], "analytics");
    assert_eq!(a["data"]["events_by_type"]["crm:customer:created"], 3);
}

pub fn rooms_with_public_visitors(cx: &mut Ctx) {
    use crate::client::{dial_path, Dial};
    let t = fresh_tenant("rooms");
    let admin = cx.token(&t, "boss", "admin");
    let broker = cx.token(&t, "bea", "broker");
    let rooms = "/api/realtime/rooms";
    let r = cx.api.post(
        rooms,
        &admin,
        &json!({"name": "storefront-s1", "public": true}),
    );
    check::status(&r, 201);
    assert_eq!(r.body["public"], true);
    check::status(&cx.api.post(rooms, &admin, &json!({"name": "vip"})), 201);
    check::error(
        &cx.api.post(rooms, &admin, &json!({"name": "vip"})),
        409,
        "conflict",
    );
    check::error(
        &cx.api.post(rooms, &admin, &json!({"name": "Bad Name!"})),
        422,
        "validation_failed",
    );
    check::error(
        &cx.api.post(rooms, &broker, &json!({"name": "mine"})),
        403,
        "forbidden",
    );
    let names: Vec<String> = cx.api.get(rooms, &broker).body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["storefront-s1", "vip"]);

    let base = cx.server.base.clone();
    let public = |room: &str| format!("/api/public/rooms/{t}/{room}/ws");
    for room in ["vip", "nope"] {
        match dial_path(&base, &public(room), None, None) {
            Dial::Refused(s, _) => assert_eq!(s, 404, "{room}"),
            Dial::Open(_) => panic!("anonymous join to '{room}' must be refused"),
        }
    }
    let Dial::Open(mut visitor) = dial_path(&base, &public("storefront-s1"), None, None) else {
        panic!("public room refused an anonymous visitor");
    };
    visitor.send(&json!({"op": "subscribe", "channels": ["tenant"]}));
    assert_eq!(visitor.expect("error")["code"], "forbidden");
    visitor.send(&json!({"op": "subscribe", "channels": ["public"], "presence": true}));
    let s = visitor.expect("subscribed");
    assert_eq!(
        (s["op"].as_str(), s["head"].as_u64()),
        (Some("subscribed"), Some(0)),
        "a room has its own seq"
    );
    let own_join = visitor.expect("own join");
    let anon_id = own_join["user_id"].as_str().unwrap().to_string();
    assert!(anon_id.starts_with("anon-"));

    let Dial::Open(mut member) = dial_path(
        &base,
        "/api/realtime/rooms/storefront-s1/ws",
        None,
        Some(&broker),
    ) else {
        panic!("member join refused");
    };
    member.send(&json!({"op": "subscribe", "channels": ["public", "tenant"], "presence": true}));
    member.expect("subscribed");
    member.send(&json!({"op": "presence", "channel": "public"}));
    let mut frames = vec![member.expect("presence frames")];
    frames.extend(member.drain(Duration::from_millis(400)));
    let list = frames
        .iter()
        .find(|f| f["users"].is_array())
        .expect("presence list");
    assert!(
        list["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["user_id"] == anon_id.as_str()),
        "{list}"
    );

    // The tenant hub does not see room events.
    let mut tenant_ws = Ws::connect(&base, &admin);
    tenant_ws.subscribe(&["tenant"], None);

    let p = cx.api.post(
        "/api/realtime/rooms/storefront-s1/publish",
        &broker,
        &json!({"type": "product:viewers", "data": {"count": 7}}),
    );
    check::status(&p, 202);
    check::status(
        &cx.api.post(
            "/api/realtime/rooms/storefront-s1/publish",
            &broker,
            &json!({"type": "product:margin", "channels": ["tenant"], "data": {"pct": 12}}),
        ),
        202,
    );
    check::error(
        &cx.api.post(
            "/api/realtime/rooms/nope/publish",
            &broker,
            &json!({"type": "x:y"}),
        ),
        404,
        "not_found",
    );
    check::error(
        &cx.api.post(
            "/api/realtime/rooms/storefront-s1/publish",
            &cx.token(&t, "v", "viewer"),
            &json!({"type": "x:y"}),
        ),
        403,
        "forbidden",
    );

    let seen = visitor.drain(Duration::from_millis(800));
    let events: Vec<&Value> = seen.iter().filter(|f| f["op"] == "event").collect();
    assert_eq!(events.len(), 1, "visitor sees public data only: {seen:?}");
    assert_eq!(
        (events[0]["type"].as_str(), events[0]["seq"].as_u64()),
        (Some("product:viewers"), Some(1))
    );
    let member_events: Vec<Value> = member
        .drain(Duration::from_millis(500))
        .into_iter()
        .filter(|f| f["op"] == "event")
        .collect();
    assert_eq!(check::seqs(&member_events), vec![1, 2]);
    assert!(
        tenant_ws.drain(Duration::from_millis(300)).is_empty(),
        "room events leaked into the tenant hub"
    );
}
