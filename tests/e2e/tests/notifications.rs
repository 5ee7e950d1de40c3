//! Saved notifications: events addressed to a user (their `user:` channel or their role)
//! are kept per user, listed with their read state, marked read one by one or all at once
//! (each mark reaching the user's other devices), and summed up by the `notifications`
//! snapshot channel.

use crate::assertions as check;
use crate::client::Ws;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::{json, Value};
use std::time::Duration;

const N: &str = "/api/notifications";

/// Creates a user of `role` and returns (id, token).
fn user(cx: &Ctx, t: &str, admin: &str, name: &str, role: &str) -> (String, String) {
    let r = cx.api.post(
        "/api/users",
        admin,
        &json!({"email": format!("{name}@example.test"), "name": name, "role": role,
                "password": format!("{name}-password-1")}),
    );
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let tok = cx.token(t, &id, role);
    (id, tok)
}

fn notice(cx: &Ctx, admin: &str, body: Value) {
    let r = cx.api.post("/api/realtime/publish", admin, &body);
    check::status(&r, 202);
}

fn unread(cx: &Ctx, tok: &str) -> i64 {
    let r = cx.api.get(&format!("{N}/unread-count"), tok);
    check::status(&r, 200);
    r.body["unread"].as_i64().expect("unread")
}

fn items(cx: &Ctx, tok: &str, query: &str) -> Vec<Value> {
    let r = cx.api.get(&format!("{N}{query}"), tok);
    check::status(&r, 200);
    r.body["data"].as_array().unwrap().clone()
}

/// Role- and user-addressed notified events are stored for exactly the users they
/// address; other events (and other users) are not.
pub fn addressed_events_are_saved_per_user(cx: &mut Ctx) {
    let t = fresh_tenant("ntf");
    let (_, admin) = {
        let boot = cx.token(&t, "boot", "admin");
        user(cx, &t, &boot, "ada", "admin")
    };
    let (b1, b1_tok) = user(cx, &t, &admin, "ben", "broker");
    let (_, b2_tok) = user(cx, &t, &admin, "bea", "broker");
    let (_, v_tok) = user(cx, &t, &admin, "vic", "viewer");
    notice(
        cx,
        &admin,
        json!({"type": "system:notice", "target_roles": ["broker"], "data": {"n": 1}}),
    );
    notice(
        cx,
        &admin,
        json!({"type": "system:notice", "target_users": [b1], "data": {"n": 2}}),
    );
    // Not notified: a tenant-wide customer event.
    check::status(
        &cx.api
            .post("/api/crm/customers", &admin, &json!({"name": "Quiet"})),
        201,
    );
    let mine = items(cx, &b1_tok, "");
    let ns: Vec<i64> = mine
        .iter()
        .map(|n| n["data"]["n"].as_i64().unwrap())
        .collect();
    assert_eq!(ns, vec![2, 1], "newest first: {mine:?}");
    assert!(mine.iter().all(|n| n["type"] == "system:notice"
        && n["read"] == false
        && n["read_at"].is_null()
        && n["id"].as_str().unwrap().starts_with("ntf_")
        && n["event_id"].as_str().unwrap().starts_with("evt_")));
    assert_eq!(unread(cx, &b1_tok), 2);
    assert_eq!(unread(cx, &b2_tok), 1, "only the role notice");
    assert_eq!(unread(cx, &v_tok), 0);
    assert!(items(cx, &v_tok, "").is_empty());
    // Pagination: one per page, then the next.
    let r = cx.api.get(&format!("{N}?limit=1"), &b1_tok);
    check::status(&r, 200);
    assert_eq!(r.body["data"][0]["data"]["n"], 2);
    let next = r.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let r = cx.api.get(&format!("{N}?limit=1&cursor={next}"), &b1_tok);
    assert_eq!(r.body["data"][0]["data"]["n"], 1);
    // Another tenant sees none of it.
    let other = cx.token(&fresh_tenant("ntf-x"), &b1, "broker");
    assert_eq!(unread(cx, &other), 0);
    assert!(items(cx, &other, "").is_empty());
    check::error(
        &cx.api.get(&format!("{N}?unread=2"), &b1_tok),
        400,
        "bad_request",
    );
}

/// Marking one read answers it read, lowers the count, and tells the user's other
/// devices; again is a no-op; another user's (or tenant's) notification is a 404.
pub fn read_marks_reach_other_devices(cx: &mut Ctx) {
    let t = fresh_tenant("ntf-read");
    let boot = cx.token(&t, "boot", "admin");
    let (_, admin) = user(cx, &t, &boot, "ada", "admin");
    let (b1, b1_tok) = user(cx, &t, &admin, "ben", "broker");
    let (_, b2_tok) = user(cx, &t, &admin, "bea", "broker");
    for n in 1..=3 {
        notice(
            cx,
            &admin,
            json!({"type": "system:notice", "target_users": [b1], "data": {"n": n}}),
        );
    }
    let mut phone = Ws::connect(&cx.server.base, &b1_tok);
    phone.subscribe(&[&format!("user:{b1}")], None);
    let list = items(cx, &b1_tok, "?unread=1");
    assert_eq!(list.len(), 3);
    let id = list[2]["id"].as_str().unwrap().to_string();

    check::error(
        &cx.api.put(&format!("{N}/{id}/read"), &b2_tok, &json!({})),
        404,
        "not_found",
    );
    let foreign = cx.token(&fresh_tenant("ntf-read-x"), &b1, "broker");
    check::error(
        &cx.api.put(&format!("{N}/{id}/read"), &foreign, &json!({})),
        404,
        "not_found",
    );
    assert_eq!(unread(cx, &b1_tok), 3, "refusals changed nothing");

    let r = cx.api.put(&format!("{N}/{id}/read"), &b1_tok, &json!({}));
    check::status(&r, 200);
    assert_eq!(
        (r.body["id"].as_str(), r.body["read"].as_bool()),
        (Some(id.as_str()), Some(true))
    );
    assert!(r.body["read_at"].is_string());
    let (ev, _) = phone.wait_for("notification:read", Duration::from_secs(10));
    assert_eq!(ev["data"]["ids"], json!([id]));
    assert_eq!(ev["data"]["unread"], 2);
    assert_eq!(ev["data"]["all"], false);
    assert_eq!(unread(cx, &b1_tok), 2);
    assert_eq!(items(cx, &b1_tok, "?unread=1").len(), 2);
    assert_eq!(items(cx, &b1_tok, "?unread=0").len(), 3);

    // Again: still read, no second mark.
    let again = cx.api.put(&format!("{N}/{id}/read"), &b1_tok, &json!({}));
    check::status(&again, 200);
    assert_eq!(again.body["read_at"], r.body["read_at"]);

    let all = cx.api.post(&format!("{N}/read-all"), &b1_tok, &json!({}));
    check::status(&all, 200);
    assert_eq!(all.body["read"], 2);
    assert_eq!(unread(cx, &b1_tok), 0);
    let (ev, between) = phone.wait_for("notification:read", Duration::from_secs(10));
    assert!(
        between.iter().all(|f| f["type"] != "notification:read"),
        "the repeated mark sent nothing: {between:?}"
    );
    assert_eq!(ev["data"]["all"], true);
    assert_eq!(ev["data"]["unread"], 0);
    assert_eq!(ev["data"]["ids"].as_array().unwrap().len(), 2);
    // Nothing left to mark: no event, read 0.
    let none = cx.api.post(&format!("{N}/read-all"), &b1_tok, &json!({}));
    assert_eq!(none.body["read"], 0);
    assert!(
        phone
            .drain(Duration::from_millis(1500))
            .iter()
            .all(|f| f["type"] != "notification:read"),
        "no mark when nothing changed"
    );
}

/// The `notifications` channel: a snapshot with the unread count and the newest 20
/// (read state included), then only what changes the inbox.
pub fn snapshot_channel_sums_up_the_inbox(cx: &mut Ctx) {
    let t = fresh_tenant("ntf-snap");
    let boot = cx.token(&t, "boot", "admin");
    let (_, admin) = user(cx, &t, &boot, "ada", "admin");
    let (b1, b1_tok) = user(cx, &t, &admin, "ben", "broker");
    for n in 1..=22 {
        notice(
            cx,
            &admin,
            json!({"type": "system:notice", "target_users": [b1], "data": {"n": n}}),
        );
    }
    let first = items(cx, &b1_tok, "?limit=1")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    check::status(
        &cx.api
            .put(&format!("{N}/{first}/read"), &b1_tok, &json!({})),
        200,
    );
    let mut ws = Ws::connect(&cx.server.base, &b1_tok);
    ws.subscribe(&["notifications"], None);
    let snap = ws.expect("notifications snapshot");
    assert_eq!(
        (snap["op"].as_str(), snap["channel"].as_str()),
        (Some("snapshot"), Some("notifications"))
    );
    assert_eq!(snap["data"]["unread"], 21);
    let list = snap["data"]["items"].as_array().unwrap();
    assert_eq!(list.len(), 20);
    assert_eq!(
        (list[0]["data"]["n"].as_i64(), list[0]["read"].as_bool()),
        (Some(22), Some(true))
    );
    assert_eq!(list[1]["read"], false);
    // A job of the user is addressed to them but is not an inbox item: not on this channel.
    check::status(
        &cx.api.post(
            "/api/crm/customers",
            &b1_tok,
            &json!({"name": "Mail", "email": "m@example.test"}),
        ),
        201,
    );
    notice(
        cx,
        &admin,
        json!({"type": "system:notice", "target_users": [b1], "data": {"n": 23}}),
    );
    let live = ws.next_event();
    assert_eq!(
        (live["type"].as_str(), live["data"]["n"].as_i64()),
        (Some("system:notice"), Some(23))
    );
    check::status(
        &cx.api.post(&format!("{N}/read-all"), &b1_tok, &json!({})),
        200,
    );
    let mark = ws.next_event();
    assert_eq!(mark["type"], "notification:read");
    assert_eq!(mark["data"]["unread"], 0);
    assert!(
        ws.drain(Duration::from_millis(1500))
            .iter()
            .all(|f| !f["type"].as_str().unwrap_or("").starts_with("job:")),
        "job events stay off the inbox channel"
    );
}
