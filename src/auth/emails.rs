//! The account e-mails (templates in `templates/emails/<name>/`: subject, text, html).
//! They carry links and generic words only: no patient names, no diagnosis, and for
//! patient and proxy invitations not even the clinic's name (a clinic's specialty can
//! reveal care). Whoever opens the link sees the details after it.

use askama::Template;

use crate::integrations::mail::Email;

macro_rules! account_email {
    ($name:ident, $subject:literal, $text:literal, $html:literal, { $($field:ident),* $(,)? }) => {
        pub struct $name { $(pub $field: String),* }

        impl $name {
            pub(crate) fn render(&self, to: &str) -> Result<Email, askama::Error> {
                #[derive(Template)]
                #[template(path = $subject, escape = "none")]
                #[allow(dead_code)] // a subject uses only some of the fields
                struct Subject<'a> { $($field: &'a str),* }
                #[derive(Template)]
                #[template(path = $text, escape = "none")]
                struct Text<'a> { $($field: &'a str),* }
                #[derive(Template)]
                #[template(path = $html)]
                struct Html<'a> { $($field: &'a str),* }
                Ok(Email {
                    to: to.to_owned(),
                    subject: Subject { $($field: &self.$field),* }.render()?.trim().to_owned(),
                    text: Text { $($field: &self.$field),* }.render()?,
                    html: Html { $($field: &self.$field),* }.render()?,
                })
            }
        }
    };
}

account_email!(StaffInvitation, "emails/staff_invitation/subject.txt", "emails/staff_invitation/body.txt",
    "emails/staff_invitation/body.html", { inviter, clinic, roles, link, expires });
account_email!(PatientInvitation, "emails/patient_invitation/subject.txt", "emails/patient_invitation/body.txt",
    "emails/patient_invitation/body.html", { link, expires });
account_email!(ProxyInvitation, "emails/proxy_invitation/subject.txt", "emails/proxy_invitation/body.txt",
    "emails/proxy_invitation/body.html", { link, expires });
account_email!(
    PasswordReset,
    "emails/password_reset/subject.txt",
    "emails/password_reset/body.txt",
    "emails/password_reset/body.html",
    { link }
);
account_email!(
    EmailVerification,
    "emails/email_verification/subject.txt",
    "emails/email_verification/body.txt",
    "emails/email_verification/body.html",
    { link }
);
account_email!(SecurityNotice, "emails/security_notice/subject.txt", "emails/security_notice/body.txt",
    "emails/security_notice/body.html", { what, when });
account_email!(BreakGlassAlert, "emails/break_glass_alert/subject.txt", "emails/break_glass_alert/body.txt",
    "emails/break_glass_alert/body.html", { clinic, who, role, purpose, when, until, link });
