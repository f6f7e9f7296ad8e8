//! Homes that say what to do, one page per staff role, each in the route registry:
//! the front desk's day (arrivals to check in, who is waiting, no-shows, open tasks), the
//! provider's day (their visits, their unsigned drafts), the nurse's rooming queue (who
//! checked in, waiting longest first), the call center's entry point, and the clinic
//! administrator's (licences about to run out, with a weekly job's tasks, providers not
//! bookable yet). `/home` sends each role to theirs.

mod domain;
mod handlers;
mod repo;
mod views;

use sqlx::{Postgres, Transaction};

use crate::auth::policy::{Module, Permission};
use crate::jobs::{Job, JobContext, JobError, JobKind, Outcome};
use crate::web::{Access, Audience, Phi, Routes};

type JobResult = Result<Outcome, JobError>;

pub fn routes() -> Routes {
    Routes::new()
        .get("/home/front-desk", Access::Staff(Permission::ManageSchedule), Phi::Reads, handlers::front_desk)
        .get("/home/clinician", Access::Staff(Permission::WriteNote), Phi::Reads, handlers::clinician)
        .get("/home/rooming", Access::Staff(Permission::RecordClinicalSummary), Phi::Reads, handlers::rooming)
        .get("/home/admin", Access::Staff(Permission::ManageMembers), Phi::None, handlers::admin)
        .post(
            "/home/admin/tasks/{admin_task_id}/done",
            Access::Staff(Permission::ManageMembers),
            Phi::None,
            handlers::close_task,
        )
        .module(Module::CallCenter)
        .nav("Calls", "/home/calls", Audience::Staff(Permission::ScreenPop), 15)
        .get("/home/calls", Access::Staff(Permission::ScreenPop), Phi::None, handlers::calls)
}

const LICENCE_TASKS_ALL: &str = "licences.tasks_all";
const LICENCE_TASKS: &str = "licences.tasks";

/// Weekly: every active clinic gets a job that turns the licences running out within 60
/// days into tasks on its administrators' home (one task per licence and expiry date).
pub struct LicenceTasksAll;

#[async_trait::async_trait]
impl JobKind for LicenceTasksAll {
    fn kind(&self) -> &'static str {
        LICENCE_TASKS_ALL
    }

    fn every(&self) -> Option<chrono::TimeDelta> {
        Some(chrono::TimeDelta::days(7))
    }

    async fn run(
        &self,
        job: &Job,
        tx: &mut Transaction<'static, Postgres>,
        context: &JobContext,
    ) -> JobResult {
        handlers::queue_licence_tasks(job, tx, context).await
    }
}

/// One clinic's licence tasks (queued by `LicenceTasksAll`).
pub struct LicenceTasks;

#[async_trait::async_trait]
impl JobKind for LicenceTasks {
    fn kind(&self) -> &'static str {
        LICENCE_TASKS
    }

    async fn run(&self, _: &Job, tx: &mut Transaction<'static, Postgres>, context: &JobContext) -> JobResult {
        handlers::licence_tasks(tx, context).await
    }
}
