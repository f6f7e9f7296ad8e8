//! What makes a password acceptable (NIST SP 800-63B): long enough (8 characters, 12 for
//! staff), up to at least 64 (we take up to 256), any characters, no composition rules,
//! never truncated, and not one of the 30,000 most common passwords. Passwords are
//! normalized (Unicode NFKC) before hashing, so the same password typed on different
//! keyboards verifies the same.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization as _;

pub(crate) const MIN_LENGTH: usize = 8;
pub(crate) const MIN_LENGTH_STAFF: usize = 12;
pub(crate) const MAX_LENGTH: usize = 256;

static COMMON: OnceLock<HashSet<String>> = OnceLock::new();

fn common() -> &'static HashSet<String> {
    COMMON.get_or_init(|| {
        let mut text = String::new();
        let compressed: &[u8] = include_bytes!("data/common-passwords.txt.gz");
        flate2::read::GzDecoder::new(compressed)
            .read_to_string(&mut text)
            .expect("the bundled list is valid gzip and UTF-8");
        text.lines().map(str::to_owned).collect()
    })
}

/// The form every password takes before hashing or checking.
pub(crate) fn normalize(password: &str) -> String {
    password.nfkc().collect()
}

/// Why a password was refused, in words for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error(
        "Use at least {0} characters. A few unrelated words make a long password that is easy to remember."
    )]
    TooShort(usize),
    #[error("Use at most {MAX_LENGTH} characters.")]
    TooLong,
    #[error(
        "This is one of the most common passwords, and is tried first by attackers. Choose something less predictable."
    )]
    Common,
    #[error("Do not use your e-mail address or name in your password.")]
    Personal,
}

/// Checks a new password. `personal` holds the person's e-mail and name.
pub fn check(password: &str, staff: bool, personal: &[&str]) -> Result<(), Refusal> {
    let normalized = normalize(password);
    let length = normalized.chars().count();
    let minimum = if staff { MIN_LENGTH_STAFF } else { MIN_LENGTH };
    if length < minimum {
        return Err(Refusal::TooShort(minimum));
    }
    if length > MAX_LENGTH {
        return Err(Refusal::TooLong);
    }
    let lower = normalized.to_lowercase();
    if common().contains(&lower)
        || common().contains(lower.trim_end_matches(|c: char| c.is_ascii_digit() || c == '!'))
    {
        return Err(Refusal::Common);
    }
    // Take the person's name and address out: if little of the password is left, it
    // was built from them.
    let mut rest = lower.clone();
    for part in personal.iter().flat_map(|p| {
        p.to_lowercase().split(|c: char| !c.is_alphanumeric()).map(str::to_owned).collect::<Vec<_>>()
    }) {
        if part.chars().count() >= 3 {
            rest = rest.replace(&part, "");
        }
    }
    if rest != lower && rest.chars().filter(|c| c.is_alphabetic()).count() < 6 {
        return Err(Refusal::Personal);
    }
    Ok(())
}

/// A short hint about how hard the password would be to guess, for the form.
pub(crate) fn strength_hint(password: &str, personal: &[&str]) -> &'static str {
    if password.is_empty() {
        return "";
    }
    match zxcvbn::zxcvbn(&normalize(password), personal).score() {
        zxcvbn::Score::Zero | zxcvbn::Score::One => "Very easy to guess.",
        zxcvbn::Score::Two => "Could be guessed. Longer is better.",
        zxcvbn::Score::Three => "Good.",
        _ => "Strong.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_rules_follow_nist_with_more_for_staff() {
        assert_eq!(check("seven77", false, &[]), Err(Refusal::TooShort(8)));
        assert_eq!(check("velvet horizon", false, &[]), Ok(()));
        assert_eq!(check("quiet lake 9", true, &[]), Ok(()));
        assert_eq!(check("brisk fjord", true, &[]), Err(Refusal::TooShort(12)));
        let long = "correct horse battery staple ".repeat(3);
        assert_eq!(check(&long, true, &[]), Ok(()), "{} characters are accepted", long.len());
        assert_eq!(check(&"x".repeat(257), false, &[]), Err(Refusal::TooLong));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for common in ["password", "Password1", "iloveyou", "123456789", "qwertyuiop", "Dragon", "letmein!"] {
            assert!(
                matches!(check(common, false, &[]), Err(Refusal::Common | Refusal::TooShort(_))),
                "{common}"
            );
        }
        assert_eq!(check("baseball123", false, &[]), Err(Refusal::Common));
    }

    #[test]
    fn no_composition_rules_and_unicode_counts_by_character() {
        assert_eq!(check("ñandú pingüino", false, &[]), Ok(()));
        assert_eq!(check("日本語のパスワード", false, &[]), Ok(()), "9 characters, 27 bytes");
        // NFKC: a full-width and a plain spelling are the same password.
        assert_eq!(normalize("ｐａｓｓｗｏｒｄ"), "password");
    }

    #[test]
    fn personal_details_are_refused() {
        assert_eq!(
            check("jordan.kim2026", false, &["jordan.kim@clinic.example", "Jordan Kim"]),
            Err(Refusal::Personal)
        );
        assert_eq!(check("jordan likes long sunny walks", false, &["jordan.kim@clinic.example"]), Ok(()));
    }
}
