//! Vital signs: blood pressure, pulse, breathing rate, temperature, oxygen saturation,
//! weight and height, typed in the units a clinic uses (°F or °C, lb or kg, in or cm) and
//! kept in one unit each; values outside adult reference ranges are marked, and the
//! section draws the trend of blood pressure and weight on the server (SVG and CSS, no
//! script), with the readings as a table beside it.

mod domain;
mod handlers;
mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/vitals";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewClinicalSummary);
    let record = Access::Staff(Permission::RecordClinicalSummary);
    Routes::new()
        .chart_tab(SECTION, "Vitals", 16)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post(SECTION, record, Phi::Writes, handlers::add)
        .post(
            "/patients/{patient_id}/vitals/{vitals_id}/error",
            record,
            Phi::Writes,
            handlers::entered_in_error,
        )
}
