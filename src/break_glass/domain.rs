//! What a break-glass asks for and how long it may last.

use chrono::TimeDelta;

/// The longest any emergency access lasts; a clinic may choose less.
pub(crate) const LONGEST: TimeDelta = TimeDelta::minutes(60);
/// The shortest a clinic may choose.
pub(crate) const SHORTEST_MINUTES: i64 = 5;

/// Why the record is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    EmergencyCare,
    PatientSafety,
    SupportRequest,
    LegalRequest,
}

impl Purpose {
    pub const ALL: [Purpose; 4] =
        [Self::EmergencyCare, Self::PatientSafety, Self::SupportRequest, Self::LegalRequest];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmergencyCare => "emergency_care",
            Self::PatientSafety => "patient_safety",
            Self::SupportRequest => "support_request",
            Self::LegalRequest => "legal_request",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::EmergencyCare => "emergency care",
            Self::PatientSafety => "patient safety",
            Self::SupportRequest => "a support request from the clinic",
            Self::LegalRequest => "a legal request",
        }
    }
}

/// A review's finding.
pub(crate) fn finding_label(finding: &str) -> Option<&'static str> {
    Some(match finding {
        "appropriate" => "Appropriate",
        "inappropriate" => "Inappropriate",
        "needs_follow_up" => "Needs follow-up",
        _ => return None,
    })
}

/// How long a new grant lasts: the clinic's choice (in minutes) within 5 to 60, else 60.
pub(crate) fn duration(clinic_minutes: Option<i64>) -> TimeDelta {
    clinic_minutes
        .filter(|m| (SHORTEST_MINUTES..=LONGEST.num_minutes()).contains(m))
        .map_or(LONGEST, TimeDelta::minutes)
}

/// The reason, trimmed, when it says enough (10 to 1,000 characters).
pub(crate) fn reason(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    match text.chars().count() {
        0..10 => {
            Err("Say why you need this record now (at least 10 characters). It is shown to the reviewers.")
        }
        10..=1000 => Ok(text.to_owned()),
        _ => Err("Keep the reason under 1,000 characters."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clinic_may_shorten_the_grant_but_never_lengthen_it() {
        assert_eq!(duration(None), TimeDelta::minutes(60));
        assert_eq!(duration(Some(15)), TimeDelta::minutes(15));
        assert_eq!(duration(Some(240)), TimeDelta::minutes(60));
        assert_eq!(duration(Some(1)), TimeDelta::minutes(60));
    }

    #[test]
    fn a_reason_must_say_something() {
        assert!(reason("   because ").is_err());
        assert_eq!(reason("  Patient unconscious in ER  ").as_deref(), Ok("Patient unconscious in ER"));
        assert!(reason(&"x".repeat(1001)).is_err());
        assert_eq!(Purpose::parse("legal_request"), Some(Purpose::LegalRequest));
        assert_eq!(Purpose::parse("curiosity"), None);
    }
}
