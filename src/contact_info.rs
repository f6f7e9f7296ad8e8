//! Phone numbers and e-mail addresses: read, checked and written in one way everywhere.
//!
//! A patient's contacts, a person's sign-in address, an invitation, the clinic's call-back
//! number and the number an inbound text came from are all normalized here, so the same
//! number is the same text wherever it is stored or compared, and a form says the same
//! thing about the same mistake.

/// US states, the District of Columbia and the territories, by their postal codes: where
/// clinics are, and where clinicians are licensed.
pub const US_STATES: [&str; 56] = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC",
    "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    "AS", "GU", "MP", "PR", "VI",
];

/// A US postal code: five digits, or ZIP+4 ("02139-4307"), as typed without spaces.
pub fn normalize_postal_code(input: &str) -> Result<String, &'static str> {
    let code: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = code.chars().filter(char::is_ascii_digit).count();
    let shaped = match code.len() {
        5 => digits == 5,
        10 => digits == 9 && code.as_bytes()[5] == b'-',
        _ => false,
    };
    if shaped { Ok(code) } else { Err("Enter the ZIP code: five digits, or ZIP+4 such as 02139-4307.") }
}

/// A phone number in E.164 (`+15551234567`). Numbers without a country code are read as
/// US numbers (the clinics we serve are in the US); the message says what was wrong.
pub fn normalize_phone(input: &str) -> Result<String, &'static str> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err("Enter a phone number.");
    }
    if trimmed.len() > 40
        || !trimmed.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c) || c == 'x' || c == 'X')
    {
        return Err("Use digits only, such as (555) 201-3344 or +44 20 7946 0958.");
    }
    let digits = trimmed.chars().filter(char::is_ascii_digit).count();
    if digits < 7 {
        return Err("That number is too short. Include the area code.");
    }
    let parsed = phonenumber::parse(Some(phonenumber::country::Id::US), trimmed)
        .map_err(|_| "That is not a phone number we can read. Include the area code.")?;
    if !phonenumber::is_valid(&parsed) {
        return Err("That number does not exist. Check the area code and the digits.");
    }
    Ok(parsed.format().mode(phonenumber::Mode::E164).to_string())
}

/// An e-mail address, lower-cased so lookups are exact matches.
pub fn normalize_email(input: &str) -> Result<String, &'static str> {
    let trimmed = input.trim();
    let valid = trimmed.len() <= 254
        && trimmed.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !trimmed.chars().any(|c| c.is_whitespace())
        && trimmed.matches('@').count() == 1;
    if valid { Ok(trimmed.to_lowercase()) } else { Err("Enter an e-mail address such as name@example.com.") }
}

/// The mailbox an address delivers to, for telling whether two addresses are one person's:
/// lower case, without a `+tag` (delivered to the same mailbox by most providers), and for
/// Gmail without the dots it ignores. Never stored or shown; only compared.
pub fn mailbox_key(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else { return email };
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" { "gmail.com" } else { domain };
    let local = if domain == "gmail.com" { local.replace('.', "") } else { local.to_owned() };
    format!("{local}@{domain}")
}

/// A phone number as people read it (US numbers as (555) 201-3344).
pub fn display(kind: &str, value: &str) -> String {
    if kind == "email" {
        return value.to_owned();
    }
    match phonenumber::parse(None, value) {
        Ok(number) if number.code().value() == 1 => {
            number.format().mode(phonenumber::Mode::National).to_string()
        }
        Ok(number) => number.format().mode(phonenumber::Mode::International).to_string(),
        Err(_) => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::mailbox_key;

    #[test]
    fn addresses_that_reach_one_mailbox_have_one_key() {
        assert_eq!(mailbox_key("Jane.Doe+kids@GMail.com"), mailbox_key("janedoe@gmail.com"));
        assert_eq!(mailbox_key("j.doe@googlemail.com"), mailbox_key("jdoe@gmail.com"));
        assert_eq!(mailbox_key("nurse+proxy@clinic.example"), mailbox_key("nurse@clinic.example"));
        assert_ne!(
            mailbox_key("j.doe@clinic.example"),
            mailbox_key("jdoe@clinic.example"),
            "dots matter elsewhere"
        );
        assert_ne!(mailbox_key("nurse@clinic.example"), mailbox_key("nurse@other.example"));
    }
}
