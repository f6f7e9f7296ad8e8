use askama::Template;

pub(crate) struct PasskeyRow {
    pub id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
    pub disabled: bool,
}

pub(crate) struct SessionRow {
    /// The stored digest of the session's id: names it in the form that ends it (one-way,
    /// so it is no way into the session).
    pub key: String,
    pub current: bool,
    pub device: String,
    pub since: String,
    pub ip: Option<String>,
}

#[derive(Template)]
#[template(path = "account/security.html")]
pub(crate) struct SecurityPage {
    pub notice: Option<String>,
    pub email: String,
    pub has_totp: bool,
    pub can_remove_totp: bool,
    pub recovery_left: i64,
    pub passkeys: Vec<PasskeyRow>,
    pub sessions: Vec<SessionRow>,
    pub min_length: usize,
    pub password_error: Option<String>,
    pub new_email: String,
    pub email_error: Option<String>,
    /// The person's own timezone ("" = the clinic's), the zones offered, the zone the
    /// page's times are shown in, and what is wrong with a choice.
    pub timezone: String,
    pub zones: Vec<&'static str>,
    pub shown_in: String,
    pub timezone_error: Option<String>,
}

/// The QR code is SVG drawn by the server from the provisioning URI, so it is marked
/// safe in the template; nothing in it comes from a person.
#[derive(Template)]
#[template(path = "account/totp.html")]
pub(crate) struct TotpPage {
    /// The pending secret, once the person asked for one.
    pub setup: Option<TotpSetup>,
    /// A working app will be replaced when the new one is confirmed.
    pub replacing: bool,
    pub error: Option<String>,
}

pub(crate) struct TotpSetup {
    pub qr_svg: String,
    pub secret: String,
}

#[derive(Template)]
#[template(path = "account/recovery_offer.html")]
pub(crate) struct RecoveryCodesOffer {
    pub next: String,
}

#[derive(Template)]
#[template(path = "account/recovery_codes.html")]
pub(crate) struct RecoveryCodesPage {
    pub codes: Vec<String>,
    pub continue_to: String,
}

#[derive(Template)]
#[template(path = "account/reauthenticate.html")]
pub(crate) struct ReauthenticatePage {
    pub next: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "account/verify_email.html")]
pub(crate) struct VerifyEmailPage {
    pub new_email: Option<String>,
}
