//! What the health page may show of a job's error: the operator needs the kind of
//! failure, not whom the message was for.

/// `error` cut to 300 characters, with e-mail addresses and runs of seven or more digits
/// (phone numbers, identifiers) masked.
pub(crate) fn masked_error(error: &str) -> String {
    let words: Vec<String> = error
        .split_inclusive(char::is_whitespace)
        .map(|word| {
            let trimmed = word.trim_end();
            if trimmed.contains('@') && trimmed.contains('.') {
                return word.replace(trimmed, "[address]");
            }
            mask_digit_runs(word)
        })
        .collect();
    let joined: String = words.concat();
    let mut shown: String = joined.chars().take(300).collect();
    if joined.chars().count() > 300 {
        shown.push('…');
    }
    shown
}

fn mask_digit_runs(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push_str("[number]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in word.chars() {
        // A phone number's separators stay inside its run.
        if c.is_ascii_digit() || (!run.is_empty() && matches!(c, '-' | '(' | ')' | '.')) || c == '+' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::masked_error;

    #[test]
    fn addresses_and_numbers_are_masked_and_the_rest_kept() {
        assert_eq!(
            masked_error("SES refused maria.lopez@example.com: throttled"),
            "SES refused [address] throttled"
        );
        assert_eq!(masked_error("to +16175550123 failed (code 21610)"), "to [number] failed (code 21610)");
        assert_eq!(masked_error("attempt 3 of 8"), "attempt 3 of 8");
        let long = "x".repeat(400);
        assert_eq!(masked_error(&long).chars().count(), 301);
    }
}
