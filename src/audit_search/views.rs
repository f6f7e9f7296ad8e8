use askama::Template;

/// The search form, as given in the address (a GET: bookmarkable, no patient name in it).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct SearchQuery {
    pub clinic: String,
    pub mrn: String,
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub break_glass: String,
    pub from: String,
    pub to: String,
    /// The keyset: the last row of the previous page, "<rfc3339>~<uuid>".
    pub after: String,
}

#[derive(Debug, Default)]
pub(crate) struct SearchErrors {
    pub clinic: Option<String>,
    pub actor: Option<String>,
    pub period: Option<String>,
}

pub(crate) struct EventLine {
    pub when: String,
    pub who: String,
    pub role: String,
    pub action: String,
    pub about: String,
    pub mrn: String,
    pub outcome: String,
    pub denied: bool,
    pub break_glass: bool,
    pub purpose: String,
    pub ip: String,
}

#[derive(Template)]
#[template(path = "audit_search/page.html")]
pub(crate) struct SearchPage {
    pub clinics: Vec<(String, String)>,
    pub query: SearchQuery,
    pub errors: SearchErrors,
    pub searched: bool,
    pub events: Vec<EventLine>,
    /// The address of the next page, when there is one.
    pub next: Option<String>,
}

/// The accounting of disclosures asked for: one patient of one clinic, over a period.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub(crate) struct DisclosuresQuery {
    pub clinic: String,
    pub mrn: String,
    pub from: String,
    pub to: String,
}

#[derive(Template)]
#[template(path = "audit_search/disclosures.html")]
pub(crate) struct DisclosuresPage {
    pub clinics: Vec<(String, String)>,
    pub query: DisclosuresQuery,
    pub error: Option<String>,
    /// The clinic's name and the period, once asked.
    pub heading: Option<String>,
    pub events: Vec<EventLine>,
    /// More events than one accounting shows: narrow the period.
    pub cut: bool,
    pub printed: String,
}
