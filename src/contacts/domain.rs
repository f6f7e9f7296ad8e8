//! Contact values and what each safe-to-contact flag allows.

/// The kinds of contact a clinic records.
pub const KINDS: [(&str, &str); 4] =
    [("mobile", "Mobile phone"), ("home", "Home phone"), ("work", "Work phone"), ("email", "E-mail")];

pub fn kind_label(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or("Contact", |(_, label)| label)
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

/// The value in the form the kind needs.
pub fn normalize(kind: &str, value: &str) -> Result<String, &'static str> {
    match kind {
        "email" => normalize_email(value),
        "mobile" | "home" | "work" => normalize_phone(value),
        _ => Err("Choose what kind of contact this is."),
    }
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

/// The flags a kind can carry, with what each one switches on and what leaving it off
/// blocks. Unknown is unsafe: every flag starts off.
pub struct FlagHelp {
    pub field: &'static str,
    pub label: &'static str,
    pub blocks: &'static str,
}

pub const FLAGS: [FlagHelp; 3] = [
    FlagHelp {
        field: "safe_voicemail",
        label: "Safe to leave a voicemail",
        blocks: "Off: no automated call or voicemail to this number; reminders go another way or staff are asked to call.",
    },
    FlagHelp {
        field: "safe_sms",
        label: "Safe to text",
        blocks: "Off: no text messages to this number, even with text-message consent. Mobile numbers only.",
    },
    FlagHelp {
        field: "safe_email",
        label: "Safe to e-mail",
        blocks: "Off: no e-mail reminders or notices to this address.",
    },
];

/// Whether `flag` can apply to `kind` (no voicemail to an e-mail address, texts to
/// mobiles only) — the database enforces the same rule.
pub fn flag_applies(kind: &str, flag: &str) -> bool {
    match flag {
        "safe_voicemail" => kind != "email",
        "safe_sms" => kind == "mobile",
        "safe_email" => kind == "email",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn us_numbers_in_any_common_spelling_become_e164() {
        for input in ["(555) 201-3344", "555-201-3344", "555.201.3344", "+1 555 201 3344", "1 (555) 201-3344"]
        {
            // 555-201 is a fictional exchange; use a real area code for validity.
            let input = input.replace("555", "617");
            assert_eq!(normalize_phone(&input), Ok("+16172013344".to_owned()), "{input}");
        }
        assert_eq!(normalize_phone("+44 20 7946 0958"), Ok("+442079460958".to_owned()));
    }

    #[test]
    fn bad_numbers_get_a_reason() {
        assert_eq!(normalize_phone(""), Err("Enter a phone number."));
        assert_eq!(normalize_phone("12345"), Err("That number is too short. Include the area code."));
        assert!(normalize_phone("call me maybe").is_err());
        assert!(normalize_phone("+1 000 000 0000").is_err());
    }

    #[test]
    fn display_reads_like_a_phone_number() {
        assert_eq!(display("mobile", "+16172013344"), "(617) 201-3344");
        assert_eq!(display("email", "a@b.example"), "a@b.example");
    }

    #[test]
    fn flags_follow_the_kind() {
        assert!(flag_applies("mobile", "safe_sms"));
        assert!(!flag_applies("home", "safe_sms"));
        assert!(!flag_applies("email", "safe_voicemail"));
        assert!(flag_applies("email", "safe_email"));
    }

    proptest! {
        #[test]
        fn the_phone_parser_never_panics(input in "\\PC{0,60}") {
            let _ = normalize_phone(&input);
            let _ = normalize_email(&input);
        }

        #[test]
        fn a_normalized_number_normalizes_to_itself(digits in "[2-9][0-9]{2}[2-9][0-9]{6}") {
            if let Ok(e164) = normalize_phone(&digits) {
                prop_assert_eq!(normalize_phone(&e164), Ok(e164.clone()));
                prop_assert!(e164.starts_with("+1"));
            }
        }
    }
}
