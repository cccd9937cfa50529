-- attrmig state schema, version 3: the fleet's reports (docs/app.md). Each instance of
-- the application upserts one row per migration on a fixed interval; the row is
-- cumulative (periods, buckets, mismatch sample as JSON), so a failed write is carried by
-- the next one. Applications need INSERT and UPDATE here.
--
-- MySQL commits the CREATE TABLE at once: it can run again after a run killed halfway,
-- and the version is written last. MEDIUMTEXT: TEXT stops at 64 KB.

CREATE TABLE IF NOT EXISTS attrmig_fleet_reports (
    migration_id VARCHAR(100) NOT NULL,
    instance_id VARCHAR(100) NOT NULL,
    host VARCHAR(255) NOT NULL,
    process VARCHAR(255) NOT NULL,
    app_version VARCHAR(100) NOT NULL,
    step VARCHAR(32) NOT NULL,
    step_since DATETIME(6) NOT NULL,
    pinned BOOLEAN NOT NULL,
    stale BOOLEAN NOT NULL,
    seen_step VARCHAR(32),
    seen_version BIGINT,
    started_at DATETIME(6) NOT NULL,
    reported_at DATETIME(6) NOT NULL,
    periods MEDIUMTEXT NOT NULL,
    buckets MEDIUMTEXT NOT NULL,
    mismatches MEDIUMTEXT NOT NULL,
    protocol INTEGER NOT NULL,
    PRIMARY KEY (migration_id, instance_id)
);

-- Last: the schema is complete.
UPDATE attrmig_schema SET version = 3 WHERE id = 1;
