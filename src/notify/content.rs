//! What automated messages say. Minimum necessary: a text or a voicemail can be read or
//! heard by anyone holding the phone, so they carry a time, a call-back number and the
//! portal address, and never a name, a clinic, a provider, a visit type or a reason
//! (any of which can reveal care: "Riverside Oncology" is a diagnosis). E-mail says no
//! more. The person sees the details after signing in.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::integrations::mail::Email;

/// The facts a reminder may carry, and nothing else: the type makes it impossible to pass
/// a name or a visit reason to a template.
#[derive(Debug, Clone)]
pub(crate) struct ReminderFacts {
    pub starts_at: DateTime<Utc>,
    /// The recipient's zone (the patient's, else the clinic's).
    pub zone: Tz,
    /// E.164; the clinic's call-back number, if it set one.
    pub callback: Option<String>,
    /// Where to sign in and see the details.
    pub portal_url: String,
    /// A proxy receives it for a dependent.
    pub for_dependent: bool,
}

impl ReminderFacts {
    fn when(&self) -> String {
        self.starts_at.with_timezone(&self.zone).format("%a %b %-d at %-I:%M %p").to_string()
    }

    fn spoken_when(&self) -> String {
        self.starts_at.with_timezone(&self.zone).format("%A, %B %-d, at %-I:%M %p").to_string()
    }

    fn whose(&self) -> &'static str {
        if self.for_dependent { "an appointment for someone in your care" } else { "an appointment" }
    }

    fn callback(&self) -> Option<String> {
        self.callback.as_deref().map(display_phone)
    }
}

/// `+16175550100` as `(617) 555-0100` for North American numbers; others as stored.
pub(crate) fn display_phone(e164: &str) -> String {
    match e164.strip_prefix("+1") {
        Some(rest) if rest.len() == 10 && rest.bytes().all(|b| b.is_ascii_digit()) => {
            format!("({}) {}-{}", &rest[..3], &rest[3..6], &rest[6..])
        }
        _ => e164.to_owned(),
    }
}

/// How to change a visit, in words that are true today: by telephone (the portal cannot
/// change visits yet, so no message says it can).
fn how_to_change(facts: &ReminderFacts) -> String {
    match facts.callback() {
        Some(phone) => format!("To change it, call {phone}."),
        None => "To change it, call your clinic.".to_owned(),
    }
}

pub(crate) fn reminder_text(facts: &ReminderFacts) -> String {
    format!(
        "Reminder: you have {} on {}. {} Reply STOP to opt out.",
        facts.whose(),
        facts.when(),
        how_to_change(facts)
    )
}

pub(crate) fn reminder_voice(facts: &ReminderFacts) -> String {
    let reach = match facts.callback() {
        Some(phone) => format!("To change it, please call {phone}."),
        None => "To change it, please call your clinic.".to_owned(),
    };
    format!(
        "Hello. This is an automated reminder of {} on {}. {reach} Thank you. Goodbye.",
        facts.whose(),
        facts.spoken_when()
    )
}

pub(crate) fn reminder_email(to: &str, facts: &ReminderFacts) -> Email {
    let reach = how_to_change(facts);
    // The address on a line of its own: no punctuation a mail program could take into
    // the link.
    let text = format!(
        "Hello,\n\nThis is a reminder that you have {} on {}.\n\n{reach}\n\nYour patient portal:\n{}\n",
        facts.whose(),
        facts.when(),
        facts.portal_url
    );
    let escape =
        |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let html = format!(
        "<p>Hello,</p><p>This is a reminder that you have {} on {}.</p><p>{}</p><p><a href=\"{}\">Open your patient portal</a></p>",
        escape(facts.whose()),
        escape(&facts.when()),
        escape(&reach),
        escape(&facts.portal_url)
    );
    Email { to: to.to_owned(), subject: "Appointment reminder".into(), text, html }
}

/// The one reply to a keyword, sent once when the number's state changes.
pub(crate) fn keyword_confirmation(opted_out: bool) -> &'static str {
    if opted_out {
        "You will no longer receive text messages from this number. Reply START to receive them again."
    } else {
        "You will receive text messages from this number again. Reply STOP to opt out."
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminders_read_in_the_recipients_zone() {
        let facts = ReminderFacts {
            starts_at: "2027-03-15T13:00:00Z".parse().expect("time"),
            zone: chrono_tz::America::New_York,
            callback: Some("+16175550100".into()),
            portal_url: "https://portal.example/portal".into(),
            for_dependent: false,
        };
        assert_eq!(
            reminder_text(&facts),
            "Reminder: you have an appointment on Mon Mar 15 at 9:00 AM. To change it, call (617) 555-0100. Reply STOP to opt out."
        );
        let email = reminder_email("a@b.example", &facts);
        assert!(email.text.contains("\nhttps://portal.example/portal\n"), "{}", email.text);
        assert!(!email.text.contains("details"), "promises nothing the portal does not have: {}", email.text);
        assert!(reminder_voice(&facts).contains("Monday, March 15, at 9:00 AM"));
        assert!(
            reminder_text(&ReminderFacts { for_dependent: true, ..facts }).contains("someone in your care")
        );
    }
}
