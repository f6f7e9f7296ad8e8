//! The request pipeline: request ids, trusted hosts, body limit, panics, rate limits
//! keyed by the real peer (RL-02), compression.

use chrono::TimeDelta;

use crate::helpers::{spawn_app, test_routes};

#[tokio::test]
async fn a_well_formed_request_id_from_our_load_balancer_is_kept() {
    let app = spawn_app().env("LOCKDEV_TRUSTED_PROXIES", "127.0.0.1").spawn().await;
    let res = app
        .client
        .get(app.url("/"))
        .header("X-Request-ID", "lb-4bf92f35-77b3")
        .send()
        .await
        .expect("request");
    assert_eq!(res.headers()["x-request-id"], "lb-4bf92f35-77b3");
}

#[tokio::test]
async fn a_request_id_chosen_by_a_client_is_replaced() {
    // B9: only our own proxies name requests; a client cannot choose the id its request
    // is filed under in the logs and the audit log.
    let app = spawn_app().spawn().await;
    let res = app
        .client
        .get(app.url("/"))
        .header("X-Request-ID", "lb-4bf92f35-77b3")
        .send()
        .await
        .expect("request");
    let id = res.headers()["x-request-id"].to_str().expect("ascii");
    assert_ne!(id, "lb-4bf92f35-77b3");
    assert!(ulid::Ulid::from_string(id).is_ok(), "{id}");
}

#[tokio::test]
async fn a_missing_or_malformed_request_id_is_replaced_by_a_fresh_ulid() {
    let app = spawn_app().spawn().await;
    let generated = app.get("/").await.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(ulid::Ulid::from_string(&generated).is_ok(), "{generated}");

    for bad in ["<script>alert(1)</script>", "short", &"x".repeat(100)] {
        let res = app.client.get(app.url("/")).header("X-Request-ID", bad).send().await.expect("request");
        let id = res.headers()["x-request-id"].to_str().expect("ascii");
        assert_ne!(id, bad);
        assert!(ulid::Ulid::from_string(id).is_ok(), "{id}");
    }
    // A CR/LF smuggled into the header cannot reach the response or a log line.
    let raw = app.raw(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: abcdefgh\rinjected\r\nConnection: close\r\n\r\n").await;
    assert!(!raw.contains("injected"), "{raw}");
}

#[tokio::test]
async fn the_error_page_shows_the_same_request_id_as_the_header() {
    let app = spawn_app().spawn().await;
    let res = app.get("/missing").await;
    let id = res.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    let html = res.text().await.expect("body");
    assert!(html.contains(&id), "reference shown on the page");
}

#[tokio::test]
async fn an_untrusted_host_gets_400_but_health_stays_reachable_by_address() {
    let app = spawn_app().spawn().await;
    let res = app.client.get(app.url("/")).header("Host", "attacker.example").send().await.expect("request");
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("body");
    assert!(html.contains("does not answer for that address"));

    let res =
        app.client.get(app.url("/health")).header("Host", "10.0.0.7:3000").send().await.expect("request");
    assert_eq!(res.status(), 200);

    // Trusted names are matched without their port and case-insensitively.
    let res = app.client.get(app.url("/")).header("Host", "LOCALHOST:8080").send().await.expect("request");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_before_the_handler_reads_it() {
    let app = spawn_app().routes(test_routes()).env("LOCKDEV_BODY_LIMIT_BYTES", "1024").spawn().await;
    let token = app.csrf_token().await;
    let ok = app
        .client
        .post(app.url("/test/echo"))
        .header("X-CSRF-Token", &token)
        .body(vec![b'a'; 1000])
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.expect("body"), "1000");

    let res = app
        .client
        .post(app.url("/test/echo"))
        .header("X-CSRF-Token", &token)
        .body(vec![b'a'; 5000])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 413);
    assert!(res.text().await.expect("body").contains("larger than this server accepts"));

    // Without a Content-Length (chunked), the limit applies while reading.
    let chunk = "a".repeat(800);
    let cookie = app.cookie_header();
    let request = format!(
        "POST /test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\nX-CSRF-Token: {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         320\r\n{chunk}\r\n320\r\n{chunk}\r\n0\r\n\r\n"
    );
    let raw = app.raw(request.as_bytes()).await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
}

#[tokio::test]
async fn a_panicking_handler_yields_the_styled_500_page_without_internals() {
    let app = spawn_app().routes(test_routes()).spawn().await;
    let res = app.get("/test/panic").await;
    assert_eq!(res.status(), 500);
    let id = res.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
    let html = res.text().await.expect("body");
    assert!(html.contains("Something went wrong"));
    assert!(html.contains(&id), "the reference to quote to support");
    assert!(
        !html.contains("SECRET-PANIC-DETAIL") && !html.contains("panicked") && !html.contains(".rs"),
        "{html}"
    );

    // The server keeps serving.
    assert_eq!(app.get("/").await.status(), 200);
}

#[tokio::test]
async fn an_htmx_request_that_fails_gets_a_toast_retargeted_to_the_toast_region() {
    let app = spawn_app().routes(test_routes()).spawn().await;
    let res = app.get_fragment("/test/panic").await;
    assert_eq!(res.status(), 500);
    assert_eq!(res.headers()["hx-retarget"], "#toasts");
    assert_eq!(res.headers()["hx-reswap"], "beforeend");
    let html = res.text().await.expect("body");
    assert!(html.contains("class=\"toast toast--error\""));
    assert!(!html.contains("<html"), "a fragment, not a page");
    assert!(!html.contains("SECRET-PANIC-DETAIL"));
}

#[tokio::test]
async fn rate_limits_key_on_the_peer_and_ignore_forwarded_for_from_untrusted_peers() {
    let app = spawn_app()
        .env("LOCKDEV_RATE_LIMIT_PER_SECOND", "1")
        .env("LOCKDEV_RATE_LIMIT_BURST", "2")
        .spawn()
        .await;
    // Each request claims to come from somewhere else; the peer is the same.
    for (i, claimed) in ["1.2.3.4", "5.6.7.8"].iter().enumerate() {
        let res =
            app.client.get(app.url("/")).header("X-Forwarded-For", *claimed).send().await.expect("request");
        assert_eq!(res.status(), 200, "request {i}");
    }
    let res =
        app.client.get(app.url("/")).header("X-Forwarded-For", "9.9.9.9").send().await.expect("request");
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    assert!(res.text().await.expect("body").contains("Too many requests"));

    // Time, not sleep: one second later a token is back.
    app.clock.advance(TimeDelta::seconds(1));
    assert_eq!(app.get("/").await.status(), 200);
}

#[tokio::test]
async fn forwarded_for_is_honoured_from_a_trusted_proxy() {
    let app = spawn_app()
        .env("LOCKDEV_RATE_LIMIT_PER_SECOND", "1")
        .env("LOCKDEV_RATE_LIMIT_BURST", "1")
        .env("LOCKDEV_TRUSTED_PROXIES", "127.0.0.1")
        .spawn()
        .await;
    // Behind our own proxy, distinct clients have distinct buckets...
    for client in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        let res =
            app.client.get(app.url("/")).header("X-Forwarded-For", client).send().await.expect("request");
        assert_eq!(res.status(), 200, "{client}");
    }
    // ...and the same client is limited even if it prepends a spoofed address.
    let res = app
        .client
        .get(app.url("/"))
        .header("X-Forwarded-For", "203.0.113.50, 198.51.100.1")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn pages_are_compressed_when_the_client_accepts_it_and_one_packet_answers_are_not() {
    let app = spawn_app().spawn().await;
    let browser = "gzip, deflate, br, zstd";
    let res = app.client.get(app.url("/")).header("Accept-Encoding", "gzip").send().await.expect("request");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let res = app.client.get(app.url("/")).header("Accept-Encoding", browser).send().await.expect("request");
    assert_eq!(res.headers()["content-encoding"], "br");

    let res =
        app.client.get(app.url("/health")).header("Accept-Encoding", browser).send().await.expect("request");
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-encoding").is_none(), "a tiny answer went out compressed");
}
