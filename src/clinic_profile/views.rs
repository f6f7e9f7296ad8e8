use askama::Template;

use super::domain::AddressErrors;

/// The profile form, as typed (kept when it comes back with a message).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct ProfileForm {
    pub name: String,
    pub tax_id: String,
    pub address_line1: String,
    pub address_line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub phone: String,
}

#[derive(Debug, Default)]
pub(crate) struct ProfileErrors {
    pub name: Option<String>,
    pub tax_id: Option<String>,
    pub address: AddressErrors,
}

/// A new location, as typed.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct LocationForm {
    pub name: String,
    pub address_line1: String,
    pub address_line2: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub phone: String,
}

#[derive(Debug, Default)]
pub(crate) struct LocationErrors {
    pub name: Option<String>,
    pub address: AddressErrors,
}

pub(crate) struct LocationRow {
    pub id: String,
    pub name: String,
    /// "1 Main St, Suite 2, Boston, MA 02139".
    pub address: String,
    pub phone: Option<String>,
}

#[derive(Template)]
#[template(path = "clinic_profile/page.html")]
pub(crate) struct ProfilePage {
    pub notice: Option<String>,
    pub form: ProfileForm,
    pub errors: ProfileErrors,
    pub timezone: String,
    pub locations: Vec<LocationRow>,
    pub location: LocationForm,
    pub location_errors: LocationErrors,
    pub states: Vec<&'static str>,
}
