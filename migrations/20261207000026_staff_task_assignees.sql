-- Tasks for one person beside the front desk's shared queue: a provider is told that a
-- patient's primary provider changed (a change that opens or closes sensitive notes to
-- someone). A task with no assignee is the shared queue's (messages the gate would not
-- send); one with an assignee is that person's alone.
ALTER TABLE staff_tasks DROP CONSTRAINT staff_tasks_kind_check;
ALTER TABLE staff_tasks ADD CONSTRAINT staff_tasks_kind_check
    CHECK (kind IN ('message_blocked', 'care_team_changed'));
ALTER TABLE staff_tasks ADD COLUMN assigned_user_id uuid REFERENCES users (id);
CREATE INDEX staff_tasks_assigned_open ON staff_tasks (organization_id, assigned_user_id, created_at)
    WHERE done_at IS NULL AND assigned_user_id IS NOT NULL;
