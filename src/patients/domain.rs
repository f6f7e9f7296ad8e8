//! Patient demographics as a form, their validation, and how a search box is read.

use chrono::{Datelike, NaiveDate};

use crate::contact_info::{normalize_email, normalize_phone};

pub use crate::chart::{SEXES, age_on, sex_label};

/// The demographics form as typed (strings, so a bad value comes back as it was).
/// Fields a role may not set (MRN, organization, portal login) are not part of it: extra
/// fields in a request are ignored.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct PatientForm {
    pub given_name: String,
    pub middle_name: String,
    pub family_name: String,
    pub preferred_name: String,
    pub date_of_birth: String,
    pub legal_sex: String,
    pub gender_identity: String,
    pub preferred_language: String,
    pub address_line1: String,
    pub address_line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    /// Registration only: a first phone number and e-mail address.
    pub phone: String,
    pub email: String,
    /// Registration only: "dependent" when the patient is reached through proxies.
    pub manages_own_care: String,
    /// Registration only: set when the person saw the possible duplicates and goes on.
    pub confirm_new: String,
    pub confidential_communication: String,
    pub confidential_note: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PatientErrors {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub middle_name: Option<String>,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<String>,
    pub legal_sex: Option<String>,
    pub other: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl PatientErrors {
    pub fn any(&self) -> bool {
        *self != Self::default()
    }
}

/// A validated form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demographics {
    pub given_name: String,
    pub middle_name: Option<String>,
    pub family_name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: NaiveDate,
    pub legal_sex: String,
    pub gender_identity: Option<String>,
    pub preferred_language: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub confidential_communication: bool,
    pub confidential_note: Option<String>,
}

/// First contacts given at registration (E.164 phone, lower-case e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct FirstContacts {
    pub mobile: Option<String>,
    pub email: Option<String>,
}

fn optional(value: &str, max: usize, label: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.is_empty() {
        Ok(None)
    } else if value.chars().count() > max {
        Err(format!("{label} can be at most {max} characters."))
    } else {
        Ok(Some(value.to_owned()))
    }
}

/// Reads a date typed as YYYY-MM-DD (what a date input sends) or MM/DD/YYYY (what people
/// type in a search box).
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%m/%d/%Y"))
        .ok()
        .filter(|d| d.year() >= 1880)
}

/// Age in whole years on `today`.
impl PatientForm {
    /// Validates the demographics; `today` bounds the date of birth.
    pub(crate) fn validate(&self, today: NaiveDate) -> Result<Demographics, Box<PatientErrors>> {
        let mut errors = PatientErrors::default();
        let required = |value: &str, label: &str, slot: &mut Option<String>| {
            let value = value.trim();
            if value.is_empty() {
                *slot = Some(format!("Enter the {label}."));
            } else if value.chars().count() > 100 {
                *slot = Some(format!("The {label} can be at most 100 characters."));
            }
            value.to_owned()
        };
        let given_name = required(&self.given_name, "first name", &mut errors.given_name);
        let family_name = required(&self.family_name, "last name", &mut errors.family_name);
        let middle_name = optional(&self.middle_name, 100, "The middle name").unwrap_or_else(|e| {
            errors.middle_name = Some(e);
            None
        });
        let preferred_name = optional(&self.preferred_name, 100, "The preferred name").unwrap_or_else(|e| {
            errors.preferred_name = Some(e);
            None
        });
        let date_of_birth = match parse_date(&self.date_of_birth) {
            None if self.date_of_birth.trim().is_empty() => {
                errors.date_of_birth = Some("Enter the date of birth.".into());
                None
            }
            None => {
                errors.date_of_birth = Some("Enter the date as YYYY-MM-DD, for example 1984-03-09.".into());
                None
            }
            Some(d) if d > today => {
                errors.date_of_birth = Some("The date of birth cannot be in the future.".into());
                None
            }
            Some(d) => Some(d),
        };
        if !SEXES.iter().any(|(v, _)| *v == self.legal_sex) {
            errors.legal_sex = Some("Choose the sex recorded for clinical and billing use.".into());
        }
        let mut other = |value: &str, max: usize, label: &str| {
            optional(value, max, label).unwrap_or_else(|e| {
                errors.other.get_or_insert(e);
                None
            })
        };
        let gender_identity = other(&self.gender_identity, 100, "Gender identity");
        let preferred_language = other(&self.preferred_language, 60, "Preferred language");
        let address_line1 = other(&self.address_line1, 200, "Address line 1");
        let address_line2 = other(&self.address_line2, 200, "Address line 2");
        let city = other(&self.city, 100, "City");
        let region = other(&self.region, 100, "State");
        let postal_code = other(&self.postal_code, 20, "ZIP code");
        let confidential_note = other(&self.confidential_note, 500, "The confidential communication note");
        match (date_of_birth, errors.any()) {
            (Some(date_of_birth), false) => Ok(Demographics {
                given_name,
                middle_name,
                family_name,
                preferred_name,
                date_of_birth,
                legal_sex: self.legal_sex.clone(),
                gender_identity,
                preferred_language,
                address_line1,
                address_line2,
                city,
                region,
                postal_code,
                confidential_communication: !self.confidential_communication.is_empty(),
                confidential_note,
            }),
            _ => Err(Box::new(errors)),
        }
    }

    /// The optional first phone and e-mail of a registration.
    pub(crate) fn first_contacts(&self, errors: &mut PatientErrors) -> FirstContacts {
        let mut contacts = FirstContacts::default();
        if !self.phone.trim().is_empty() {
            match normalize_phone(&self.phone) {
                Ok(phone) => contacts.mobile = Some(phone),
                Err(message) => errors.phone = Some(message.into()),
            }
        }
        if !self.email.trim().is_empty() {
            match normalize_email(&self.email) {
                Ok(email) => contacts.email = Some(email),
                Err(message) => errors.email = Some(message.into()),
            }
        }
        contacts
    }
}

/// What a search box holds, read in the order a front desk types: a whole e-mail
/// address, a phone number, an MRN, a date of birth, else name fragments (optionally
/// with a date of birth: "garcia 1984-03-09").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SearchQuery {
    /// Nothing typed: everyone, by name.
    All,
    Email(String),
    /// A phone number (E.164); digits-only input may also be an MRN.
    Phone {
        e164: String,
        mrn: Option<String>,
    },
    Mrn(String),
    Names {
        text: String,
        date_of_birth: Option<NaiveDate>,
    },
    DateOfBirth(NaiveDate),
}

/// Name words beyond this many are ignored (each is an index range scan).
const MAX_NAME_WORDS: usize = 4;

impl SearchQuery {
    pub fn parse(input: &str) -> Self {
        let text: String = input.chars().take(200).collect();
        let text = text.trim();
        if text.is_empty() {
            return Self::All;
        }
        if text.contains('@')
            && let Ok(email) = normalize_email(text)
        {
            return Self::Email(email);
        }
        let phone_like = text.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
            && text.chars().filter(char::is_ascii_digit).count() >= 7;
        if phone_like
            && !text.contains('/')
            && let Ok(e164) = normalize_phone(text)
        {
            let mrn = text.chars().all(|c| c.is_ascii_digit()).then(|| text.to_owned());
            return Self::Phone { e164, mrn };
        }
        if let Some(date) = parse_date(text) {
            return Self::DateOfBirth(date);
        }
        let looks_like_mrn = !text.contains(' ')
            && text.len() <= 20
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && text.chars().any(|c| c.is_ascii_digit());
        if looks_like_mrn {
            return Self::Mrn(text.to_uppercase());
        }
        let mut date_of_birth = None;
        let mut words = Vec::new();
        for word in text.split_whitespace() {
            match parse_date(word) {
                Some(date) if date_of_birth.is_none() => date_of_birth = Some(date),
                _ if words.len() < MAX_NAME_WORDS => words.push(word),
                _ => {}
            }
        }
        if words.is_empty() {
            return date_of_birth.map_or(Self::All, Self::DateOfBirth);
        }
        Self::Names { text: words.join(" "), date_of_birth }
    }
}

/// How long the front desk can put a removed patient back on the registry.
pub(crate) const REMOVAL_UNDO_DAYS: i64 = 30;

/// The reason given for taking a patient out of the registry, or what is wrong with it.
pub(crate) fn removal_reason(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    match text.chars().count() {
        0 => Err("Say why (for example \u{201c}duplicate of MRN-1234\u{201d}); it is kept with the record."),
        1..=300 => Ok(text),
        _ => Err("Keep the reason under 300 characters."),
    }
}

/// How a registry record matches the person being registered, the closest first (the
/// duplicate check's `kind`).
pub(crate) fn match_reason(kind: i32) -> Option<&'static str> {
    Some(match kind {
        0 => "same name and date of birth",
        1 => "same date of birth, first and last name swapped",
        2 => "same date of birth, a similar name",
        3 => "same name, day and month of birth swapped",
        4 => "same name, date of birth one digit apart",
        // Only the phone number is shared: counted, not shown (see the handler).
        _ => return None,
    })
}

/// The date with its day and month swapped, when that is another valid date (a common
/// slip between US and European order).
pub(crate) fn day_and_month_swapped(date: NaiveDate) -> Option<NaiveDate> {
    use chrono::Datelike as _;
    (date.day() != date.month())
        .then(|| NaiveDate::from_ymd_opt(date.year(), date.day(), date.month()))
        .flatten()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).expect("date")
    }

    #[test]
    fn a_search_box_is_read_the_way_the_front_desk_types() {
        assert_eq!(SearchQuery::parse("  "), SearchQuery::All);
        assert_eq!(SearchQuery::parse("Ana@Home.Example"), SearchQuery::Email("ana@home.example".into()));
        assert_eq!(
            SearchQuery::parse("(617) 201-3344"),
            SearchQuery::Phone { e164: "+16172013344".into(), mrn: None }
        );
        assert_eq!(
            SearchQuery::parse("6172013344"),
            SearchQuery::Phone { e164: "+16172013344".into(), mrn: Some("6172013344".into()) }
        );
        assert_eq!(
            SearchQuery::parse("03/09/1984"),
            SearchQuery::DateOfBirth(NaiveDate::from_ymd_opt(1984, 3, 9).expect("date"))
        );
        assert_eq!(SearchQuery::parse("rfc-000123"), SearchQuery::Mrn("RFC-000123".into()));
        assert_eq!(
            SearchQuery::parse("gar 1984-03-09"),
            SearchQuery::Names {
                text: "gar".into(),
                date_of_birth: Some(NaiveDate::from_ymd_opt(1984, 3, 9).expect("date"))
            }
        );
        assert_eq!(
            SearchQuery::parse("a b c d e f"),
            SearchQuery::Names { text: "a b c d".into(), date_of_birth: None }
        );
    }

    #[test]
    fn ages_count_whole_years() {
        let dob = NaiveDate::from_ymd_opt(2000, 11, 24).expect("date");
        assert_eq!(age_on(dob, today()), 25);
        assert_eq!(age_on(NaiveDate::from_ymd_opt(2000, 11, 23).expect("date"), today()), 26);
    }

    #[test]
    fn each_bad_field_gets_its_own_message() {
        let form = PatientForm {
            given_name: " ".into(),
            family_name: "x".repeat(101),
            date_of_birth: "2030-01-01".into(),
            legal_sex: "robot".into(),
            ..PatientForm::default()
        };
        let errors = form.validate(today()).expect_err("invalid");
        assert_eq!(errors.given_name.as_deref(), Some("Enter the first name."));
        assert!(errors.family_name.is_some());
        assert_eq!(errors.date_of_birth.as_deref(), Some("The date of birth cannot be in the future."));
        assert!(errors.legal_sex.is_some());
    }

    #[test]
    fn a_complete_form_validates() {
        let form = PatientForm {
            given_name: " Ana ".into(),
            family_name: "García".into(),
            date_of_birth: "1984-03-09".into(),
            legal_sex: "female".into(),
            ..PatientForm::default()
        };
        let demographics = form.validate(today()).expect("valid");
        assert_eq!(demographics.given_name, "Ana");
        assert_eq!(demographics.middle_name, None);
        assert!(!demographics.confidential_communication);
    }

    proptest! {
        #[test]
        fn any_search_input_is_read_without_panicking(input in "\\PC{0,300}") {
            let _ = SearchQuery::parse(&input);
        }
    }
}
