//! `LOCKDEV_LOG_FORMAT` and `LOCKDEV_LOG`.

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub format: LogFormat,
    /// An `EnvFilter` directive such as `info,sqlx=warn`.
    pub filter: String,
}

pub(super) fn read(get: &impl Fn(&str) -> Option<String>) -> Result<LogConfig, ConfigError> {
    let format = match get("LOCKDEV_LOG_FORMAT").as_deref() {
        None | Some("json") => LogFormat::Json,
        Some("text") => LogFormat::Text,
        Some(other) => {
            return Err(ConfigError::new(
                "LOCKDEV_LOG_FORMAT",
                format!("expected `json` or `text`, got {other:?}"),
            ));
        }
    };
    let filter = get("LOCKDEV_LOG").unwrap_or_else(|| "info,sqlx=warn,tower_http=warn".to_owned());
    if tracing_subscriber::EnvFilter::try_new(&filter).is_err() {
        return Err(ConfigError::new(
            "LOCKDEV_LOG",
            format!("expected a log filter such as `info` or `info,lockdev=debug`, got {filter:?}"),
        ));
    }
    Ok(LogConfig { format, filter })
}
