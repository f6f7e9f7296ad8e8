use askama::Template;

use super::domain::{FLAGS, FlagHelp, KINDS};

pub(crate) struct ContactRow {
    pub id: String,
    pub kind: &'static str,
    pub value: String,
    pub label: Option<String>,
    pub is_primary: bool,
    /// (flag label, on) for the flags this kind can carry.
    pub flags: Vec<(&'static str, bool)>,
    pub verified: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ContactForm {
    pub kind: String,
    pub value: String,
    pub label: String,
    pub is_primary: String,
    pub safe_voicemail: String,
    pub safe_sms: String,
    pub safe_email: String,
    pub confidential: String,
}

impl ContactForm {
    pub fn flag(&self, field: &str) -> bool {
        match field {
            "safe_voicemail" => !self.safe_voicemail.is_empty(),
            "safe_sms" => !self.safe_sms.is_empty(),
            "safe_email" => !self.safe_email.is_empty(),
            "confidential" => !self.confidential.is_empty(),
            _ => false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ContactErrors {
    pub kind: Option<String>,
    pub value: Option<String>,
    pub label: Option<String>,
}

#[derive(Template)]
#[template(path = "contacts/section.html")]
pub(crate) struct ContactsSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub contacts: Vec<ContactRow>,
    pub can_edit: bool,
    pub can_edit_safety: bool,
    pub confidential: bool,
    /// The contact being edited (the form posts to it), or `None` for a new one.
    pub editing: Option<String>,
    pub form: ContactForm,
    pub errors: ContactErrors,
    pub kinds: [(&'static str, &'static str); 4],
    pub flag_help: &'static [FlagHelp; 4],
    /// The most recent automated messages, newest first.
    pub messages: Vec<MessageRow>,
    /// (purpose field, label, preferred channel or "") per kind of message.
    pub preferences: Vec<(&'static str, &'static str, String)>,
    pub channels: [(&'static str, &'static str); 4],
}

/// An automated message as staff see it on the chart.
pub(crate) struct MessageRow {
    pub when: String,
    pub what: String,
    /// sent, blocked, pending, failed, withdrawn.
    pub status: String,
    pub status_label: &'static str,
    pub how: Option<String>,
    pub reason: Option<String>,
}

impl ContactsSection {
    pub fn new(patient_id: String, contacts: Vec<ContactRow>) -> Self {
        Self {
            patient_id,
            notice: None,
            contacts,
            can_edit: false,
            can_edit_safety: false,
            confidential: false,
            editing: None,
            form: ContactForm { kind: "mobile".into(), ..ContactForm::default() },
            errors: ContactErrors::default(),
            kinds: KINDS,
            flag_help: &FLAGS,
            messages: Vec::new(),
            preferences: Vec::new(),
            channels: [
                ("", "No preference (text, then e-mail, then a call)"),
                ("sms", "Text message"),
                ("email", "E-mail"),
                ("voice", "Phone call"),
            ],
        }
    }
}
