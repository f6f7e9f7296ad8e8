//! What a merge request must say.

/// The form as sent.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub(crate) struct MergeForm {
    /// The duplicate's MRN.
    pub mrn: String,
    pub reason: String,
    /// "Yes, merge": ticked after seeing both charts.
    pub confirm: String,
}

/// The reason kept with the merge, or what is wrong with it.
pub(crate) fn reason(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    match text.chars().count() {
        0 => Err(
            "Say why these are the same person (for example \u{201c}same person, registered twice\u{201d}).",
        ),
        1..=300 => Ok(text),
        _ => Err("Keep the reason under 300 characters."),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_merge_says_why() {
        assert!(super::reason(" ").is_err());
        assert_eq!(super::reason(" registered twice "), Ok("registered twice"));
    }
}
