-- attrmig state schema, version 3: the fleet's reports (docs/app.md). Each instance of
-- the application upserts one row per migration on a fixed interval; the row is
-- cumulative (periods, buckets, mismatch sample as JSON), so a failed write is carried by
-- the next one. Applications need INSERT and UPDATE here, and SELECT on the key columns.

CREATE TABLE attrmig_fleet_reports (
    migration_id VARCHAR(100) NOT NULL,
    instance_id VARCHAR(100) NOT NULL,
    host VARCHAR(255) NOT NULL,
    process VARCHAR(255) NOT NULL,
    app_version VARCHAR(100) NOT NULL,
    step VARCHAR(32) NOT NULL,
    step_since TIMESTAMP NOT NULL,
    pinned BOOLEAN NOT NULL,
    stale BOOLEAN NOT NULL,
    seen_step VARCHAR(32),
    seen_version BIGINT,
    started_at TIMESTAMP NOT NULL,
    reported_at TIMESTAMP NOT NULL,
    periods TEXT NOT NULL,
    buckets TEXT NOT NULL,
    mismatches TEXT NOT NULL,
    protocol INTEGER NOT NULL,
    PRIMARY KEY (migration_id, instance_id)
);

UPDATE attrmig_schema SET version = 3 WHERE id = 1;
