use askama::Template;

pub(crate) struct QueueLine {
    pub clinic: String,
    pub suspended: bool,
    pub ready: i64,
    pub scheduled: i64,
    pub running: i64,
    pub dead: i64,
    pub lag: String,
}

pub(crate) struct DeadLine {
    pub id: String,
    pub kind: String,
    pub clinic: String,
    pub attempts: String,
    pub finished: String,
    pub error: String,
}

pub(crate) struct ChainLine {
    pub chain: String,
    pub sealed: i64,
    pub last_sealed: String,
    /// Events waiting for the sealer, and how long the oldest has waited.
    pub lag: String,
    /// Whether the wait is longer than the sealer should ever take.
    pub lagging: bool,
    pub verification: String,
    pub broken: bool,
}

#[derive(Template)]
#[template(path = "platform_health/page.html")]
pub(crate) struct HealthPage {
    pub notice: Option<String>,
    pub queues: Vec<QueueLine>,
    pub dead: Vec<DeadLine>,
    pub chains: Vec<ChainLine>,
}
