/// The roles a provider holds on a team: (stored value, label).
pub(crate) const ROLES: [(&str, &str); 3] =
    [("primary", "Primary provider"), ("specialist", "Specialist"), ("consultant", "Consultant")];

pub(crate) fn role_label(role: &str) -> &'static str {
    ROLES.iter().find(|(r, _)| *r == role).map_or("Member", |(_, label)| label)
}

/// The reason given for a change, or what is wrong with it.
pub(crate) fn reason(text: &str) -> Result<&str, &'static str> {
    let text = text.trim();
    match text.chars().count() {
        0 => {
            Err("Say why (for example \u{201c}referred for cardiology\u{201d}); it is kept with the change.")
        }
        1..=300 => Ok(text),
        _ => Err("Keep the reason under 300 characters."),
    }
}
