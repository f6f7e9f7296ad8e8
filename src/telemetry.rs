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

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogConfig, LogFormat};

/// The stand-in written instead of a sensitive value.
pub const REDACTED: &str = "[redacted]";

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
pub fn is_sensitive_field(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_SUBSTRINGS.iter().any(|s| lower.contains(s))
        || lower.split(['_', '.', '-']).any(|segment| SENSITIVE_SEGMENTS.contains(&segment))
}

/// The global subscriber for the `lockdev` process, writing to stdout.
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
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
pub fn install_panic_hook(include_message: bool) {
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
pub struct RedactingLayer<W> {
    format: LogFormat,
    writer: W,
}

impl<W> RedactingLayer<W> {
    pub fn new(format: LogFormat, writer: W) -> Self {
        Self { format, writer }
    }
}

/// The (already redacted) fields of a span, kept in the span's extensions.
struct SpanFields(Map<String, Value>);

struct FieldCollector<'a> {
    fields: &'a mut Map<String, Value>,
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
        self.fields.insert(name.to_owned(), value);
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
        let mut fields = Map::new();
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
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(span_fields)) = span.extensions().get::<SpanFields>() {
                    fields.extend(span_fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }
        let mut message = String::new();
        event.record(&mut FieldCollector { fields: &mut fields, message: Some(&mut message) });

        let meta = event.metadata();
        let timestamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut line = match self.format {
            LogFormat::Json => {
                let mut object = Map::new();
                object.insert("timestamp".into(), Value::String(timestamp));
                object.insert("level".into(), Value::String(meta.level().to_string()));
                object.insert("target".into(), Value::String(meta.target().to_owned()));
                object.insert("message".into(), Value::String(message));
                object.extend(fields);
                Value::Object(object).to_string()
            }
            LogFormat::Text => {
                let mut text = format!(
                    "{timestamp} {:>5} {}: {}",
                    meta.level(),
                    meta.target(),
                    escape_message(&message)
                );
                for (key, value) in fields {
                    let shown = match value {
                        Value::String(s) => escape(&s),
                        other => other.to_string(),
                    };
                    let _ = write!(text, " {key}={shown}");
                }
                text
            }
        };
        line.push('\n');
        // A failed log write must never fail the request that logged.
        let _ = self.writer.make_writer().write_all(line.as_bytes());
    }
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
}
