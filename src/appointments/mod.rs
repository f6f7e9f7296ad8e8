//! Scheduling: providers' working hours (wall-clock, in the clinic's timezone),
//! appointment types, booking, rescheduling, cancelling, check-in and no-shows, with
//! double booking refused by an exclusion constraint in the database. Day view across
//! providers for the front desk, week view per provider, and the chart's appointments
//! section. Instants are stored in UTC and shown on the viewer's clock.

pub mod domain;
mod handlers;
pub(crate) mod repo;
mod views;

use crate::auth::policy::Permission;
use crate::web::{Access, Audience, Phi, Routes};

/// The feature's section of the patient's chart (its tab).
const SECTION: &str = "/patients/{patient_id}/appointments";

pub fn routes() -> Routes {
    let view = Access::Staff(Permission::ViewSchedule);
    let manage = Access::Staff(Permission::ManageSchedule);
    let configure = Access::Staff(Permission::ConfigureSchedule);
    Routes::new()
        .chart_tab(SECTION, "Appointments", 40)
        .nav("Schedule", "/schedule", Audience::Staff(Permission::ViewSchedule), 20)
        .nav("Schedule set-up", "/schedule/setup", Audience::Staff(Permission::ConfigureSchedule), 50)
        .get("/schedule", view, Phi::Reads, handlers::day)
        // Called by an open schedule page on its own: never a person's activity.
        .background_get("/schedule/events", view, Phi::None, handlers::events)
        .background_get("/schedule/live", view, Phi::Reads, handlers::day)
        .get("/schedule/providers/{provider_id}", view, Phi::Reads, handlers::week)
        .get(SECTION, view, Phi::Reads, handlers::section)
        .post("/patients/{patient_id}/appointments", manage, Phi::Writes, handlers::book)
        .get("/patients/{patient_id}/appointments/free-slots", manage, Phi::Reads, handlers::free_slots)
        .get("/appointments/{appointment_id}", view, Phi::Reads, handlers::detail)
        .post("/appointments/{appointment_id}/reschedule", manage, Phi::Writes, handlers::reschedule)
        .post("/appointments/{appointment_id}/check-in", manage, Phi::Writes, handlers::check_in)
        .post("/appointments/{appointment_id}/undo-check-in", manage, Phi::Writes, handlers::undo_check_in)
        .post("/appointments/{appointment_id}/complete", manage, Phi::Writes, handlers::complete)
        .post("/appointments/{appointment_id}/no-show", manage, Phi::Writes, handlers::no_show)
        .post("/appointments/{appointment_id}/cancel", manage, Phi::Writes, handlers::cancel)
        .get("/schedule/setup", configure, Phi::None, handlers::setup)
        .post("/schedule/setup/hours", configure, Phi::None, handlers::add_hours)
        .post("/schedule/setup/hours/{hours_id}/remove", configure, Phi::None, handlers::remove_hours)
        .post("/schedule/setup/types", configure, Phi::None, handlers::add_type)
        .post("/schedule/setup/types/{type_id}/toggle", configure, Phi::None, handlers::toggle_type)
}
