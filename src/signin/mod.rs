//! Signing in and out: password, passkey (passwordless), the second-factor challenge,
//! enrolment of a first second factor, and password reset.

mod handlers;
mod repo;
mod views;

use crate::auth::signin::FlowPage;
use crate::web::{Access, Audience, Phi, Routes};

use handlers::{reset, second_factor, sign_in};

pub fn routes() -> Routes {
    Routes::new()
        .flow_page(FlowPage::SignIn, "/sign-in")
        .flow_page(FlowPage::SignOut, "/sign-out")
        .flow_page(FlowPage::SecondFactor, "/mfa")
        .flow_page(FlowPage::EnrolSecondFactor, "/mfa/enrol")
        .nav("Sign in", "/sign-in", Audience::SignedOut, 20)
        .get("/sign-in", Access::Public, Phi::None, sign_in::sign_in_page)
        .post("/sign-in", Access::Public, Phi::None, sign_in::sign_in)
        .post("/sign-in/passkey/start", Access::Public, Phi::None, sign_in::passkey_sign_in_start)
        .post("/sign-in/passkey/finish", Access::Public, Phi::None, sign_in::passkey_sign_in_finish)
        .post("/sign-out", Access::Public, Phi::None, sign_in::sign_out)
        .get("/mfa", Access::FirstFactor, Phi::None, second_factor::challenge_page)
        .post("/mfa/totp", Access::FirstFactor, Phi::None, second_factor::challenge_totp)
        .post("/mfa/recovery", Access::FirstFactor, Phi::None, second_factor::challenge_recovery)
        .post("/mfa/passkey/start", Access::FirstFactor, Phi::None, second_factor::challenge_passkey_start)
        .post("/mfa/passkey/finish", Access::FirstFactor, Phi::None, second_factor::challenge_passkey_finish)
        .get("/mfa/enrol", Access::FirstFactor, Phi::None, second_factor::enrol_page)
        .post("/password/strength", Access::Public, Phi::None, reset::password_strength)
        .get("/password/forgot", Access::Public, Phi::None, reset::forgot_page)
        .post("/password/forgot", Access::Public, Phi::None, reset::forgot)
        .get("/password/reset/{token}", Access::Public, Phi::None, reset::reset_link)
        .get("/password/reset", Access::Public, Phi::None, reset::reset_page)
        .post("/password/reset", Access::Public, Phi::None, reset::reset)
}
