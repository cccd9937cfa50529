-- attrmig state schema, version 1. Tables are prefixed so they can live in the
-- application's own database, like the history tables of migration tools.

CREATE TABLE attrmig_schema (
    id INTEGER NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
);
INSERT INTO attrmig_schema (id, version) VALUES (1, 1);

CREATE TABLE attrmig_migrations (
    id VARCHAR(100) NOT NULL PRIMARY KEY,
    step VARCHAR(32) NOT NULL,
    abandoned BOOLEAN NOT NULL,
    version BIGINT NOT NULL,
    storage_fingerprint VARCHAR(100),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Append-only audit log, hash-chained per migration: entry n has version n.
CREATE TABLE attrmig_transitions (
    migration_id VARCHAR(100) NOT NULL,
    version BIGINT NOT NULL,
    kind VARCHAR(16) NOT NULL,
    from_step VARCHAR(32) NOT NULL,
    to_step VARCHAR(32) NOT NULL,
    actor VARCHAR(255) NOT NULL,
    db_user VARCHAR(255),
    at TIMESTAMP NOT NULL,
    note TEXT,
    evidence TEXT NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (migration_id, version)
);

CREATE TABLE attrmig_approvals (
    migration_id VARCHAR(100) NOT NULL,
    version BIGINT NOT NULL,
    approver VARCHAR(255) NOT NULL,
    approved_at TIMESTAMP NOT NULL,
    PRIMARY KEY (migration_id, version)
);

CREATE TABLE attrmig_cross_check_runs (
    migration_id VARCHAR(100) NOT NULL,
    run BIGINT NOT NULL,
    full_scan BOOLEAN NOT NULL,
    sample_size BIGINT,
    status VARCHAR(16) NOT NULL,
    step VARCHAR(32) NOT NULL,
    actor VARCHAR(255) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    matching BIGINT NOT NULL,
    missing_in_new BIGINT NOT NULL,
    extra_in_new BIGINT NOT NULL,
    differs BIGINT NOT NULL,
    mismatches TEXT,
    error TEXT,
    PRIMARY KEY (migration_id, run)
);

CREATE TABLE attrmig_sync_runs (
    migration_id VARCHAR(100) NOT NULL,
    pass BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    step VARCHAR(32) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    checkpoint TEXT,
    rows_scanned BIGINT NOT NULL,
    rows_written BIGINT NOT NULL,
    rows_rejected BIGINT NOT NULL,
    PRIMARY KEY (migration_id, pass)
);

-- Dead letters: rows the new storage rejected, by key.
CREATE TABLE attrmig_data_issues (
    migration_id VARCHAR(100) NOT NULL,
    row_key VARCHAR(255) NOT NULL,
    old_value TEXT,
    error TEXT NOT NULL,
    pass BIGINT NOT NULL,
    first_seen_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    attempts BIGINT NOT NULL,
    resolved_at TIMESTAMP,
    PRIMARY KEY (migration_id, row_key)
);

CREATE TABLE attrmig_leases (
    migration_id VARCHAR(100) NOT NULL,
    purpose VARCHAR(32) NOT NULL,
    holder VARCHAR(255) NOT NULL,
    acquired_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (migration_id, purpose)
);

-- Digest of every non-NULL old value, taken when step 9 is reached.
CREATE TABLE attrmig_old_fingerprints (
    migration_id VARCHAR(100) NOT NULL,
    row_key VARCHAR(255) NOT NULL,
    digest VARCHAR(32) NOT NULL,
    PRIMARY KEY (migration_id, row_key)
);

-- A side effect announced before it happens (DDL is not transactional on MySQL).
CREATE TABLE attrmig_intents (
    migration_id VARCHAR(100) NOT NULL,
    intent BIGINT NOT NULL,
    what VARCHAR(64) NOT NULL,
    statements TEXT NOT NULL,
    actor VARCHAR(255) NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome VARCHAR(16),
    PRIMARY KEY (migration_id, intent)
);
