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

pub fn cron_runs(cx: &mut Ctx) {
    assert_eq!(cx.server.run_cron(), 200);
}
