//! What a clinic profile and a location may hold, checked field by field so that every
//! mistake comes back as a sentence next to its field.

use crate::contact_info::{US_STATES, normalize_phone, normalize_postal_code};

/// A postal address as typed, and its checked form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Address {
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub state: String,
    pub postal_code: String,
}

/// Messages for the fields of an address (and the phone beside it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct AddressErrors {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
}

impl AddressErrors {
    pub(crate) fn any(&self) -> bool {
        self.line1.is_some()
            || self.line2.is_some()
            || self.city.is_some()
            || self.state.is_some()
            || self.postal_code.is_some()
            || self.phone.is_some()
    }
}

fn text(value: &str, max: usize, what: &str) -> Result<Option<String>, String> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(format!("{what}: at most {max} characters."));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

/// Checks an address typed into `line1` … `postal_code` and a phone number. With
/// `required`, the street, city, state and ZIP code must all be there; without, an
/// address is all there or not at all (a half address is a mistake).
pub(crate) fn check_address(
    fields: [&str; 5],
    phone: &str,
    required: bool,
) -> Result<(Option<Address>, Option<String>), Box<AddressErrors>> {
    let [line1, line2, city, state, postal] = fields;
    let mut errors = AddressErrors::default();
    let line1 = text(line1, 200, "Street").map_err(|e| errors.line1 = Some(e)).ok().flatten();
    let line2 = text(line2, 200, "Second line").map_err(|e| errors.line2 = Some(e)).ok().flatten();
    let city = text(city, 100, "City").map_err(|e| errors.city = Some(e)).ok().flatten();
    let state_typed = state.trim();
    let state = US_STATES.iter().copied().find(|s| s.eq_ignore_ascii_case(state_typed));
    if !state_typed.is_empty() && state.is_none() {
        errors.state = Some("Choose the state from the list.".into());
    }
    let postal = match postal.trim() {
        "" => None,
        typed => normalize_postal_code(typed).map_err(|e| errors.postal_code = Some(e.into())).ok(),
    };
    let phone = match phone.trim() {
        "" => None,
        typed => normalize_phone(typed).map_err(|e| errors.phone = Some(e.into())).ok(),
    };
    let given = line1.is_some() || line2.is_some() || city.is_some() || state.is_some() || postal.is_some();
    if (required || given) && !errors.any() {
        let missing = |present: bool, slot: &mut Option<String>, message: &str| {
            if !present {
                *slot = Some(message.to_owned());
            }
        };
        missing(line1.is_some(), &mut errors.line1, "Enter the street and number.");
        missing(city.is_some(), &mut errors.city, "Enter the city.");
        missing(state.is_some(), &mut errors.state, "Choose the state.");
        missing(postal.is_some(), &mut errors.postal_code, "Enter the ZIP code.");
    }
    if errors.any() {
        return Err(Box::new(errors));
    }
    let address = match (line1, city, state, postal) {
        (Some(line1), Some(city), Some(state), Some(postal_code)) => {
            Some(Address { line1, line2, city, state: state.to_owned(), postal_code })
        }
        _ => None,
    };
    Ok((address, phone))
}

/// An employer identification number: nine digits, typed with or without the dash
/// ("12-3456789"); stored as the digits.
pub(crate) fn check_tax_id(typed: &str) -> Result<Option<String>, &'static str> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    let digits: String = typed.chars().filter(|c| *c != '-' && !c.is_whitespace()).collect();
    if digits.len() == 9 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(Some(digits))
    } else {
        Err("Enter the EIN: nine digits, such as 12-3456789.")
    }
}

/// How an EIN is shown: "12-3456789".
pub(crate) fn show_tax_id(digits: &str) -> String {
    if digits.len() == 9 { format!("{}-{}", &digits[..2], &digits[2..]) } else { digits.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_whole_or_absent_and_each_mistake_is_named() {
        let none = check_address(["", "", "", "", ""], "", false).expect("nothing is fine");
        assert_eq!(none, (None, None));
        let half = check_address(["1 Main St", "", "", "", ""], "", false).expect_err("half an address");
        assert!(half.city.is_some() && half.state.is_some() && half.postal_code.is_some());
        let required = check_address(["", "", "", "", ""], "", true).expect_err("a location has an address");
        assert!(required.line1.is_some());
        let wrong =
            check_address(["1 Main St", "", "Boston", "Mass", "0213"], "12", false).expect_err("wrong");
        assert!(wrong.state.is_some() && wrong.postal_code.is_some() && wrong.phone.is_some());
        let (address, phone) =
            check_address([" 1 Main St ", "", "Boston", "ma", "02139-4307"], "(617) 555-0100", true)
                .expect("ok");
        let address = address.expect("an address");
        assert_eq!((address.line1.as_str(), address.state.as_str()), ("1 Main St", "MA"));
        assert_eq!(address.postal_code, "02139-4307");
        assert_eq!(phone.as_deref(), Some("+16175550100"));
    }

    #[test]
    fn an_ein_is_nine_digits_with_or_without_its_dash() {
        assert_eq!(check_tax_id("12-3456789"), Ok(Some("123456789".into())));
        assert_eq!(check_tax_id(" 123456789 "), Ok(Some("123456789".into())));
        assert_eq!(check_tax_id(""), Ok(None));
        assert!(check_tax_id("12-345678").is_err());
        assert!(check_tax_id("12-34567890").is_err());
        assert!(check_tax_id("ab-cdefghi").is_err());
        assert_eq!(show_tax_id("123456789"), "12-3456789");
    }
}
