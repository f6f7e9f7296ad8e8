//! Build script: embeds `static/` into the binary under content-hashed URLs.
//!
//! Every servable file gets a URL carrying the first 12 hex digits of its SHA-256, so it
//! can be cached for a year and still change the moment its bytes do; templates ask for
//! the logical name (`css/app.css`) and receive the hashed URL. Subresource-integrity
//! values (SHA-384) are computed here too, so `<script integrity=…>` never goes stale.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use base64::Engine as _;
use sha2::{Digest, Sha256, Sha384};

fn main() {
    println!("cargo:rerun-if-changed=static");
    // sqlx::migrate!() embeds migrations/; rebuild when one is added or edited.
    println!("cargo:rerun-if-changed=migrations");

    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let static_dir = root.join("static");
    let mut files = Vec::new();
    collect(&static_dir, &mut files);
    files.sort();

    let mut out = String::from("pub(crate) static ASSETS: &[Asset] = &[\n");
    for path in files {
        let Some(content_type) = content_type(&path) else {
            continue;
        };
        let bytes = fs::read(&path).expect("read static file");
        let logical =
            path.strip_prefix(&static_dir).expect("file under static/").to_string_lossy().replace('\\', "/");
        let hash = hex(&Sha256::digest(&bytes)[..6]);
        let url = match logical.rsplit_once('.') {
            Some((stem, ext)) => format!("/static/{stem}.{hash}.{ext}"),
            None => format!("/static/{logical}.{hash}"),
        };
        let integrity =
            format!("sha384-{}", base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&bytes)));
        writeln!(
            out,
            "    Asset {{ logical: {logical:?}, url: {url:?}, content_type: {content_type:?}, \
             integrity: {integrity:?}, bytes: include_bytes!({path:?}) }},",
            path = path.to_string_lossy()
        )
        .expect("write to string");
    }
    out.push_str("];\n");

    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("assets.rs");
    fs::write(dest, out).expect("write generated asset table");
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// Only these kinds are served; READMEs, licences and checksum notes stay in the repo.
fn content_type(path: &Path) -> Option<&'static str> {
    Some(match path.extension()?.to_str()? {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "webmanifest" => "application/manifest+json",
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
