-- Why a patient was taken out of the registry (a duplicate, registered by mistake): asked
-- at removal and shown on the list of recent removals, from which the front desk can put
-- the patient back. The history keeps every removal and restoration.
ALTER TABLE patients ADD COLUMN deleted_reason text CHECK (length(deleted_reason) <= 300);
