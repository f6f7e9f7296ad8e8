//! Build script: embeds `static/` into the binary under content-hashed URLs.
//!
//! Every servable file gets a URL carrying the first 12 hex digits of its SHA-256, so it
//! can be cached for a year and still change the moment its bytes do; templates ask for
//! the logical name (`css/app.css`) and receive the hashed URL. Subresource-integrity
//! values (SHA-384) are computed here too, so `<script integrity=…>` never goes stale.
//!
//! Text files are also compressed here, once, at the strongest settings (Brotli 11, gzip
//! 9): a request for a static file then costs a lookup, never a compression.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

use std::io::Write as _;

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

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
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
        let (brotli, gzip) = if compresses(content_type) {
            let stem = hex(&Sha256::digest(logical.as_bytes())[..8]);
            let br_path = out_dir.join(format!("{stem}.br"));
            let gz_path = out_dir.join(format!("{stem}.gz"));
            fs::write(&br_path, brotli_bytes(&bytes)).expect("write brotli");
            fs::write(&gz_path, gzip_bytes(&bytes)).expect("write gzip");
            (
                format!("Some(include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{stem}.br\")))"),
                format!("Some(include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{stem}.gz\")))"),
            )
        } else {
            ("None".to_owned(), "None".to_owned())
        };
        // Paths relative to the package and OUT_DIR, not absolute: a checkout moved (or a
        // second checkout sharing the target directory) compiles its own files.
        writeln!(
            out,
            "    Asset {{ logical: {logical:?}, url: {url:?}, content_type: {content_type:?}, \
             integrity: {integrity:?}, bytes: include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/static/{logical}\")), \
             brotli: {brotli}, gzip: {gzip} }},"
        )
        .expect("write to string");
    }
    out.push_str("];\n");

    fs::write(out_dir.join("assets.rs"), out).expect("write generated asset table");
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

/// Text compresses well; images and fonts are compressed already.
fn compresses(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type.contains("svg") || content_type.contains("json")
}

fn brotli_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("brotli");
    out
}

fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
