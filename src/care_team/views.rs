use askama::Template;

pub(crate) struct MemberRow {
    pub id: String,
    pub name: String,
    pub credentials: String,
    pub specialty: Option<String>,
    pub role: &'static str,
    pub since: String,
}

#[derive(Template)]
#[template(path = "care_team/section.html")]
pub(crate) struct CareTeamSection {
    pub patient_id: String,
    pub notice: Option<String>,
    pub members: Vec<MemberRow>,
    pub can_manage: bool,
    /// Providers not yet on the team: (id, "Name, MD").
    pub available: Vec<(String, String)>,
    pub roles: [(&'static str, &'static str); 3],
    pub chosen_role: String,
    pub reason: String,
    pub error: Option<String>,
    pub care_team_only: bool,
    /// What this person may change, said on the page.
    pub who_may_change: &'static str,
}
