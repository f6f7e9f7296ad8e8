//! External services, each behind a small trait with a local default implementation, so
//! the whole product runs and is tested on one machine without a cloud account.

pub mod mail;

/// Why an outside service did not take a message: what kind of failure, and the
/// provider's error code — never the provider's text, which may quote the number or
/// address it refused. This is what reaches logs, `jobs.last_error` and audit details.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
pub struct ProviderError {
    pub kind: &'static str,
    pub code: Option<String>,
}

impl ProviderError {
    /// `code` is kept only if it looks like a code (letters, digits, `._-`, short, no long
    /// run of digits that could be a number).
    pub fn new(kind: &'static str, code: Option<&str>) -> Self {
        let code = code.filter(|c| is_code(c)).map(str::to_owned);
        Self { kind, code }
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

fn is_code(text: &str) -> bool {
    let mut digits = 0;
    let mut longest_digits = 0;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits += 1;
            longest_digits = longest_digits.max(digits);
        } else {
            digits = 0;
        }
    }
    !text.is_empty()
        && text.len() <= 64
        && longest_digits < 5
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Chooses the TLS implementation for every client in the process (Postgres, SMTP, AWS,
/// HTTP). Several crates link rustls with different crypto back-ends (the AWS SDK brings
/// aws-lc-rs, the others ring); with two present rustls cannot pick one by itself and
/// would fail at the first TLS connection. Call once at start-up; later calls do nothing.
pub fn install_tls_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::ProviderError;

    #[test]
    fn a_provider_error_keeps_codes_and_drops_anything_that_could_be_a_number_or_text() {
        assert_eq!(
            ProviderError::new("rejected", Some("ValidationException")).to_string(),
            "rejected (ValidationException)"
        );
        assert_eq!(ProviderError::new("rejected", Some("550")).to_string(), "rejected (550)");
        for bad in ["+16175550100", "16175550100", "invalid number +1 617 555 0100", "a@b.example", ""] {
            assert_eq!(ProviderError::new("rejected", Some(bad)).code, None, "{bad}");
        }
    }
}
