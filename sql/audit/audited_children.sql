-- The children audited and when, for cohort.sql's "audited recently" exclusion: a TEMP table of
-- the connection (caseflags.audit.sampling.audited_children), so a read-only snapshot can fill it.
CREATE OR REPLACE TEMP TABLE audit_audited_children (person_id VARCHAR NOT NULL, audited_on DATE NOT NULL);
