-- A URL being fetched is claimed by the run fetching it (its flow run id), so a second run at
-- the same time leaves it alone; a claim counts only while its run's row says `running` (a
-- crashed run's claims lapse when the next run marks it crashed). Settling or failing an
-- attempt clears the claim.
ALTER TABLE frontier ADD COLUMN claimed_by VARCHAR;
