-- attrmig state schema, version 1. Tables are prefixed so they can live in the
-- application's own database, like the history tables of migration tools.
--
-- MySQL commits each CREATE TABLE at once, so a run killed halfway leaves some tables
-- and no record of this migration: every statement can run again, and the schema
-- version is written last, so that a half-made schema never reads as version 1.

CREATE TABLE IF NOT EXISTS attrmig_schema (
    id INTEGER NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS attrmig_migrations (
    id VARCHAR(100) NOT NULL PRIMARY KEY,
    step VARCHAR(32) NOT NULL,
    abandoned BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    storage_fingerprint VARCHAR(100),
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL
);

-- Append-only audit log, hash-chained per migration: entry n has version n.
CREATE TABLE IF NOT EXISTS attrmig_transitions (
    migration_id VARCHAR(100) NOT NULL,
    version BIGINT NOT NULL,
    kind VARCHAR(16) NOT NULL,
    from_step VARCHAR(32) NOT NULL,
    to_step VARCHAR(32) NOT NULL,
    actor VARCHAR(255) NOT NULL,
    db_user VARCHAR(255),
    at DATETIME(6) NOT NULL,
    note TEXT,
    evidence TEXT NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (migration_id, version)
);

CREATE TABLE IF NOT EXISTS attrmig_approvals (
    migration_id VARCHAR(100) NOT NULL,
    version BIGINT NOT NULL,
    approver VARCHAR(255) NOT NULL,
    approved_at DATETIME(6) NOT NULL,
    PRIMARY KEY (migration_id, version)
);

CREATE TABLE IF NOT EXISTS attrmig_cross_check_runs (
    migration_id VARCHAR(100) NOT NULL,
    run BIGINT NOT NULL,
    full_scan BOOLEAN NOT NULL,
    sample_size BIGINT,
    status VARCHAR(16) NOT NULL,
    step VARCHAR(32) NOT NULL,
    actor VARCHAR(255) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    heartbeat_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6),
    matching BIGINT NOT NULL,
    missing_in_new BIGINT NOT NULL,
    extra_in_new BIGINT NOT NULL,
    differs BIGINT NOT NULL,
    mismatches TEXT,
    error TEXT,
    PRIMARY KEY (migration_id, run)
);

CREATE TABLE IF NOT EXISTS attrmig_sync_runs (
    migration_id VARCHAR(100) NOT NULL,
    pass BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    step VARCHAR(32) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    heartbeat_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6),
    checkpoint TEXT,
    rows_scanned BIGINT NOT NULL,
    rows_written BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    PRIMARY KEY (migration_id, pass)
);

-- Dead letters: rows the new storage rejected, by key.
CREATE TABLE IF NOT EXISTS attrmig_data_issues (
    migration_id VARCHAR(100) NOT NULL,
    row_key VARCHAR(255) NOT NULL,
    old_value TEXT,
    error TEXT NOT NULL,
    pass BIGINT NOT NULL,
    first_seen_at DATETIME(6) NOT NULL,
    last_seen_at DATETIME(6) NOT NULL,
    attempts BIGINT NOT NULL,
    resolved_at DATETIME(6),
    PRIMARY KEY (migration_id, row_key)
);

CREATE TABLE IF NOT EXISTS attrmig_leases (
    migration_id VARCHAR(100) NOT NULL,
    purpose VARCHAR(32) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    acquired_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    PRIMARY KEY (migration_id, purpose)
);

-- Digest of every non-NULL old value, taken when step 9 is reached.
CREATE TABLE IF NOT EXISTS attrmig_old_fingerprints (
    migration_id VARCHAR(100) NOT NULL,
    row_key VARCHAR(255) NOT NULL,
    digest VARCHAR(32) NOT NULL,
    PRIMARY KEY (migration_id, row_key)
);

-- A side effect announced before it happens (DDL is not transactional on MySQL).
CREATE TABLE IF NOT EXISTS attrmig_intents (
    migration_id VARCHAR(100) NOT NULL,
    intent BIGINT NOT NULL,
    what VARCHAR(64) NOT NULL,
    statements TEXT NOT NULL,
    actor VARCHAR(255) NOT NULL,
    started_at DATETIME(6) NOT NULL,
    finished_at DATETIME(6),
    outcome VARCHAR(16),
    PRIMARY KEY (migration_id, intent)
);

-- Last: the schema is complete.
INSERT IGNORE INTO attrmig_schema (id, version) VALUES (1, 1);
