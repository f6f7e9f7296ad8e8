//! Signing in and out: password, passkey (passwordless), the second-factor challenge,
//! enrolment of a first second factor, and password reset.

mod handlers;
mod views;

pub use handlers::{is_workforce, notify};

use crate::web::{Access, Phi, Routes};

pub fn routes() -> Routes {
    Routes::new()
        .get("/sign-in", Access::Public, Phi::None, handlers::sign_in_page)
        .post("/sign-in", Access::Public, Phi::None, handlers::sign_in)
        .post("/sign-in/passkey/start", Access::Public, Phi::None, handlers::passkey_sign_in_start)
        .post("/sign-in/passkey/finish", Access::Public, Phi::None, handlers::passkey_sign_in_finish)
        .post("/sign-out", Access::Public, Phi::None, handlers::sign_out)
        .get("/mfa", Access::FirstFactor, Phi::None, handlers::challenge_page)
        .post("/mfa/totp", Access::FirstFactor, Phi::None, handlers::challenge_totp)
        .post("/mfa/recovery", Access::FirstFactor, Phi::None, handlers::challenge_recovery)
        .post("/mfa/passkey/start", Access::FirstFactor, Phi::None, handlers::challenge_passkey_start)
        .post("/mfa/passkey/finish", Access::FirstFactor, Phi::None, handlers::challenge_passkey_finish)
        .get("/mfa/enrol", Access::FirstFactor, Phi::None, handlers::enrol_page)
        .post("/password/strength", Access::Public, Phi::None, handlers::password_strength)
        .get("/password/forgot", Access::Public, Phi::None, handlers::forgot_page)
        .post("/password/forgot", Access::Public, Phi::None, handlers::forgot)
        .get("/password/reset/{token}", Access::Public, Phi::None, handlers::reset_link)
        .get("/password/reset", Access::Public, Phi::None, handlers::reset_page)
        .post("/password/reset", Access::Public, Phi::None, handlers::reset)
}
