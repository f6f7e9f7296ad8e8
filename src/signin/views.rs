use askama::Template;

#[derive(Template)]
#[template(path = "signin/sign_in.html")]
pub(crate) struct SignInPage {
    pub email: String,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub expired: bool,
}

#[derive(Template)]
#[template(path = "signin/mfa.html")]
pub(crate) struct ChallengePage {
    pub has_totp: bool,
    pub has_passkey: bool,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "signin/enrol.html")]
pub(crate) struct EnrolPage {
    pub required: bool,
}

/// The strength hint fragment for a new password as it is typed.
#[derive(Template)]
#[template(path = "signin/_strength.html")]
pub(crate) struct StrengthHint {
    pub hint: &'static str,
}

#[derive(Template)]
#[template(path = "signin/forgot.html")]
pub(crate) struct ForgotPage {
    pub email: String,
    pub sent: bool,
}

#[derive(Template)]
#[template(path = "signin/reset.html")]
pub(crate) struct ResetPage {
    pub valid: bool,
    pub email: String,
    pub min_length: usize,
    pub error: Option<String>,
}
