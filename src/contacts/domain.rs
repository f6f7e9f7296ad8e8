//! Contact values and what each safe-to-contact flag allows.

pub use crate::contact_info::{display, normalize_email, normalize_phone};

/// The kinds of contact a clinic records.
pub(crate) const KINDS: [(&str, &str); 4] =
    [("mobile", "Mobile phone"), ("home", "Home phone"), ("work", "Work phone"), ("email", "E-mail")];

pub(crate) fn kind_label(kind: &str) -> &'static str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or("Contact", |(_, label)| label)
}

/// The value in the form the kind needs.
pub(crate) fn normalize(kind: &str, value: &str) -> Result<String, &'static str> {
    match kind {
        "email" => normalize_email(value),
        "mobile" | "home" | "work" => normalize_phone(value),
        _ => Err("Choose what kind of contact this is."),
    }
}

/// The flags a kind can carry, with what each one switches on and what leaving it off
/// blocks. Unknown is unsafe: every flag starts off.
pub(crate) struct FlagHelp {
    pub field: &'static str,
    pub label: &'static str,
    pub blocks: &'static str,
}

pub(crate) const FLAGS: [FlagHelp; 4] = [
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
    FlagHelp {
        field: "confidential",
        label: "Chosen by the patient for confidential messages",
        blocks: "When someone else manages the patient's care (a child), messages about sensitive care, and every message if the patient asked for confidential communication, go only to contacts marked here. With none marked, nothing is sent and staff get a task.",
    },
];

/// Whether `flag` can apply to `kind` (no voicemail to an e-mail address, texts to
/// mobiles only) — the database enforces the same rule.
pub(crate) fn flag_applies(kind: &str, flag: &str) -> bool {
    match flag {
        "safe_voicemail" => kind != "email",
        "safe_sms" => kind == "mobile",
        "safe_email" => kind == "email",
        "confidential" => true,
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
