//! The base page, htmx fragments and static assets.

use base64::Engine as _;
use sha2::Digest as _;

use crate::helpers::{files_under, repo_root, spawn_app};

#[tokio::test]
async fn the_start_page_renders_with_landmarks_and_the_configured_htmx() {
    let app = spawn_app().spawn().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/html"));
    let html = res.text().await.expect("body");
    for expected in [
        "<html lang=\"en\">",
        "class=\"skip-link\" href=\"#main\"",
        "<main id=\"main\"",
        "<nav class=\"site-nav\" id=\"site-nav\" aria-label=\"Main\">",
        "id=\"toasts\"",
        "\"historyCacheSize\":0",
        "\"allowEval\":false",
        "\"includeIndicatorStyles\":false",
        "\"selfRequestsOnly\":true",
        "\"allowScriptTags\":false",
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }
    assert!(!html.contains("style=\""), "no inline styles: the CSP has no 'unsafe-inline' for styles");
}

#[tokio::test]
async fn the_status_panel_comes_as_a_fragment_for_htmx_and_a_page_otherwise() {
    let app = spawn_app().spawn().await;
    let fragment = app.get_fragment("/status").await.text().await.expect("body");
    assert!(fragment.trim_start().starts_with("<section id=\"status-panel\""), "{fragment}");
    assert!(!fragment.contains("<html"));
    assert!(fragment.contains("All systems working"));

    let page = app.get("/status").await.text().await.expect("body");
    assert!(page.contains("<html") && page.contains("id=\"status-panel\""));
}

#[tokio::test]
async fn static_assets_are_served_by_hash_with_matching_integrity() {
    let app = spawn_app().spawn().await;
    let html = app.get("/").await.text().await.expect("body");
    for logical in ["vendor/htmx/htmx.min.js", "js/app.js"] {
        let url = lockdev::web::assets::url(logical);
        assert!(html.contains(url), "{logical} linked by its hashed URL");
        let res = app.get(url).await;
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"].to_str().expect("ascii").starts_with("text/javascript"));
        let bytes = res.bytes().await.expect("body");
        let integrity = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(&bytes))
        );
        assert!(
            html.contains(&format!("integrity=\"{integrity}\"")),
            "{logical}: integrity matches the bytes served"
        );
    }
    // Only hashed names are served.
    assert_eq!(app.get("/static/css/app.css").await.status(), 404);
    assert_eq!(app.get("/static/vendor/htmx/VERSION.md").await.status(), 404);
}

#[test]
fn vendored_htmx_matches_its_recorded_checksum() {
    let root = repo_root().join("static/vendor/htmx");
    let bytes = std::fs::read(root.join("htmx.min.js")).expect("htmx.min.js");
    let actual: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let notes = std::fs::read_to_string(root.join("VERSION.md")).expect("VERSION.md");
    assert!(
        notes.contains(&format!("sha256: `{actual}`")),
        "recorded sha256 differs from the file ({actual})"
    );
    let version = notes.lines().find_map(|l| l.strip_prefix("- package: `htmx.org` ")).expect("version line");
    assert!(version.starts_with("2.0."), "pinned to htmx 2.0.x: {version}");
    assert!(
        String::from_utf8_lossy(&bytes)
            .contains(&format!("version:\"{}\"", &version[..version.find(' ').unwrap_or(version.len())]))
    );
}

#[test]
fn every_asset_named_in_a_template_exists() {
    let mut names = Vec::new();
    for path in files_under("templates") {
        let text = std::fs::read_to_string(&path).expect("template");
        for part in text.split("assets::url(\"").skip(1).chain(text.split("assets::integrity(\"").skip(1)) {
            names.push(part.split('"').next().expect("name").to_owned());
        }
    }
    assert!(!names.is_empty());
    for name in names {
        assert!(
            lockdev::web::assets::all().iter().any(|a| a.logical == name),
            "templates ask for static/{name}, which does not exist"
        );
    }
}
