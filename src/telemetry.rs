//! Structured logs that cannot carry patient data or secrets by accident.
//!
//! All log output goes through [`RedactingLayer`], our own formatter: every field of an
//! event and of its enclosing spans is written under its name, except that a field whose
//! name looks like a secret or a piece of PHI (`password`, `token`, `email`, `dob`,
//! `patient_name`, …) is written as `"[redacted]"`. Redaction happens at the only place
//! that writes, so no code path can bypass it. JSON escaping means CR/LF in a value can
//! never forge a second log line.
//!
//! What it cannot see: text interpolated into the *message* (`info!("saw {email}")`).
//! Put data in fields, never in the message.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogConfig, LogFormat};

/// The stand-in written instead of a sensitive value.
pub(crate) const REDACTED: &str = "[redacted]";

/// Whole-word parts of a field name that mark it as PHI or identifying (`patient_dob`,
/// `first_name`, `phone`). Matched per `_`/`.`-separated segment so `route` or `status`
/// are not caught by accident.
const SENSITIVE_SEGMENTS: &[&str] = &[
    "name",
    "first",
    "last",
    "given",
    "family",
    "middle",
    "dob",
    "birth",
    "birthdate",
    "ssn",
    "phone",
    "mobile",
    "fax",
    "email",
    "mrn",
    "address",
    "street",
    "city",
    "zip",
    "postal",
    "note",
    "notes",
    "body",
    "diagnosis",
    "ip",
    "otp",
    "totp",
    "recovery",
    "caller",
    "ani",
    "insurance",
    "member",
    "npi",
    "dea",
];

/// Substrings that mark a secret wherever they appear (`db_password`, `csrf_token`).
const SENSITIVE_SUBSTRINGS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "cookie",
    "authorization",
    "session",
    "csrf",
    "apikey",
    "api_key",
];

/// Whether a field called `name` must be masked.
pub(crate) fn is_sensitive_field(name: &str) -> bool {
    // Field names are nearly always lower case already: copy only when one is not.
    let lower = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(name.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(name)
    };
    SENSITIVE_SUBSTRINGS.iter().any(|s| lower.contains(s))
        || lower.split(['_', '.', '-']).any(|segment| SENSITIVE_SEGMENTS.contains(&segment))
}

/// The global subscriber for the `lockdev` process, writing to stdout.
pub(crate) fn init(config: &LogConfig) -> anyhow::Result<()> {
    let subscriber = subscriber(config, std::io::stdout);
    tracing::subscriber::set_global_default(subscriber)?;
    Ok(())
}

/// A subscriber writing redacted lines to `writer`. Tests pass an in-memory writer.
pub fn subscriber<W>(config: &LogConfig, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // The filter was validated with the rest of the configuration; fall back to `info`
    // rather than fail if a caller built a LogConfig by hand.
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    Registry::default().with(filter).with(RedactingLayer::new(config.format, writer))
}

/// Logs a panic as one redacted event instead of the default hook's free text on stderr.
/// The panic message can contain values (`unwrap` on an error that echoes input), so it is
/// logged only when `include_message` is set (development).
pub(crate) fn install_panic_hook(include_message: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        if include_message {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic.location = %location, panic.message = %message, "panic");
        } else {
            tracing::error!(panic.location = %location, "panic");
        }
    }));
}

/// Formats events as JSON (or `key=value` text) with sensitive fields masked.
pub(crate) struct RedactingLayer<W> {
    format: LogFormat,
    writer: W,
}

impl<W> RedactingLayer<W> {
    pub fn new(format: LogFormat, writer: W) -> Self {
        Self { format, writer }
    }
}

/// Fields in the order they were recorded, already redacted. A later value under the same
/// name replaces the earlier one (an event's field wins over its span's). A handful per
/// line, so a scan beats a map, and names are the `'static` ones tracing gives.
#[derive(Default)]
struct Fields(Vec<(&'static str, Value)>);

impl Fields {
    fn set(&mut self, name: &'static str, value: Value) {
        match self.0.iter_mut().find(|(existing, _)| *existing == name) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((name, value)),
        }
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        let index = self.0.iter().position(|(existing, _)| *existing == name)?;
        Some(self.0.remove(index).1)
    }
}

/// The (already redacted) fields of a span, kept in the span's extensions.
struct SpanFields(Fields);

struct FieldCollector<'a> {
    fields: &'a mut Fields,
    message: Option<&'a mut String>,
}

impl FieldCollector<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        let name = field.name();
        if name == "message"
            && let Some(message) = self.message.as_deref_mut()
        {
            *message = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            return;
        }
        let value = if is_sensitive_field(name) { Value::String(REDACTED.to_owned()) } else { value };
        self.fields.set(name, value);
    }
}

impl Visit for FieldCollector<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, Value::String(value.to_owned()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, Value::String(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, Value::String(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for RedactingLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut FieldCollector { fields: &mut fields, message: None });
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
                values.record(&mut FieldCollector { fields, message: None });
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Span fields first (outermost to innermost), then the event's own, so the
        // request id of the enclosing request span lands on every line.
        let mut fields = Fields::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    for (name, value) in &span_fields.0 {
                        fields.set(name, value.clone());
                    }
                }
            }
        }
        let mut message = String::new();
        event.record(&mut FieldCollector { fields: &mut fields, message: Some(&mut message) });

        let meta = event.metadata();
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let line = match self.format {
            LogFormat::Json => json_line(&timestamp, meta.level().as_str(), meta.target(), message, fields),
            LogFormat::Text => {
                let mut text = format!(
                    "{timestamp} {:>5} {}: {}",
                    meta.level(),
                    meta.target(),
                    escape_message(&message)
                );
                for (key, value) in fields.0 {
                    let shown = match value {
                        Value::String(s) => escape(&s),
                        other => other.to_string(),
                    };
                    let _ = write!(text, " {key}={shown}");
                }
                text.push('\n');
                text.into_bytes()
            }
        };
        // A failed log write must never fail the request that logged.
        let _ = self.writer.make_writer().write_all(&line);
    }
}

/// One JSON object on one line: timestamp, level, target and message (a field of the same
/// name takes their place), then the fields in the order recorded. Written straight into
/// the buffer rather than built as a map first: this runs for every request.
fn json_line(timestamp: &str, level: &str, target: &str, message: String, mut fields: Fields) -> Vec<u8> {
    let mut line = Vec::with_capacity(256);
    let fixed = [
        ("timestamp", fields.take("timestamp").unwrap_or_else(|| Value::String(timestamp.to_owned()))),
        ("level", fields.take("level").unwrap_or_else(|| Value::String(level.to_owned()))),
        ("target", fields.take("target").unwrap_or_else(|| Value::String(target.to_owned()))),
        // Only a span can carry a field called `message` here (an event's is the message).
        ("message", fields.take("message").unwrap_or(Value::String(message))),
    ];
    line.push(b'{');
    for (index, (name, value)) in
        fixed.iter().map(|(n, v)| (*n, v)).chain(fields.0.iter().map(|(n, v)| (*n, v))).enumerate()
    {
        if index > 0 {
            line.push(b',');
        }
        // Writing JSON into a Vec cannot fail: names are strings, values are `Value`s.
        let _ = serde_json::to_writer(&mut line, name);
        line.push(b':');
        let _ = serde_json::to_writer(&mut line, value);
    }
    line.extend_from_slice(b"}\n");
    line
}

/// A message is shown as written unless it holds control characters (which could start
/// a forged line).
fn escape_message(message: &str) -> String {
    if message.chars().any(char::is_control) { format!("{message:?}") } else { message.to_owned() }
}

/// Text lines keep to one physical line: control characters are escaped, and values
/// with spaces are quoted so `key=value` pairs stay unambiguous.
fn escape(value: &str) -> String {
    if value.chars().any(char::is_control) || value.contains(' ') {
        format!("{value:?}")
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_phi_field_names_are_recognised() {
        for name in [
            "password",
            "db_password",
            "csrf_token",
            "session_id",
            "cookie",
            "email",
            "patient_email",
            "dob",
            "first_name",
            "mrn",
            "phone",
            "caller.phone",
            "home_address",
            "note_body",
            "ssn",
            "totp_code",
            "client_ip",
        ] {
            assert!(is_sensitive_field(name), "{name} should be masked");
        }
        for name in ["route", "status", "method", "latency_ms", "request_id", "organization_id", "count"] {
            assert!(!is_sensitive_field(name), "{name} should be kept");
        }
    }

    #[test]
    fn a_json_line_is_one_object_whose_later_fields_win() {
        let mut fields = Fields::default();
        fields.set("route", Value::String("/a".into()));
        fields.set("status", Value::from(200));
        fields.set("route", Value::String("/b\r\n{\"forged\":1}".into()));
        fields.set("target", Value::String("chosen".into()));
        let line = json_line("2026-01-01T00:00:00.000Z", "INFO", "lockdev", "done".into(), fields);
        let text = String::from_utf8(line).expect("utf-8");
        assert!(text.ends_with("}\n") && text.matches('\n').count() == 1, "{text}");
        let parsed: serde_json::Map<String, Value> = serde_json::from_str(&text).expect("one JSON object");
        assert_eq!(parsed.len(), 6, "no name twice: {text}");
        assert_eq!(parsed["route"], "/b\r\n{\"forged\":1}");
        assert_eq!(parsed["status"], 200);
        assert_eq!(parsed["target"], "chosen");
        assert_eq!(parsed["level"], "INFO");
        assert_eq!(parsed["message"], "done");
    }
}
