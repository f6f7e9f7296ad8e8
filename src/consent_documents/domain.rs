/// A kind of document, as stored (`consent_documents.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    PrivacyNotice,
    Treatment,
    TermsOfService,
}

impl Kind {
    /// What a clinic publishes.
    pub const CLINIC: [Kind; 2] = [Kind::PrivacyNotice, Kind::Treatment];
    /// What the platform publishes.
    pub const PLATFORM: [Kind; 1] = [Kind::TermsOfService];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PrivacyNotice => "privacy_notice",
            Self::Treatment => "treatment",
            Self::TermsOfService => "terms_of_service",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::PrivacyNotice => "Notice of privacy practices",
            Self::Treatment => "Consent to treatment",
            Self::TermsOfService => "Terms of service",
        }
    }

    /// Who is asked to accept it.
    pub fn asked_of(self) -> &'static str {
        match self {
            Self::PrivacyNotice => "Everyone who enters the clinic: staff, patients and proxies.",
            Self::Treatment => "Patients, and proxies for each person they look after.",
            Self::TermsOfService => "Everyone, at their next sign-in to any context.",
        }
    }

    pub fn parse(text: &str, offered: &[Kind]) -> Option<Kind> {
        offered.iter().copied().find(|k| k.as_str() == text)
    }
}

/// A version label as the database accepts it: 1 to 20 letters, digits, dots or dashes.
pub(crate) fn check_version(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    if !text.is_empty()
        && text.len() <= 20
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    {
        Ok(text)
    } else {
        Err("Enter a version of 1 to 20 letters, digits, dots or dashes, such as 2027-01 or 3.1.")
    }
}

/// The document's title: 1 to 200 characters.
pub(crate) fn check_title(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 200 {
        Err("Give the document a title (up to 200 characters).")
    } else {
        Ok(text)
    }
}

/// The full text people read before accepting.
pub(crate) fn check_body(text: &str) -> Result<&str, &'static str> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        Err("Paste the full text people will read before accepting.")
    } else if trimmed.len() > 200_000 {
        Err("The text is longer than 200,000 characters; shorten it or link to the rest.")
    } else {
        Ok(trimmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_what_the_database_accepts() {
        assert_eq!(check_version(" 2027-01 "), Ok("2027-01"));
        assert_eq!(check_version("3.1"), Ok("3.1"));
        assert!(check_version("").is_err());
        assert!(check_version("v 2").is_err());
        assert!(check_version("a".repeat(21).as_str()).is_err());
        assert!(check_version("é").is_err());
    }

    #[test]
    fn a_clinic_cannot_publish_the_platform_terms() {
        assert_eq!(Kind::parse("treatment", &Kind::CLINIC), Some(Kind::Treatment));
        assert_eq!(Kind::parse("terms_of_service", &Kind::CLINIC), None);
        assert_eq!(Kind::parse("privacy_notice", &Kind::PLATFORM), None);
    }

    #[test]
    fn titles_and_bodies_must_have_text() {
        assert!(check_title("  ").is_err());
        assert!(check_title(&"x".repeat(201)).is_err());
        assert_eq!(check_body("  text\n"), Ok("text"));
        assert!(check_body(" \n ").is_err());
    }
}
