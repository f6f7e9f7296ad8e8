//! Reading one setting: a number in a range, a value that parses, a host name.

use std::fmt;
use std::str::FromStr;

use super::ConfigError;

pub(super) fn parse_or<T: FromStr>(
    raw: Option<String>,
    variable: &'static str,
    default: T,
    expected: &str,
) -> Result<T, ConfigError> {
    match raw {
        None => Ok(default),
        Some(raw) => {
            raw.parse().map_err(|_| ConfigError::new(variable, format!("expected {expected}, got {raw:?}")))
        }
    }
}

pub(super) fn parse_in_range<T>(
    raw: Option<String>,
    variable: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    what: &str,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let value =
        parse_or(raw, variable, default, &format!("{what} between {} and {}", range.start(), range.end()))?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            variable,
            format!("expected {what} between {} and {}, got {value}", range.start(), range.end()),
        ))
    }
}

pub(super) fn is_host_name(host: &str) -> bool {
    let bracketed_v6 = host.starts_with('[') && host.ends_with(']');
    bracketed_v6
        || (!host.contains([':', '/', ' '])
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
}
