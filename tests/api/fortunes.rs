//! The Fortunes page of benchmark S1 (served by `lockdev bench floor`).

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_fortunes_page_lists_every_fortune_and_one_added_now_sorted_and_escaped() {
    let app = spawn_app().routes(lockdev::bench::fortunes::routes()).spawn().await;
    let owner = app.database().owner_pool().await;
    lockdev::bench::data::seed_fortunes(&owner).await.expect("fortunes");
    // Seeding twice leaves the same twelve rows.
    lockdev::bench::data::seed_fortunes(&owner).await.expect("fortunes again");

    let res = app.get("/fortunes").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let html = res.text().await.expect("body");

    let rows: Vec<(i32, String)> = html
        .lines()
        .filter_map(|line| line.strip_prefix("<tr><td>")?.strip_suffix("</td></tr>"))
        .map(|row| {
            let (id, message) = row.split_once("</td><td>").expect("two cells");
            (id.parse().expect("id"), message.to_owned())
        })
        .collect();
    assert_eq!(rows.len(), 13, "{html}");
    assert!(rows.iter().any(|(id, m)| *id == 0 && m == lockdev::bench::fortunes::ADDED_AT_REQUEST_TIME));
    // Sorted by the message as stored, not as escaped: compare the unescaped text.
    let unescaped: Vec<String> = rows.iter().map(|(_, m)| unescape(m)).collect();
    let mut sorted = unescaped.clone();
    sorted.sort();
    assert_eq!(unescaped, sorted);
    // Markup in a fortune is text on the page, never markup.
    assert!(!html.contains("<script>"), "{html}");
    assert!(unescaped.iter().any(|m| m == "<script>alert('the chart is open')</script>"));
    assert!(html.contains("coffee &#38; kind words") || html.contains("coffee &amp; kind words"), "{html}");
    assert!(html.contains("早寝早起き、病知らず。"), "{html}");
}

/// The text an HTML character reference stands for (decimal and the five named ones).
fn unescape(html: &str) -> String {
    let mut text = String::new();
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        text.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("a reference ends with ;") + at;
        let name = &rest[at + 1..end];
        let decoded = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => char::from_u32(name.strip_prefix('#').expect("numeric").parse().expect("decimal"))
                .expect("char"),
        };
        text.push(decoded);
        rest = &rest[end + 1..];
    }
    text.push_str(rest);
    text
}
