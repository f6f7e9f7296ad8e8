use askama::Template;

pub(crate) struct TaskRow {
    pub id: String,
    pub patient_id: String,
    /// The chart section the task is about.
    pub section: &'static str,
    pub patient: String,
    pub mrn: String,
    pub summary: String,
    pub raised: String,
}

#[derive(Template)]
#[template(path = "tasks/list.html")]
pub(crate) struct TasksPage {
    pub tasks: Vec<TaskRow>,
}
