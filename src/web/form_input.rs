//! One cleaning step for every form, before any handler reads it.
//!
//! A value that cannot be stored (a NUL byte: PostgreSQL text refuses it) or that can
//! disguise what a person reads (a right-to-left override turns "Smith" into what looks
//! like another name; other control characters hide in pasted text) is refused here,
//! once, for every state-changing route the registry declares, so no form can forget
//! it. Tabs and line breaks are allowed only in the fields a route declares multi-line
//! (a note's text); everywhere else a value is one line. Passwords are exempt: they are
//! hashed, never stored as text or shown, and any character may be part of one.
//!
//! The refusal is a 422 naming the field. htmx receives it as a toast plus an
//! `HX-Trigger` event that puts the message next to the field (`static/js/app.js`); the
//! form is not swapped, so nothing typed is lost. Nothing reached a handler, so nothing
//! was written.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::error_response;

/// Why a form was refused: the field (its name in the form) and what to tell the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub field: String,
    pub problem: Problem,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Not valid UTF-8 once decoded, or a broken percent escape.
    Unreadable,
    /// A control character: NUL, escape, a C1 control, a tab or line break in a one-line
    /// field.
    Control,
    /// A line break (or tab) in a field that holds one line.
    LineBreak,
    /// A bidirectional embedding, override or isolate.
    TextDirection,
}

impl Problem {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Unreadable => "could not be read as text. Type it again and retry.",
            Self::Control => {
                "contains an invisible control character (it often comes with pasted text). Remove it and try again."
            }
            Self::LineBreak => "must fit on one line. Remove the line break or tab and try again.",
            Self::TextDirection => {
                "contains a text-direction control character, which can make it read differently from what is stored. Remove it and try again."
            }
        }
    }
}

/// Bidirectional embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI,
/// FSI, PDI): they reorder what is displayed without changing what is stored.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// What is wrong with one value, if anything.
fn check_value(value: &str, multi_line: bool) -> Option<Problem> {
    for c in value.chars() {
        if is_line_break(c) {
            if !multi_line {
                return Some(Problem::LineBreak);
            }
        } else if c.is_control() {
            return Some(Problem::Control);
        } else if is_direction_control(c) {
            return Some(Problem::TextDirection);
        }
    }
    None
}

fn is_password(name: &str) -> bool {
    name == "password" || name.ends_with("_password")
}

/// Decodes one `application/x-www-form-urlencoded` component strictly: `+` is a space,
/// `%XX` a byte, and the result must be UTF-8.
fn decode(component: &[u8]) -> Option<String> {
    let mut bytes = Vec::with_capacity(component.len());
    let mut i = 0;
    while i < component.len() {
        match component[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = component.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            byte => bytes.push(byte),
        }
        i += 1;
    }
    String::from_utf8(bytes).ok()
}

/// The first problem in a form body, with the field it is in.
pub(crate) fn refusal(body: &[u8], multi_line: &[&str]) -> Option<Refusal> {
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let Some(name) = decode(name) else {
            return Some(Refusal { field: String::new(), problem: Problem::Unreadable });
        };
        if let Some(problem) = check_value(&name, false) {
            return Some(Refusal { field: String::new(), problem });
        }
        let Some(value) = decode(value) else {
            return Some(Refusal { field: name, problem: Problem::Unreadable });
        };
        if is_password(&name) {
            continue;
        }
        if let Some(problem) = check_value(&value, multi_line.contains(&name.as_str())) {
            return Some(Refusal { field: name, problem });
        }
    }
    None
}

/// "given_name" -> "given name", for the toast and the error page ("q" is a search box).
fn label(field: &str) -> String {
    if field == "q" { "search".to_owned() } else { field.replace('_', " ") }
}

/// The 422 for a refused form: the message for the page or toast, and for htmx an event
/// naming the field so the page can show the message beside it.
fn refused(refusal: &Refusal) -> Response {
    let message = refusal.problem.message();
    let sentence = if refusal.field.is_empty() {
        format!("The form {message}")
    } else {
        format!("The {} field {message}", label(&refusal.field))
    };
    let mut response = error_response(StatusCode::UNPROCESSABLE_ENTITY, sentence);
    // Our fields are named in lower-case ASCII; any other name is not ours to point at.
    let plain = !refusal.field.is_empty()
        && refusal.field.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        let event = serde_json::json!({
            "lockdev:field-refused": { "field": refusal.field, "message": format!("This {message}") }
        });
        if let Ok(value) = HeaderValue::from_str(&event.to_string()) {
            response.headers_mut().insert("HX-Trigger", value);
        }
    }
    response
}

/// What a request body says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Form,
    /// JSON (the passkey ceremonies) or multipart: structured by a program, not typed
    /// into a field, and read by parsers that type their values.
    Structured,
    /// Anything else, or no content type: a handler reading it as a form would get
    /// around this step, so a route takes it only when it declares a raw body.
    Other,
}

fn body_kind(req: &Request) -> BodyKind {
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media.as_str() {
        "application/x-www-form-urlencoded" => BodyKind::Form,
        "application/json" => BodyKind::Structured,
        m if m.starts_with("multipart/") => BodyKind::Structured,
        _ => BodyKind::Other,
    }
}

/// What a route's body may be (declared in the registry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRule {
    /// A form, cleaned here; these fields may hold tabs and line breaks.
    Form(&'static [&'static str]),
    /// A body of its own kind, passed as it is (a provider's webhook, verified by its
    /// signature).
    Raw,
}

/// Route middleware on every state-changing route: refuses a form with a value that
/// cannot be stored or shown faithfully (see the module documentation), and a body of
/// another kind that the route did not declare (415), so a handler that reads its body
/// as a form cannot be reached around this step.
pub(crate) async fn clean(rule: BodyRule, req: Request, next: Next) -> Response {
    let multi_line = match rule {
        BodyRule::Raw => return next.run(req).await,
        BodyRule::Form(multi_line) => multi_line,
    };
    let kind = body_kind(&req);
    if kind == BodyKind::Structured {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // The body limit layer has already bounded the body: this cannot grow past it.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    if kind == BodyKind::Other && !bytes.is_empty() {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form arrived in a shape Lockdev does not accept. Reload the page and try again.",
        );
    }
    if let Some(refusal) = refusal(&bytes, multi_line) {
        return refused(&refusal);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(body: &str, multi_line: &[&str]) -> Option<(String, Problem)> {
        refusal(body.as_bytes(), multi_line).map(|r| (r.field, r.problem))
    }

    #[test]
    fn ordinary_text_in_any_script_passes() {
        assert_eq!(problem("given_name=Zo%C3%AB&family_name=O%27Brien+Smith", &[]), None);
        assert_eq!(problem("family_name=%D7%9B%D7%94%D7%9F&city=%E6%9D%B1%E4%BA%AC", &[]), None);
        assert_eq!(problem("emoji=%F0%9F%99%82&empty=&flag", &[]), None);
    }

    #[test]
    fn nul_and_other_controls_are_refused_with_their_field() {
        assert_eq!(problem("a=ok&family_name=Smi%00th", &[]), Some(("family_name".into(), Problem::Control)));
        assert_eq!(problem("q=%1B%5B31m", &[]), Some(("q".into(), Problem::Control)));
        assert_eq!(problem("q=%C2%85", &[]), Some(("q".into(), Problem::Control)), "C1 (NEL)");
        assert_eq!(problem("q=%7F", &[]), Some(("q".into(), Problem::Control)));
        assert_eq!(problem("plan=a%00b", &["plan"]), Some(("plan".into(), Problem::Control)));
    }

    #[test]
    fn direction_overrides_are_refused() {
        assert_eq!(
            problem("address_line1=%E2%80%AEtaerts+niaM", &[]),
            Some(("address_line1".into(), Problem::TextDirection))
        );
        assert_eq!(problem("plan=%E2%81%A7x", &["plan"]), Some(("plan".into(), Problem::TextDirection)));
    }

    #[test]
    fn line_breaks_only_where_the_route_allows_them() {
        assert_eq!(problem("title=a%0Ab", &["plan"]), Some(("title".into(), Problem::LineBreak)));
        assert_eq!(problem("title=a%09b", &[]), Some(("title".into(), Problem::LineBreak)));
        assert_eq!(problem("plan=line+1%0D%0Aline+2%09tabbed", &["plan"]), None);
    }

    #[test]
    fn unreadable_bytes_and_names_are_refused_and_passwords_are_exempt() {
        assert_eq!(problem("q=%FF", &[]), Some(("q".into(), Problem::Unreadable)));
        assert_eq!(problem("q=%4", &[]), Some(("q".into(), Problem::Unreadable)));
        assert_eq!(problem("q%00=x", &[]), Some((String::new(), Problem::Control)));
        assert_eq!(problem("password=%E2%80%AEx%00y&new_password=%09", &[]), None);
    }

    #[test]
    fn labels_read_as_words() {
        assert_eq!(label("given_name"), "given name");
        assert_eq!(label("q"), "search");
    }
}
