use askama::Template;

use super::domain::{LicenceErrors, LicenceForm, ProviderErrors, ProviderForm, StaffErrors, StaffForm};

pub(crate) struct LicenceLine {
    pub id: String,
    pub state: String,
    pub number: String,
    pub expires_on: String,
    /// Within the warning period (60 days).
    pub expires_soon: bool,
}

/// A member's profile page: the staff profile, and for a provider the provider profile
/// and licences.
#[derive(Template)]
#[template(path = "profiles/page.html")]
pub(crate) struct ProfilePage {
    pub membership_id: String,
    pub name: String,
    pub email: String,
    pub role_label: &'static str,
    pub status: String,
    pub notice: Option<String>,
    pub staff: StaffForm,
    pub staff_errors: StaffErrors,
    /// Only for a member whose role is provider.
    pub is_provider: bool,
    /// Whether the provider profile exists yet (until it does, they cannot be booked).
    pub has_provider_profile: bool,
    pub provider: ProviderForm,
    pub provider_errors: ProviderErrors,
    pub credentials: Vec<(&'static str, &'static str)>,
    pub licences: Vec<LicenceLine>,
    pub licence: LicenceForm,
    pub licence_errors: LicenceErrors,
    pub states: Vec<&'static str>,
}
