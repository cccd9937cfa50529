-- attrmig state schema, version 2.
--
-- Leases and sync passes carry a fencing token: a random token per run of a tool, which
-- every batch checks in its own transaction, so a runner that lost its lease writes
-- nothing. A lease also records where its runner runs (boot id, PID namespace, pid and
-- the process's start time), so that a dead runner is recognised only where that can
-- really be told. A pass that failed keeps its error.
--
-- Keys are unbounded: `row_key` is TEXT, and the tables it keys are keyed by its SHA-256
-- (`row_key_hash`, lowercase hex of the key's UTF-8 bytes): a B-tree entry holds at most
-- about 2.7 KB. (sha256() is built in from PostgreSQL 11.)

ALTER TABLE attrmig_leases
    ADD COLUMN tool VARCHAR(32) NOT NULL DEFAULT 'sync',
    ADD COLUMN token VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN host VARCHAR(255),
    ADD COLUMN pid BIGINT,
    ADD COLUMN boot_id VARCHAR(64),
    ADD COLUMN pid_ns VARCHAR(64),
    ADD COLUMN proc_start BIGINT;

ALTER TABLE attrmig_sync_runs
    ADD COLUMN token VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN error TEXT;

ALTER TABLE attrmig_data_issues
    ALTER COLUMN row_key TYPE TEXT,
    ADD COLUMN row_key_hash VARCHAR(64);
UPDATE attrmig_data_issues SET row_key_hash = encode(sha256(convert_to(row_key, 'UTF8')), 'hex');
ALTER TABLE attrmig_data_issues
    ALTER COLUMN row_key_hash SET NOT NULL,
    DROP CONSTRAINT attrmig_data_issues_pkey,
    ADD PRIMARY KEY (migration_id, row_key_hash);

ALTER TABLE attrmig_old_fingerprints
    ALTER COLUMN row_key TYPE TEXT,
    ADD COLUMN row_key_hash VARCHAR(64);
UPDATE attrmig_old_fingerprints SET row_key_hash = encode(sha256(convert_to(row_key, 'UTF8')), 'hex');
ALTER TABLE attrmig_old_fingerprints
    ALTER COLUMN row_key_hash SET NOT NULL,
    DROP CONSTRAINT attrmig_old_fingerprints_pkey,
    ADD PRIMARY KEY (migration_id, row_key_hash);

UPDATE attrmig_schema SET version = 2 WHERE id = 1;
