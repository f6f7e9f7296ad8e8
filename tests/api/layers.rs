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

/// The files a feature folder may hold, and what each is for.
const FEATURE_FILES: &[&str] = &[
    "mod.rs",      // the routes and what the feature contributes (navigation, chart tabs, jobs)
    "handlers.rs", // or a `handlers/` folder of them
    "repo.rs",     // all of the feature's SQL, in functions that take the transaction
    "views.rs",    // the templates' types
    "domain.rs",   // rules, where there are some
];

/// What marks SQL sent to the database, and a template type.
const SQL_MARKERS: &[&str] =
    &["sqlx::query", "query!(", "query_as!(", "query_scalar!(", "query_as::<", "query_scalar::<"];

/// Feature folders, as (name, folder).
fn feature_folders() -> Vec<(String, std::path::PathBuf)> {
    let src = repo_root().join("src");
    let mut folders: Vec<(String, std::path::PathBuf)> = std::fs::read_dir(&src)
        .expect("src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().expect("name").to_string_lossy().into_owned(), p))
        .filter(|(name, _)| layer(name) == FEATURES)
        .collect();
    folders.sort();
    folders
}

/// The shape a folder breaks, if any: a file outside [`FEATURE_FILES`] (a folder only as
/// `handlers/`), SQL outside `repo.rs`, a template type outside `views.rs`, no routes.
fn shape_problems(feature: &str, folder: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(folder).expect("feature folder") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let allowed = if path.is_dir() { name == "handlers" } else { FEATURE_FILES.contains(&name.as_str()) };
        if !allowed {
            problems.push(format!("src/{feature}/{name}: not one of {FEATURE_FILES:?} (or handlers/)"));
        }
    }
    if folder.join("handlers.rs").exists() && folder.join("handlers").exists() {
        problems.push(format!("src/{feature}: both handlers.rs and handlers/"));
    }
    let mod_rs = std::fs::read_to_string(folder.join("mod.rs")).unwrap_or_default();
    if !mod_rs.contains("pub fn routes() -> Routes") {
        problems.push(format!("src/{feature}/mod.rs: declares no routes"));
    }
    let mut files = vec![folder.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).expect("read dir").map(|e| e.expect("entry").path()));
            continue;
        }
        let relative = path.strip_prefix(folder).expect("in the folder").display().to_string();
        let file = path.file_name().expect("name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let code: String = text
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        if file != "repo.rs" && SQL_MARKERS.iter().any(|m| code.contains(m)) {
            problems.push(format!("src/{feature}/{relative}: SQL outside repo.rs"));
        }
        if file != "views.rs" && code.contains("#[template(") {
            problems.push(format!("src/{feature}/{relative}: a template type outside views.rs"));
        }
    }
    problems
}

#[test]
fn every_feature_folder_has_the_one_shape() {
    let folders = feature_folders();
    assert!(folders.len() >= 15, "{folders:?}");
    let problems: Vec<String> =
        folders.iter().flat_map(|(name, folder)| shape_problems(name, folder)).collect();
    assert!(problems.is_empty(), "feature folders out of shape:\n{}", problems.join("\n"));
}

#[test]
fn a_folder_out_of_shape_is_seen() {
    // The check itself, on a folder made to break each rule.
    let folder = std::env::temp_dir().join(format!("lockdev-shape-{}", std::process::id()));
    std::fs::create_dir_all(folder.join("helpers")).expect("folder");
    std::fs::write(folder.join("mod.rs"), "mod handlers;\n").expect("write");
    std::fs::write(folder.join("store.rs"), "").expect("write");
    std::fs::write(folder.join("handlers.rs"), "fn f() { sqlx::query!(\"SELECT 1\"); }\n").expect("write");
    std::fs::write(folder.join("helpers/page.rs"), "#[template(path = \"x.html\")]\nstruct P;\n")
        .expect("write");
    let problems = shape_problems("no_such_feature", &folder);
    std::fs::remove_dir_all(&folder).ok();
    let said = problems.join("\n");
    assert!(said.contains("store.rs: not one of"), "{said}");
    assert!(said.contains("helpers: not one of"), "{said}");
    assert!(said.contains("declares no routes"), "{said}");
    assert!(said.contains("handlers.rs: SQL outside repo.rs"), "{said}");
    assert!(said.contains("page.rs: a template type outside views.rs"), "{said}");
}

/// The string literals of Rust source, comments and `#[cfg(test)]` modules left out.
fn string_literals(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut literals = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut chars = line.chars().peekable();
        let mut current: Option<String> = None;
        while let Some(c) = chars.next() {
            match (&mut current, c) {
                (None, '"') => current = Some(String::new()),
                (None, '/') if chars.peek() == Some(&'/') => break,
                (Some(text), '\\') => {
                    if let Some(escaped) = chars.next() {
                        text.push(escaped);
                    }
                }
                (Some(_), '"') => literals.push(current.take().unwrap_or_default()),
                (Some(text), c) => text.push(c),
                (None, _) => {}
            }
        }
    }
    literals
}

/// What names a feature: its folder's name (as a whole string), and the first segment of
/// every path its routes and declarations use ("/patients/...", "/sign-in").
struct FeatureNames {
    folders: BTreeSet<String>,
    segments: BTreeSet<String>,
}

fn feature_names() -> FeatureNames {
    let mut names = FeatureNames { folders: BTreeSet::new(), segments: BTreeSet::new() };
    for (name, folder) in feature_folders() {
        names.folders.insert(name.replace('_', "-"));
        names.folders.insert(name);
        let mod_rs = std::fs::read_to_string(folder.join("mod.rs")).unwrap_or_default();
        for literal in string_literals(&mod_rs) {
            if let Some(segment) = first_segment(&literal) {
                names.segments.insert(segment);
            }
        }
    }
    names
}

/// "patients" for "/patients/{id}"; None for what is not a path, or is "/".
fn first_segment(literal: &str) -> Option<String> {
    let path = literal.strip_prefix('/')?;
    let segment: String = path.chars().take_while(|c| *c != '/' && *c != '?' && *c != '{').collect();
    (!segment.is_empty()).then_some(segment)
}

/// Words that are a feature's name and also plain vocabulary of a layer below, in the
/// one place each is used that way: (file, word, what it means there).
const SAME_WORD_OTHER_MEANING: &[(&str, &str, &str)] = &[
    ("src/notify/gate.rs", "appointments", "the purpose of a message (reminders), as consent names it"),
    ("src/notify/gate.rs", "home", "a kind of telephone number"),
    ("src/telemetry.rs", "notes", "a field name whose values are kept out of the logs"),
    ("src/telemetry.rs", "insurance", "a field name whose values are kept out of the logs"),
    ("src/config/mail.rs", "dev", "the setting value that picks the development mailbox"),
    ("src/config/messaging.rs", "dev", "the setting value that picks the development outbox"),
];

/// Whether `literal` (in `file`) names a feature: it is a feature folder's name, or a
/// path whose first segment a feature's routes use.
fn names_a_feature(file: &str, literal: &str, names: &FeatureNames) -> Option<String> {
    if let Some(segment) = first_segment(literal) {
        return names.segments.contains(&segment).then_some(segment);
    }
    let other_meaning =
        SAME_WORD_OTHER_MEANING.iter().any(|(f, word, _)| file.ends_with(f) && *word == literal);
    (names.folders.contains(literal) && !other_meaning).then(|| literal.to_owned())
}

#[test]
fn the_plumbing_names_no_feature_not_even_in_a_string() {
    // Navigation, chart tabs, job kinds, live channels and the sign-in flow's pages are
    // declared by the features; the plumbing (and its templates) only reads them.
    let names = feature_names();
    assert!(names.segments.contains("patients") && names.segments.contains("sign-in"));
    assert!(names.folders.contains("care_team") && names.folders.contains("care-team"));
    let mut offenders = Vec::new();
    for (path, module, text) in sources() {
        if layer(&module) >= FEATURES {
            continue;
        }
        let file = path.display().to_string();
        for literal in string_literals(&text) {
            if let Some(name) = names_a_feature(&file, &literal, &names) {
                offenders.push(format!("{}: \"{literal}\" names {name}", path.display()));
            }
        }
    }
    for folder in ["layout", "partials", "errors", "chart", "emails"] {
        for path in files_under(&format!("templates/{folder}")) {
            let text = std::fs::read_to_string(&path).expect("template");
            let file = path.display().to_string();
            for literal in text.split('"').skip(1).step_by(2) {
                if let Some(name) = names_a_feature(&file, literal, &names) {
                    offenders.push(format!("{}: \"{literal}\" names {name}", path.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "plumbing naming features:\n{}", offenders.join("\n"));
}

#[test]
fn a_feature_named_in_a_string_is_seen() {
    let names = feature_names();
    let source = r#"fn f() { redirect("/sign-in?next=x"); let c = "appointments"; } // "/patients""#;
    let named: Vec<Option<String>> =
        string_literals(source).iter().map(|l| names_a_feature("src/web/x.rs", l, &names)).collect();
    assert_eq!(named, [Some("sign-in".to_owned()), Some("appointments".to_owned())]);
    assert_eq!(names_a_feature("src/web/x.rs", "/static/app.css", &names), None);
    assert_eq!(names_a_feature("src/web/x.rs", "password", &names), None);
}
