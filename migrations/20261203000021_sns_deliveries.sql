-- The SNS messages already taken in (inbound texts). SNS delivers at least once and a
-- captured message could be posted again: a message id seen before is not acted on a
-- second time. Kept for a day (messages older than an hour are refused anyway).
CREATE TABLE sns_deliveries (
    message_id text PRIMARY KEY CHECK (length(message_id) BETWEEN 1 AND 100),
    received_at timestamptz NOT NULL
);
CREATE INDEX sns_deliveries_received ON sns_deliveries (received_at);
-- Platform data: no clinic's transaction sees it.
ALTER TABLE sns_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE sns_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_only ON sns_deliveries
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL)
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL);
GRANT SELECT, INSERT, DELETE ON sns_deliveries TO lockdev_runtime;
