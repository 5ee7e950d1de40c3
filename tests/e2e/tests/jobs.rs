//! The welcome-email job through the real local queue, and the cron trigger.

use crate::assertions as check;
use crate::client::Ws;
use crate::fixtures::fresh_tenant;
use crate::Ctx;
use serde_json::json;
use std::time::Duration;

pub fn welcome_email_completes(cx: &mut Ctx) {
    let t = fresh_tenant("mail");
    let tok = cx.token(&t, "b1", "broker");
    let mut ws = Ws::connect(&cx.server.base, &tok);
    ws.subscribe(&["tenant"], None);
    let r = cx.api.post(
        "/api/crm/customers",
        &tok,
        &json!({"name": "Grace", "email": "grace@example.com"}),
    );
    check::status(&r, 201);
    let job_id = r
        .header("pulse-job-id")
        .expect("pulse-job-id header")
        .to_string();
    let (done, before) = ws.wait_for("job:completed", Duration::from_secs(30));
    check::event(&done, "job:completed");
    assert_eq!(done["data"]["id"], job_id.as_str());
    assert_eq!(done["data"]["status"], "completed");
    assert!(before.iter().any(|e| e["type"] == "crm:customer:created"));
    let j = cx.api.get(&format!("/api/jobs/{job_id}"), &tok);
    check::status(&j, 200);
    assert_eq!(j.body["status"], "completed");
    assert_eq!(j.body["kind"], "welcome_email");
    assert_eq!(j.body["attempts"], 1);
    let m = cx.api.get("/api/dev/messages", &tok);
    check::status(&m, 200);
    let msgs = m.body["data"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{}", m.body);
    assert_eq!(msgs[0]["recipient"], "grace@example.com");
    assert_eq!(msgs[0]["job_id"], job_id.as_str());
    assert!(msgs[0]["body"].as_str().unwrap().contains("Grace"));
    // Another tenant sees neither the job nor the message.
    let other = cx.token(&fresh_tenant("mail-other"), "x", "admin");
    check::error(
        &cx.api.get(&format!("/api/jobs/{job_id}"), &other),
        404,
        "not_found",
    );
    assert_eq!(
        cx.api.get("/api/dev/messages", &other).body["data"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A customer without email starts no job.
    let r = cx
        .api
        .post("/api/crm/customers", &tok, &json!({"name": "No Mail"}));
    assert!(r.header("pulse-job-id").is_none());
    ws.close();
}

/// The cron redrives an outbox row whose inline delivery failed: the event is in neither
/// the live stream nor the history until `/__scheduled` runs, then in both, once.
pub fn cron_runs(cx: &mut Ctx) {
    let t = fresh_tenant("cron");
    let tok = cx.token(&t, "b1", "broker");
    let mut ws = Ws::connect(&cx.server.base, &tok);
    let head = ws.subscribe(&["tenant"], None)["head"].as_u64().unwrap();
    let r = cx.api.raw_with(
        "POST",
        "/api/crm/customers",
        &tok,
        &json!({"name": "held for the cron"}).to_string(),
        &[("x-pulse-fault", "hub-down")],
    );
    check::status(&r, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(
        ws.recv(Duration::from_millis(800)).is_none(),
        "the fault did not hold the event back"
    );
    let history = |cx: &Ctx| {
        let h = cx
            .api
            .get(&format!("/api/realtime/events?since={head}"), &tok);
        check::status(&h, 200);
        h.body["data"].as_array().unwrap().clone()
    };
    assert!(history(cx).is_empty(), "undelivered, yet in the history");
    assert_eq!(cx.server.run_cron(), 200);
    let e = ws.next_event();
    check::event(&e, "crm:customer:created");
    assert_eq!(e["data"]["id"], id.as_str());
    assert_eq!(e["seq"].as_u64(), Some(head + 1));
    let h = history(cx);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0]["data"]["id"], id.as_str());
    // A second run has nothing left to deliver.
    assert_eq!(cx.server.run_cron(), 200);
    assert!(ws.recv(Duration::from_millis(800)).is_none());
    assert_eq!(history(cx).len(), 1);
    ws.close();
}
