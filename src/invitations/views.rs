use askama::Template;

/// What the person can do with the invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Signed in as the invited person.
    Accept,
    /// The invited person has an account: sign in first.
    SignIn,
    /// Signed in as somebody else.
    WrongAccount,
    /// No account yet: name and password.
    CreateAccount,
}

pub struct Invitation {
    pub headline: String,
    pub detail: String,
    pub email: String,
    pub expires: String,
    pub min_length: usize,
    pub step: Step,
}

#[derive(Template)]
#[template(path = "invitations/accept.html")]
pub(crate) struct AcceptPage {
    pub invitation: Option<Invitation>,
    pub display_name: String,
    pub error: Option<String>,
    pub name_error: Option<String>,
    pub password_error: Option<String>,
}
