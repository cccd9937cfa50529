-- attrmig state schema, version 2.
--
-- Leases and sync passes carry a fencing token: a random token per run of a tool, which
-- every batch checks in its own transaction, so a runner that lost its lease writes
-- nothing. A lease also records where its runner runs (boot id, PID namespace, pid and
-- the process's start time), so that a dead runner is recognised only where that can
-- really be told. A pass that failed keeps its error.
--
-- Keys are unbounded: `row_key` is TEXT, and the tables it keys are keyed by its SHA-256
-- (`row_key_hash`, lowercase hex of the key's UTF-8 bytes) instead, as on the server
-- backends, where an index can't hold an unbounded text. `attrmig_sha256()` is a
-- function attrmig registers on the connection that runs this migration.

ALTER TABLE attrmig_leases ADD COLUMN tool VARCHAR(32) NOT NULL DEFAULT 'sync';
ALTER TABLE attrmig_leases ADD COLUMN token VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE attrmig_leases ADD COLUMN host VARCHAR(255);
ALTER TABLE attrmig_leases ADD COLUMN pid BIGINT;
ALTER TABLE attrmig_leases ADD COLUMN boot_id VARCHAR(64);
ALTER TABLE attrmig_leases ADD COLUMN pid_ns VARCHAR(64);
ALTER TABLE attrmig_leases ADD COLUMN proc_start BIGINT;

ALTER TABLE attrmig_sync_runs ADD COLUMN token VARCHAR(64) NOT NULL DEFAULT '';
ALTER TABLE attrmig_sync_runs ADD COLUMN error TEXT;

CREATE TABLE attrmig_data_issues_v2 (
    migration_id VARCHAR(100) NOT NULL,
    row_key_hash VARCHAR(64) NOT NULL,
    row_key TEXT NOT NULL,
    old_value TEXT,
    error TEXT NOT NULL,
    pass BIGINT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    attempts BIGINT NOT NULL,
    resolved_at TIMESTAMP,
    PRIMARY KEY (migration_id, row_key_hash)
);
INSERT INTO attrmig_data_issues_v2 (migration_id, row_key_hash, row_key, old_value, error,
    pass, first_seen_at, last_seen_at, attempts, resolved_at)
SELECT migration_id, attrmig_sha256(row_key), row_key, old_value, error,
    pass, first_seen_at, last_seen_at, attempts, resolved_at
FROM attrmig_data_issues;
DROP TABLE attrmig_data_issues;
ALTER TABLE attrmig_data_issues_v2 RENAME TO attrmig_data_issues;

CREATE TABLE attrmig_old_fingerprints_v2 (
    migration_id VARCHAR(100) NOT NULL,
    row_key_hash VARCHAR(64) NOT NULL,
    row_key TEXT NOT NULL,
    digest VARCHAR(32) NOT NULL,
    PRIMARY KEY (migration_id, row_key_hash)
);
INSERT INTO attrmig_old_fingerprints_v2 (migration_id, row_key_hash, row_key, digest)
SELECT migration_id, attrmig_sha256(row_key), row_key, digest FROM attrmig_old_fingerprints;
DROP TABLE attrmig_old_fingerprints;
ALTER TABLE attrmig_old_fingerprints_v2 RENAME TO attrmig_old_fingerprints;

UPDATE attrmig_schema SET version = 2 WHERE id = 1;
