//! What a problem entry must say, and the codes it may carry.

/// A problem's code, with the system it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Code {
    /// ICD-10-CM: a letter, two characters, then up to four after a dot ("E11.9").
    Icd10(String),
    /// SNOMED CT concept id: 6 to 18 digits ending in a Verhoeff check digit.
    Snomed(String),
}

impl Code {
    pub fn system(&self) -> &'static str {
        match self {
            Self::Icd10(_) => "icd10",
            Self::Snomed(_) => "snomed",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Self::Icd10(code) | Self::Snomed(code) => code,
        }
    }
}

pub(crate) fn system_label(system: &str) -> &'static str {
    match system {
        "icd10" => "ICD-10",
        "snomed" => "SNOMED CT",
        _ => "Code",
    }
}

/// The code typed, if any: which system it belongs to, or what is wrong with it.
pub(crate) fn parse_code(text: &str) -> Result<Option<Code>, &'static str> {
    let text = text.trim().to_ascii_uppercase();
    if text.is_empty() {
        return Ok(None);
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return if (6..=18).contains(&text.len()) && verhoeff_valid(&text) {
            Ok(Some(Code::Snomed(text)))
        } else {
            Err("This number is not a SNOMED CT concept id (its check digit does not match).")
        };
    }
    if is_icd10(&text) {
        return Ok(Some(Code::Icd10(text)));
    }
    Err("Enter an ICD-10 code (like E11.9) or a SNOMED CT id (like 44054006), or leave it empty.")
}

/// ICD-10-CM's shape: a letter, a digit, a digit or letter; then
/// optionally a dot and one to four digits or letters.
fn is_icd10(code: &str) -> bool {
    let (category, rest) = code.split_at(code.len().min(3));
    let mut head = category.chars();
    let shape = matches!(head.next(), Some(c) if c.is_ascii_uppercase())
        && matches!(head.next(), Some(c) if c.is_ascii_digit())
        && matches!(head.next(), Some(c) if c.is_ascii_alphanumeric());
    let tail_ok = rest.is_empty()
        || rest.strip_prefix('.').is_some_and(|tail| {
            (1..=4).contains(&tail.len()) && tail.chars().all(|c| c.is_ascii_alphanumeric())
        });
    shape && tail_ok
}

/// The Verhoeff check SNOMED CT ids carry in their last digit.
fn verhoeff_valid(digits: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut check = 0u8;
    for (i, c) in digits.bytes().rev().enumerate() {
        let digit = usize::from(c - b'0');
        check = D[usize::from(check)][usize::from(P[i % 8][digit])];
    }
    check == 0
}

/// A new problem's description, checked.
pub(crate) fn description(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    match text.chars().count() {
        0 => Err("Describe the problem (for example \u{201c}Type 2 diabetes\u{201d})."),
        1..=200 => Ok(text),
        _ => Err("Keep the description under 200 characters."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_told_apart_and_checked() {
        assert_eq!(parse_code(" e11.9 "), Ok(Some(Code::Icd10("E11.9".into()))));
        assert_eq!(parse_code("I10"), Ok(Some(Code::Icd10("I10".into()))));
        assert_eq!(parse_code("S72.001A"), Ok(Some(Code::Icd10("S72.001A".into()))));
        // Diabetes mellitus type 2 and essential hypertension, as SNOMED CT has them.
        assert_eq!(parse_code("44054006"), Ok(Some(Code::Snomed("44054006".into()))));
        assert_eq!(parse_code("59621000"), Ok(Some(Code::Snomed("59621000".into()))));
        assert!(parse_code("44054007").is_err(), "a wrong check digit");
        assert!(parse_code("E11.12345").is_err());
        assert_eq!(parse_code("U07.1"), Ok(Some(Code::Icd10("U07.1".into()))));
        assert!(parse_code("diabetes").is_err());
        assert_eq!(parse_code(""), Ok(None));
    }
}
