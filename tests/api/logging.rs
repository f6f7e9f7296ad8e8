//! Logs: JSON lines through the redaction layer, with the request id (AUD-08 for this
//! layer: no PHI, secrets or query strings in application logs).

use lockdev::web::{Access, Phi, Routes};

use crate::helpers::spawn_app;

const CANARIES: [&str; 5] =
    ["canary-pw-7731", "canary@patient.example", "1987-04-12", "CANARY-MRN-55", "canary-session-cookie"];

fn logging_route() -> Routes {
    Routes::new().get("/test/log", Access::Public, Phi::None, || async {
        tracing::info!(
            password = CANARIES[0],
            patient_email = CANARIES[1],
            dob = CANARIES[2],
            mrn = CANARIES[3],
            session_cookie = CANARIES[4],
            count = 3,
            "handled a sensitive request"
        );
        "logged"
    })
}

#[tokio::test]
async fn sensitive_fields_never_reach_the_log_output() {
    let app = spawn_app().routes(logging_route()).capture_logs().spawn().await;
    let res = app.get("/test/log").await;
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().expect("ascii").to_owned();

    let logs = app.logs.contents();
    for canary in CANARIES {
        assert!(!logs.contains(canary), "{canary} leaked into the logs:\n{logs}");
    }
    let line =
        logs.lines().find(|l| l.contains("handled a sensitive request")).expect("the event was logged");
    let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    assert_eq!(event["password"], "[redacted]");
    assert_eq!(event["patient_email"], "[redacted]");
    assert_eq!(event["count"], 3, "ordinary fields are kept");
    assert_eq!(event["request_id"], request_id, "the request id is on the line");
    assert_eq!(event["route"], "/test/log");
}

#[tokio::test]
async fn every_request_is_logged_with_its_id_route_status_and_latency_but_never_its_query() {
    let app = spawn_app().capture_logs().spawn().await;
    let res = app.get("/?name=CANARY-QUERY-NAME&dob=1987-04-12").await;
    let request_id = res.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    let logs = app.logs.contents();
    assert!(!logs.contains("CANARY-QUERY-NAME") && !logs.contains("1987-04-12"), "{logs}");
    let response_line = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .find(|e| e["message"] == "response" && e["request_id"] == request_id)
        .expect("a response line for this request");
    assert_eq!(response_line["status"], 200);
    assert_eq!(response_line["method"], "GET");
    assert_eq!(response_line["route"], "/");
    assert!(response_line["latency_ms"].as_f64().is_some());
}

#[tokio::test]
async fn cr_lf_in_logged_values_cannot_forge_a_log_line() {
    let app = spawn_app()
        .routes(Routes::new().get("/test/forge", Access::Public, Phi::None, || async {
            tracing::info!(detail = "ok\n{\"level\":\"INFO\",\"message\":\"forged\"}", "attempt");
            "done"
        }))
        .capture_logs()
        .spawn()
        .await;
    app.get("/test/forge").await;
    for line in app.logs.contents().lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("every line is one JSON object");
        assert_ne!(event["message"], "forged");
    }
}
