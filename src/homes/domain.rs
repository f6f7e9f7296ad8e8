//! How the homes say things.

/// Minutes waited, as the queue says it.
pub(crate) fn waited(minutes: i64) -> String {
    match minutes {
        ..=0 => "just arrived".to_owned(),
        1 => "1 minute".to_owned(),
        2..=59 => format!("{minutes} minutes"),
        _ => format!("{} h {:02} min", minutes / 60, minutes % 60),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn waiting_reads_naturally() {
        assert_eq!(super::waited(0), "just arrived");
        assert_eq!(super::waited(12), "12 minutes");
        assert_eq!(super::waited(75), "1 h 15 min");
    }
}
