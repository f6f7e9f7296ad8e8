//! The shape of the code, read from the source (as the registry test reads it for
//! `.route(`): the layers import only downwards, no feature imports another but chart
//! sections into `chart/`, and feature code reaches the database only through
//! `TenantTx` and `SystemTx`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::helpers::{files_under, repo_root};

/// Each module's layer, bottom first. Features are every other folder or file.
const LAYERS: &[&[&str]] = &[
    &["config", "clock", "error", "db", "crypto", "contact_info", "telemetry"],
    &["audit", "integrations"],
    &["jobs"],
    &["notify"],
    &["auth"],
    &["web"],
    &["chart"],
];
/// Above the features: they may use anything.
const TOP: &[&str] = &["app", "cli", "bench", "lib", "main"];
/// The layer every feature is in.
const FEATURES: usize = LAYERS.len();

fn layer(module: &str) -> usize {
    if TOP.contains(&module) {
        return FEATURES + 1;
    }
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or(FEATURES)
}

/// The module a file under `src/` belongs to (its first path component).
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix(repo_root().join("src")).expect("under src");
    let first = relative.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
    first.strip_suffix(".rs").unwrap_or(&first).to_owned()
}

/// Every `crate::<module>` a file names (in code or documentation: a link to a higher
/// layer is a dependency of the reader's understanding too), grouped imports
/// (`crate::{a, b::c}`) included.
fn named_modules(text: &str) -> BTreeSet<String> {
    named_after(text, "crate::")
}

/// What follows each `prefix` (`crate::`, `super::`, `crate::web::`): the names, groups
/// included.
fn named_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let ident =
        |s: &str| -> String { s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let mut found = BTreeSet::new();
    for (index, _) in text.match_indices(prefix) {
        // `crate::web::` inside `crate::web::x::` is fine; `super::` must not be the tail
        // of a longer path (`self::super::`), nor `crate::` of `$crate::`.
        if index > 0
            && text[..index]
                .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '$')
        {
            continue;
        }
        let rest = &text[index + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The top-level items of the group: split at commas outside nested braces.
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.insert(ident(group[start..i].trim_start()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.insert(ident(group[start..i].trim_start()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(rest));
        }
    }
    found.remove("");
    found
}

#[test]
fn grouped_imports_count_as_imports() {
    let named = named_modules("use crate::{db, web::{AppState, Routes}, patients::repo};\nuse crate::audit;");
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["audit", "db", "patients", "web"]);
}

fn sources() -> Vec<(std::path::PathBuf, String, String)> {
    files_under("src")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("source");
            let module = module_of(&p);
            (p, module, text)
        })
        .collect()
}

#[test]
fn every_module_imports_only_the_layers_below_it_and_no_feature_imports_another() {
    let mut offenders = Vec::new();
    for (path, module, text) in sources() {
        let own = layer(&module);
        for named in named_modules(&text) {
            if named == module {
                continue;
            }
            let theirs = layer(&named);
            let allowed = own > FEATURES // the composition root, the command line, the benchmarks
                || theirs < own
                // The bottom layer's small pieces lean on each other (an error knows what a
                // database error is; the database reads its configuration).
                || (own == 0 && theirs == 0);
            if !allowed {
                offenders.push(format!(
                    "{}: {module} (layer {own}) names crate::{named} (layer {theirs})",
                    path.display()
                ));
            }
        }
    }
    assert!(offenders.is_empty(), "imports against the layers:\n{}", offenders.join("\n"));
}

#[test]
fn the_layer_test_sees_every_module_it_names() {
    // A module renamed or removed must not leave the table above silently stale.
    let modules: BTreeSet<String> = sources().into_iter().map(|(_, m, _)| m).collect();
    for name in LAYERS.iter().flat_map(|l| l.iter()).chain(TOP.iter()) {
        assert!(modules.contains(*name), "the layer table names {name}, which is not a module under src/");
    }
    // And the features it infers are real folders with routes.
    let features: Vec<&String> = modules.iter().filter(|m| layer(m) == FEATURES).collect();
    assert!(features.len() >= 15, "{features:?}");
    for feature in features {
        let folder = repo_root().join("src").join(feature);
        assert!(folder.is_dir(), "feature {feature} is a folder");
    }
}

#[test]
fn feature_code_reaches_the_database_only_through_its_transactions() {
    // TenantTx and SystemTx are the doors; the pool behind them is the plumbing's.
    let forbidden = [
        "state.db",
        "state.reads",
        "begin_system(",
        "begin_tenant(",
        "platform_connection(",
        "runtime_pool(",
        "owner_pool(",
        "PgPool",
    ];
    let mut offenders = Vec::new();
    for (path, module, text) in sources() {
        if layer(&module) != FEATURES && module != "chart" {
            continue;
        }
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if let Some(found) = forbidden.iter().find(|f| code.contains(*f)) {
                offenders.push(format!("{}:{}: {found}: {}", path.display(), number + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "feature code touching the pool:\n{}", offenders.join("\n"));
}

/// The sibling files a file of module `module` names: `crate::<module>::<file>` and
/// `super::<file>` (grouped imports included), and items the module's `mod.rs`
/// re-exports (`pub use file::Item`), resolved to their file.
fn sibling_files(
    text: &str,
    module: &str,
    files: &BTreeSet<String>,
    exported: &[(String, String)],
) -> BTreeSet<String> {
    let mut named = named_after(text, &format!("crate::{module}::"));
    named.extend(named_after(text, "super::"));
    named
        .into_iter()
        .filter_map(|name| {
            if files.contains(&name) {
                Some(name)
            } else {
                exported.iter().find(|(item, _)| *item == name).map(|(_, file)| file.clone())
            }
        })
        .collect()
}

/// `pub use file::{A, B}` / `pub use file::A` lines of a module's `mod.rs`: (item, file).
fn re_exports(mod_rs: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in mod_rs.lines() {
        let Some(rest) =
            line.trim().strip_prefix("pub use ").or_else(|| line.trim().strip_prefix("pub(crate) use "))
        else {
            continue;
        };
        let Some((file, items)) = rest.trim_end_matches(';').split_once("::") else { continue };
        if file == "crate" {
            continue;
        }
        for item in items.trim_matches(|c| c == '{' || c == '}').split(',') {
            let item = item.split(" as ").last().unwrap_or("").trim();
            if !item.is_empty() {
                out.push((item.to_owned(), file.to_owned()));
            }
        }
    }
    out
}

#[test]
fn no_circle_of_files_inside_a_module() {
    let src = repo_root().join("src");
    let mut circles = Vec::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let module = dir.file_name().expect("name").to_string_lossy().into_owned();
        let files: BTreeSet<String> = std::fs::read_dir(&dir)
            .expect("module")
            .filter_map(|e| {
                let path = e.expect("entry").path();
                let name = path.file_name()?.to_string_lossy().into_owned();
                if path.is_dir() {
                    Some(name)
                } else {
                    name.strip_suffix(".rs").filter(|n| *n != "mod").map(str::to_owned)
                }
            })
            .collect();
        let exported = re_exports(&std::fs::read_to_string(dir.join("mod.rs")).unwrap_or_default());
        let edges: Vec<(String, BTreeSet<String>)> = files
            .iter()
            .map(|file| {
                let path = if dir.join(format!("{file}.rs")).exists() {
                    dir.join(format!("{file}.rs"))
                } else {
                    dir.join(file).join("mod.rs")
                };
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let mut named = sibling_files(&text, &module, &files, &exported);
                named.remove(file);
                (file.clone(), named)
            })
            .collect();
        // A file is in a circle when it reaches itself.
        for (start, _) in &edges {
            let mut seen = BTreeSet::new();
            let mut stack: Vec<&String> =
                edges.iter().find(|(f, _)| f == start).map(|(_, n)| n.iter().collect()).unwrap_or_default();
            while let Some(next) = stack.pop() {
                if next == start {
                    circles.push(format!("src/{module}/{start} reaches itself"));
                    break;
                }
                if seen.insert(next.clone())
                    && let Some((_, more)) = edges.iter().find(|(f, _)| f == next)
                {
                    stack.extend(more.iter());
                }
            }
        }
    }
    assert!(circles.is_empty(), "files that depend on each other in a circle:\n{}", circles.join("\n"));
}

#[test]
fn a_circle_of_files_is_seen() {
    let files: BTreeSet<String> = ["a", "b"].into_iter().map(str::to_owned).collect();
    let exported = re_exports("pub use b::{Thing, Other as Renamed};\npub use crate::error::AppError;");
    assert_eq!(exported, [("Thing".into(), "b".into()), ("Renamed".into(), "b".into())]);
    let named = sibling_files("use crate::web::Thing;\nuse super::a::x;", "web", &files, &exported);
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["a", "b"]);
}
