//! What an allergy entry must say, checked before anything is written.

/// Severities a clinician chooses from: (stored value, label). "Unknown" is a real answer
/// (the patient does not remember the reaction), so it is a choice, not a default.
pub(crate) const SEVERITIES: [(&str, &str); 4] =
    [("severe", "Severe"), ("moderate", "Moderate"), ("mild", "Mild"), ("unknown", "Unknown")];

pub(crate) fn severity_label(value: &str) -> &'static str {
    SEVERITIES.iter().find(|(v, _)| *v == value).map_or("Unknown", |(_, label)| label)
}

/// Why an allergy stops applying: (stored prefix, label).
pub(crate) const END_REASONS: [(&str, &str); 2] =
    [("resolved", "No longer allergic"), ("entered_in_error", "Entered in error")];

/// A new allergy, checked; each problem belongs to one field.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Problems {
    pub substance: Option<&'static str>,
    pub reaction: Option<&'static str>,
    pub severity: Option<&'static str>,
}

impl Problems {
    pub fn any(&self) -> bool {
        self.substance.is_some() || self.reaction.is_some() || self.severity.is_some()
    }
}

pub(crate) fn check(substance: &str, reaction: &str, severity: &str) -> Problems {
    let substance = substance.trim();
    let reaction = reaction.trim();
    Problems {
        substance: match substance.chars().count() {
            0 => Some("Name the substance (a drug, a food, latex...)."),
            1..=200 => None,
            _ => Some("Keep the substance under 200 characters."),
        },
        reaction: (reaction.chars().count() > 300).then_some("Keep the reaction under 300 characters."),
        severity: (!SEVERITIES.iter().any(|(v, _)| *v == severity))
            .then_some("Choose a severity (\u{201c}Unknown\u{201d} when nobody knows)."),
    }
}

/// The reason recorded when an allergy ends: its kind, then what the clinician added.
pub(crate) fn end_reason(kind: &str, detail: &str) -> Result<String, &'static str> {
    let Some((_, label)) = END_REASONS.iter().find(|(k, _)| *k == kind) else {
        return Err("Say why it no longer applies.");
    };
    let detail = detail.trim();
    if detail.chars().count() > 250 {
        return Err("Keep the note under 250 characters.");
    }
    Ok(if detail.is_empty() { (*label).to_owned() } else { format!("{label}: {detail}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_allergy_needs_a_substance_and_a_chosen_severity() {
        assert!(check("Penicillin", "Hives", "severe") == Problems::default());
        assert!(check("  ", "", "severe").substance.is_some());
        assert!(check("Latex", "", "").severity.is_some());
        assert!(check("Latex", &"x".repeat(301), "mild").reaction.is_some());
    }

    #[test]
    fn an_ending_says_why() {
        assert_eq!(end_reason("resolved", "").as_deref(), Ok("No longer allergic"));
        assert_eq!(
            end_reason("entered_in_error", "wrong chart").as_deref(),
            Ok("Entered in error: wrong chart")
        );
        assert!(end_reason("", "").is_err());
    }
}
