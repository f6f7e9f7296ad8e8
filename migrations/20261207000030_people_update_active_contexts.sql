-- A clinic reads the people it has had (a former nurse's name on an old note), but changes
-- an account only through a context of that person's that is active now: an ended
-- membership or a revoked proxy grant is no handle on somebody's account.
DROP POLICY people_update ON users;
CREATE POLICY people_update ON users FOR UPDATE
    USING (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR id = nullif(current_setting('app.user_id', true), '')::uuid
           OR EXISTS (SELECT 1 FROM user_contexts uc WHERE uc.user_id = users.id AND uc.active))
    WITH CHECK (nullif(current_setting('app.organization_id', true), '') IS NULL
           OR id = nullif(current_setting('app.user_id', true), '')::uuid
           OR EXISTS (SELECT 1 FROM user_contexts uc WHERE uc.user_id = users.id AND uc.active));
