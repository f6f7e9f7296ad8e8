//! What a profile may hold, checked before the database sees it, with a sentence for the
//! field that is wrong. (The database checks the NPI and DEA check digits again, whatever
//! writes them.)

use chrono::{Duration, NaiveDate};

/// The credentials a provider may be scheduled under.
pub(crate) const CREDENTIALS: [(&str, &str); 4] =
    [("MD", "MD"), ("DO", "DO"), ("NP", "Nurse practitioner (NP)"), ("PA", "Physician assistant (PA)")];

/// A licence this close to its expiry is called out on the administrator's home.
pub(crate) const EXPIRY_WARNING_DAYS: i64 = 60;

/// US states, the District of Columbia and the territories that license clinicians.
pub(crate) use crate::contact_info::US_STATES as STATES;

/// The National Provider Identifier's check digit: Luhn over the ten digits prefixed
/// with the card issuer prefix 80840.
pub(crate) fn npi_is_valid(npi: &str) -> bool {
    if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits = format!("80840{npi}");
    let total: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    total.is_multiple_of(10)
}

/// A DEA registration number: two letters and seven digits, the last a check digit over
/// the other six (the odd places plus twice the even ones).
pub(crate) fn dea_is_valid(dea: &str) -> bool {
    let bytes = dea.as_bytes();
    if bytes.len() != 9
        || !bytes[0].is_ascii_uppercase()
        || !(bytes[1].is_ascii_uppercase() || bytes[1] == b'9')
        || !bytes[2..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let d = |i: usize| u32::from(bytes[i] - b'0');
    (d(2) + d(4) + d(6) + 2 * (d(3) + d(5) + d(7))) % 10 == d(8)
}

/// The provider profile form, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ProviderForm {
    pub npi: String,
    pub dea: String,
    pub credentials: String,
    pub specialty: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ProviderErrors {
    pub npi: Option<String>,
    pub dea: Option<String>,
    pub credentials: Option<String>,
    pub specialty: Option<String>,
}

impl ProviderErrors {
    pub fn any(&self) -> bool {
        self.npi.is_some() || self.dea.is_some() || self.credentials.is_some() || self.specialty.is_some()
    }
}

/// A checked provider profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderProfile {
    pub npi: String,
    pub dea: Option<String>,
    pub credentials: &'static str,
    pub specialty: Option<String>,
}

impl ProviderForm {
    pub fn check(&self) -> Result<ProviderProfile, ProviderErrors> {
        let mut errors = ProviderErrors::default();
        let npi: String = self.npi.chars().filter(|c| !c.is_whitespace()).collect();
        if !npi_is_valid(&npi) {
            errors.npi = Some(if npi.len() == 10 && npi.bytes().all(|b| b.is_ascii_digit()) {
                "This NPI's check digit does not match: check the number on the NPPES registry.".into()
            } else {
                "Enter the ten-digit National Provider Identifier.".into()
            });
        }
        let dea = self.dea.trim().to_ascii_uppercase();
        if !dea.is_empty() && !dea_is_valid(&dea) {
            errors.dea = Some(
                "A DEA number is two letters and seven digits whose last digit checks the others; leave it empty if there is none."
                    .into(),
            );
        }
        let credentials = CREDENTIALS.iter().map(|(code, _)| *code).find(|code| *code == self.credentials);
        if credentials.is_none() {
            errors.credentials = Some("Choose the credentials the provider practises under.".into());
        }
        let specialty = self.specialty.trim();
        if specialty.chars().count() > 100 {
            errors.specialty = Some("Keep the specialty under 100 characters.".into());
        }
        match credentials {
            Some(credentials) if !errors.any() => Ok(ProviderProfile {
                npi,
                dea: (!dea.is_empty()).then_some(dea),
                credentials,
                specialty: (!specialty.is_empty()).then(|| specialty.to_owned()),
            }),
            _ => Err(errors),
        }
    }
}

/// The staff profile form (every member may have one).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct StaffForm {
    pub employee_id: String,
    pub job_title: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct StaffErrors {
    pub employee_id: Option<String>,
    pub job_title: Option<String>,
}

impl StaffForm {
    /// (employee id, job title), each optional.
    pub fn check(&self) -> Result<(Option<String>, Option<String>), StaffErrors> {
        let mut errors = StaffErrors::default();
        let employee_id = self.employee_id.trim();
        if employee_id.chars().count() > 40 {
            errors.employee_id = Some("Keep the employee id under 40 characters.".into());
        }
        let job_title = self.job_title.trim();
        if job_title.chars().count() > 100 {
            errors.job_title = Some("Keep the job title under 100 characters.".into());
        }
        if errors.employee_id.is_some() || errors.job_title.is_some() {
            return Err(errors);
        }
        let some = |text: &str| (!text.is_empty()).then(|| text.to_owned());
        Ok((some(employee_id), some(job_title)))
    }
}

/// The licence form.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct LicenceForm {
    pub state: String,
    pub number: String,
    pub expires_on: String,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct LicenceErrors {
    pub state: Option<String>,
    pub number: Option<String>,
    pub expires_on: Option<String>,
}

impl LicenceErrors {
    pub fn any(&self) -> bool {
        self.state.is_some() || self.number.is_some() || self.expires_on.is_some()
    }
}

impl LicenceForm {
    /// (state, number, expiry). A licence already expired is refused: the list is of the
    /// licences a provider holds.
    pub fn check(&self, today: NaiveDate) -> Result<(&'static str, String, NaiveDate), LicenceErrors> {
        let mut errors = LicenceErrors::default();
        let state = STATES.iter().copied().find(|s| s.eq_ignore_ascii_case(self.state.trim()));
        if state.is_none() {
            errors.state = Some("Choose the state that issued the licence.".into());
        }
        let number = self.number.trim();
        if number.is_empty() || number.chars().count() > 40 {
            errors.number =
                Some("Enter the licence number as the board issued it (up to 40 characters).".into());
        }
        let expires = NaiveDate::parse_from_str(self.expires_on.trim(), "%Y-%m-%d").ok();
        match expires {
            None => errors.expires_on = Some("Enter the expiry date as YYYY-MM-DD.".into()),
            Some(day) if day < today => {
                errors.expires_on = Some("That date has passed: record the renewed licence's expiry.".into());
            }
            Some(_) => {}
        }
        match (state, expires) {
            (Some(state), Some(expires)) if !errors.any() => Ok((state, number.to_owned(), expires)),
            _ => Err(errors),
        }
    }
}

/// How a licence stands on `today`: expires within the warning period, or not.
pub(crate) fn expires_soon(expires_on: NaiveDate, today: NaiveDate) -> bool {
    expires_on <= today + Duration::days(EXPIRY_WARNING_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npi_and_dea_check_digits_are_read_as_the_registries_compute_them() {
        for good in ["1234567893", "1245319599", "1003000126"] {
            assert!(npi_is_valid(good), "{good}");
        }
        for bad in ["1234567890", "123456789", "12345678931", "12345a7893", ""] {
            assert!(!npi_is_valid(bad), "{bad}");
        }
        // AB1234563: 1+3+5 + 2*(2+4+6) = 33, check digit 3.
        assert!(dea_is_valid("AB1234563"));
        assert!(dea_is_valid("A91234563"));
        assert!(!dea_is_valid("AB1234564"));
        assert!(!dea_is_valid("ab1234563"));
        assert!(!dea_is_valid("AB123456"));
    }

    #[test]
    fn bad_input_is_a_sentence_next_to_its_field_not_a_panic() {
        let form = ProviderForm {
            npi: "1234567890".into(),
            dea: "XX".into(),
            credentials: "RN".into(),
            ..Default::default()
        };
        let errors = form.check().expect_err("three problems");
        assert!(errors.npi.as_deref().is_some_and(|m| m.contains("check digit")));
        assert!(errors.dea.is_some() && errors.credentials.is_some() && errors.specialty.is_none());
        let ok = ProviderForm {
            npi: " 1234 567 893 ".into(),
            dea: "ab1234563".into(),
            credentials: "NP".into(),
            specialty: " Family medicine ".into(),
        }
        .check()
        .expect("valid");
        assert_eq!(ok.npi, "1234567893");
        assert_eq!(ok.dea.as_deref(), Some("AB1234563"));
        assert_eq!(ok.specialty.as_deref(), Some("Family medicine"));

        let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
        let licence =
            LicenceForm { state: "ma".into(), number: "  MD-12345 ".into(), expires_on: "2027-01-31".into() };
        assert_eq!(
            licence.check(today).expect("valid"),
            ("MA", "MD-12345".to_owned(), NaiveDate::from_ymd_opt(2027, 1, 31).expect("d"))
        );
        let errors =
            LicenceForm { state: "ZZ".into(), number: String::new(), expires_on: "2020-01-01".into() }
                .check(today)
                .expect_err("bad");
        assert!(errors.state.is_some() && errors.number.is_some() && errors.expires_on.is_some());
        assert!(expires_soon(NaiveDate::from_ymd_opt(2027, 2, 5).expect("d"), today));
        assert!(!expires_soon(NaiveDate::from_ymd_opt(2027, 2, 6).expect("d"), today));
    }
}
