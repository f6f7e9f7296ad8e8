use askama::Template;

use super::HealthReport;

/// `/status` as a full page.
#[derive(Template)]
#[template(path = "health/status.html")]
pub(crate) struct StatusPage {
    pub report: HealthReport,
}

/// `/status` for htmx: only the `#status-panel` block of the same file.
#[derive(Template)]
#[template(path = "health/status.html", block = "status_panel")]
pub(crate) struct StatusPanelFragment {
    pub report: HealthReport,
}
