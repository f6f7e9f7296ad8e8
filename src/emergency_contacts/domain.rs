//! What an emergency contact must say.

use crate::contact_info::normalize_phone;

/// The most a chart keeps: a clinic calls the first who answers.
pub(crate) const MOST: i64 = 3;

/// Each field's problem, if any.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Problems {
    pub name: Option<&'static str>,
    pub relationship: Option<&'static str>,
    pub phone: Option<&'static str>,
}

/// A contact, checked: (name, relationship, phone in E.164).
pub(crate) fn check(
    name: &str,
    relationship: &str,
    phone: &str,
) -> Result<(String, String, String), Problems> {
    let (name, relationship) = (name.trim(), relationship.trim());
    let mut problems = Problems::default();
    match name.chars().count() {
        0 => problems.name = Some("Name the person to call."),
        201.. => problems.name = Some("Keep the name under 200 characters."),
        _ => {}
    }
    match relationship.chars().count() {
        0 => {
            problems.relationship =
                Some("Say who they are to the patient (for example \u{201c}sister\u{201d}).");
        }
        101.. => problems.relationship = Some("Keep it under 100 characters."),
        _ => {}
    }
    let phone = normalize_phone(phone).map_err(|message| problems.phone = Some(message)).ok();
    match phone {
        Some(phone) if problems == Problems::default() => {
            Ok((name.to_owned(), relationship.to_owned(), phone))
        }
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_needs_a_name_a_relationship_and_a_number_that_dials() {
        let (_, _, phone) = check("Maria Silva", "Sister", "(617) 201-3399").expect("valid");
        assert_eq!(phone, "+16172013399");
        let problems = check("", "", "12").expect_err("refused");
        assert!(problems.name.is_some() && problems.relationship.is_some() && problems.phone.is_some());
    }
}
