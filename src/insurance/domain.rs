//! What a policy copied from an insurance card must say.

use chrono::NaiveDate;

pub(crate) const PRIORITIES: [(&str, &str); 3] =
    [("primary", "Primary"), ("secondary", "Secondary"), ("tertiary", "Tertiary")];

pub(crate) const RELATIONSHIPS: [(&str, &str); 4] = [
    ("self", "The patient"),
    ("spouse", "Spouse or partner"),
    ("child", "Parent (the patient is their child)"),
    ("other", "Someone else"),
];

pub(crate) fn label(pairs: &[(&'static str, &'static str)], value: &str) -> &'static str {
    pairs.iter().find(|(v, _)| *v == value).map_or("", |(_, label)| label)
}

/// The form as typed.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Typed {
    pub priority: String,
    pub payer: String,
    pub plan_name: String,
    pub member_id: String,
    pub group_number: String,
    pub subscriber_relationship: String,
    pub subscriber_name: String,
    pub subscriber_date_of_birth: String,
    pub effective_on: String,
}

/// Each field's problem, if any.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Problems {
    pub priority: Option<&'static str>,
    pub payer: Option<&'static str>,
    pub plan_name: Option<&'static str>,
    pub member_id: Option<&'static str>,
    pub group_number: Option<&'static str>,
    pub subscriber_relationship: Option<&'static str>,
    pub subscriber_name: Option<&'static str>,
    pub subscriber_date_of_birth: Option<&'static str>,
    pub effective_on: Option<&'static str>,
}

impl Problems {
    pub fn any(&self) -> bool {
        [
            self.priority,
            self.payer,
            self.plan_name,
            self.member_id,
            self.group_number,
            self.subscriber_relationship,
            self.subscriber_name,
            self.subscriber_date_of_birth,
            self.effective_on,
        ]
        .iter()
        .any(Option::is_some)
    }
}

/// A policy, checked: text trimmed, identifiers upper-cased without spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Policy {
    pub priority: String,
    pub payer: String,
    pub plan_name: Option<String>,
    pub member_id: String,
    pub group_number: Option<String>,
    pub subscriber_relationship: String,
    /// The patient's own name when the subscriber is the patient.
    pub subscriber_name: String,
    pub subscriber_date_of_birth: Option<NaiveDate>,
    pub effective_on: Option<NaiveDate>,
}

/// An identifier from a card: letters, digits and dashes (spaces dropped), 1 to 40.
fn identifier(text: &str) -> Result<Option<String>, ()> {
    let id: String = text.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    if id.is_empty() {
        return Ok(None);
    }
    if id.len() <= 40 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(Some(id))
    } else {
        Err(())
    }
}

fn day(text: &str) -> Result<Option<NaiveDate>, ()> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| ())
}

/// Checks `typed`; `patient_name` stands in for the subscriber when it is the patient.
pub(crate) fn check(typed: &Typed, patient_name: &str, today: NaiveDate) -> Result<Policy, Box<Problems>> {
    let mut problems = Problems::default();
    if label(&PRIORITIES, &typed.priority).is_empty() {
        problems.priority = Some("Choose whether this is the primary, secondary or tertiary coverage.");
    }
    let payer = typed.payer.trim();
    match payer.chars().count() {
        0 => problems.payer = Some("Name the insurer as the card shows it."),
        201.. => problems.payer = Some("Keep the insurer's name under 200 characters."),
        _ => {}
    }
    let plan_name = Some(typed.plan_name.trim()).filter(|p| !p.is_empty());
    if plan_name.is_some_and(|p| p.chars().count() > 200) {
        problems.plan_name = Some("Keep the plan's name under 200 characters.");
    }
    let member_id = match identifier(&typed.member_id) {
        Ok(Some(id)) => Some(id),
        Ok(None) => {
            problems.member_id = Some("Copy the member id from the card.");
            None
        }
        Err(()) => {
            problems.member_id = Some("A member id has letters, digits and dashes only (up to 40).");
            None
        }
    };
    let group_number = identifier(&typed.group_number).unwrap_or_else(|()| {
        problems.group_number = Some("A group number has letters, digits and dashes only (up to 40).");
        None
    });
    if label(&RELATIONSHIPS, &typed.subscriber_relationship).is_empty() {
        problems.subscriber_relationship = Some("Say who holds the policy.");
    }
    let subscriber_name = if typed.subscriber_relationship == "self" {
        patient_name.to_owned()
    } else {
        let name = typed.subscriber_name.trim();
        match name.chars().count() {
            0 => problems.subscriber_name = Some("Name the person who holds the policy."),
            201.. => problems.subscriber_name = Some("Keep the name under 200 characters."),
            _ => {}
        }
        name.to_owned()
    };
    let subscriber_date_of_birth = match day(&typed.subscriber_date_of_birth) {
        Ok(Some(d)) if d > today => {
            problems.subscriber_date_of_birth = Some("This date of birth is in the future.");
            None
        }
        Ok(d) => d,
        Err(()) => {
            problems.subscriber_date_of_birth = Some("Enter the date as year-month-day.");
            None
        }
    };
    let effective_on = day(&typed.effective_on).unwrap_or_else(|()| {
        problems.effective_on = Some("Enter the date as year-month-day.");
        None
    });
    match member_id {
        Some(member_id) if !problems.any() => Ok(Policy {
            priority: typed.priority.clone(),
            payer: payer.to_owned(),
            plan_name: plan_name.map(str::to_owned),
            member_id,
            group_number,
            subscriber_relationship: typed.subscriber_relationship.clone(),
            subscriber_name,
            subscriber_date_of_birth,
            effective_on,
        }),
        _ => Err(Box::new(problems)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed() -> Typed {
        Typed {
            priority: "primary".into(),
            payer: "Blue Cross".into(),
            member_id: "xyz 123 456".into(),
            subscriber_relationship: "self".into(),
            ..Typed::default()
        }
    }

    #[test]
    fn a_card_is_copied_with_identifiers_tidied() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
        let policy = check(&typed(), "Ana Silva", today).expect("valid");
        assert_eq!(policy.member_id, "XYZ123456");
        assert_eq!(policy.subscriber_name, "Ana Silva", "the patient holds it");
        let mut other = typed();
        other.subscriber_relationship = "spouse".into();
        other.member_id = "12/34".into();
        let problems = check(&other, "Ana Silva", today).expect_err("refused");
        assert!(problems.subscriber_name.is_some() && problems.member_id.is_some());
    }
}
