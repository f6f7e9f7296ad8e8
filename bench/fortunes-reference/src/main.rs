//! S1's reference: the Fortunes handler with nothing around it. axum without middleware,
//! a few tokio-postgres connections shared by all requests (queries from concurrent
//! requests are pipelined on a connection rather than waiting for a connection of their
//! own), one prepared statement, and the page written into one string with hand-rolled
//! escaping. It does the same work as the application's `/fortunes` (read the table, add
//! a fortune, sort by message, escape, render), so the ratio between the two is the cost
//! of our stack. It compresses as the application does for a browser's headers (Brotli
//! or gzip at their fastest level, only above 1,400 bytes), so both sides do equal work
//! and the ratio measures the stack, not the compression.
//!
//! Usage: `lockdev-fortunes-reference <bind> <database url> [connections]`
//! (connections: one per core by default).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_postgres::{Client, NoTls, Statement};
use tower_http::compression::predicate::SizeAbove;
use tower_http::compression::{CompressionLayer, CompressionLevel};

/// Must match `DYNAMIC_COMPRESSION` and `SMALLEST_COMPRESSED` in the application's
/// `web/pipeline.rs`.
const LEVEL: CompressionLevel = CompressionLevel::Precise(1);
const SMALLEST_COMPRESSED: u64 = 1400;

/// Must match the application's added fortune, so both pages are the same size.
const ADDED_AT_REQUEST_TIME: &str = "A fortune written while you waited.";

struct Connection {
    client: Client,
    fortunes: Statement,
}

struct Connections {
    all: Vec<Connection>,
    next: AtomicUsize,
}

impl Connections {
    fn pick(&self) -> &Connection {
        &self.all[self.next.fetch_add(1, Ordering::Relaxed) % self.all.len()]
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(bind), Some(url)) = (args.get(1), args.get(2)) else {
        return Err("usage: lockdev-fortunes-reference <bind> <database url> [connections]".into());
    };
    let count = match args.get(3) {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut all = Vec::with_capacity(count);
    for _ in 0..count {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("fortunes-reference: connection ended: {error}");
            }
        });
        let fortunes = client.prepare("SELECT id, message FROM bench.fortune").await?;
        all.push(Connection { client, fortunes });
    }
    let state = Arc::new(Connections { all, next: AtomicUsize::new(0) });
    let compression = CompressionLayer::new().quality(LEVEL).compress_when(SizeAbove::new(SMALLEST_COMPRESSED));
    let app = Router::new().route("/fortunes", get(fortunes)).with_state(state).layer(compression);
    let listener = tokio::net::TcpListener::bind(bind.as_str()).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn fortunes(State(connections): State<Arc<Connections>>) -> Response {
    let connection = connections.pick();
    let rows = match connection.client.query(&connection.fortunes, &[]).await {
        Ok(rows) => rows,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    let mut fortunes: Vec<(i32, String)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    fortunes.push((0, ADDED_AT_REQUEST_TIME.to_owned()));
    fortunes.sort_unstable_by(|a, b| a.1.cmp(&b.1));

    let mut html = String::with_capacity(2048);
    html.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>Fortunes</title></head>\n\
         <body>\n<table>\n<tr><th>id</th><th>message</th></tr>\n",
    );
    for (id, message) in &fortunes {
        let _ = write!(html, "<tr><td>{id}</td><td>");
        escape_into(&mut html, message);
        html.push_str("</td></tr>\n");
    }
    html.push_str("</table>\n</body>\n</html>\n");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn escape_into(out: &mut String, text: &str) {
    let mut from = 0;
    for (at, byte) in text.bytes().enumerate() {
        let entity = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[from..at]);
        out.push_str(entity);
        from = at + 1;
    }
    out.push_str(&text[from..]);
}
