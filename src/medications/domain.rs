//! What a medication entry must say.

/// Why a medication stops: (stored value, label).
pub(crate) const STOP_REASONS: [(&str, &str); 5] = [
    ("completed", "Course completed"),
    ("side_effects", "Side effects"),
    ("not_effective", "Not effective"),
    ("entered_in_error", "Entered in error"),
    ("other", "Other"),
];

/// Each field's problem, if any.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Problems {
    pub name: Option<&'static str>,
    pub dose: Option<&'static str>,
    pub frequency: Option<&'static str>,
    pub prescriber: Option<&'static str>,
}

impl Problems {
    pub fn any(&self) -> bool {
        self.name.is_some() || self.dose.is_some() || self.frequency.is_some() || self.prescriber.is_some()
    }
}

fn longer_than(text: &str, limit: usize) -> bool {
    text.trim().chars().count() > limit
}

pub(crate) fn check(name: &str, dose: &str, frequency: &str, prescriber: &str) -> Problems {
    Problems {
        name: if name.trim().is_empty() {
            Some("Name the medication (for example \u{201c}Metformin\u{201d}).")
        } else if longer_than(name, 200) {
            Some("Keep the name under 200 characters.")
        } else {
            None
        },
        dose: longer_than(dose, 100).then_some("Keep the dose under 100 characters."),
        frequency: longer_than(frequency, 100).then_some("Keep the frequency under 100 characters."),
        prescriber: longer_than(prescriber, 200).then_some("Keep the prescriber under 200 characters."),
    }
}

/// The reason recorded when a medication stops: its label, then what the clinician added
/// ("Other" needs the words).
pub(crate) fn stop_reason(kind: &str, detail: &str) -> Result<String, &'static str> {
    let Some((_, label)) = STOP_REASONS.iter().find(|(k, _)| *k == kind) else {
        return Err("Say why the medication stops.");
    };
    let detail = detail.trim();
    if detail.chars().count() > 250 {
        return Err("Keep the note under 250 characters.");
    }
    match (kind, detail.is_empty()) {
        ("other", true) => Err("Say in a few words why the medication stops."),
        (_, true) => Ok((*label).to_owned()),
        (_, false) => Ok(format!("{label}: {detail}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_medication_needs_a_name_and_a_stop_needs_a_reason() {
        assert!(!check("Metformin", "500 mg", "twice daily", "").any());
        assert!(check(" ", "", "", "").name.is_some());
        assert!(check("Metformin", &"9".repeat(101), "", "").dose.is_some());
        assert_eq!(stop_reason("side_effects", "nausea").as_deref(), Ok("Side effects: nausea"));
        assert!(stop_reason("other", "").is_err());
        assert!(stop_reason("", "").is_err());
    }
}
