-- Back to version 1 (keys longer than 255 characters can't go back: VARCHAR(255) there).
CREATE TABLE attrmig_old_fingerprints_v1 (
    migration_id VARCHAR(100) NOT NULL,
    row_key VARCHAR(255) NOT NULL,
    digest VARCHAR(32) NOT NULL,
    PRIMARY KEY (migration_id, row_key)
);
INSERT INTO attrmig_old_fingerprints_v1 SELECT migration_id, row_key, digest FROM attrmig_old_fingerprints;
DROP TABLE attrmig_old_fingerprints;
ALTER TABLE attrmig_old_fingerprints_v1 RENAME TO attrmig_old_fingerprints;

CREATE TABLE attrmig_data_issues_v1 (
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
INSERT INTO attrmig_data_issues_v1 SELECT migration_id, row_key, old_value, error, pass,
    first_seen_at, last_seen_at, attempts, resolved_at FROM attrmig_data_issues;
DROP TABLE attrmig_data_issues;
ALTER TABLE attrmig_data_issues_v1 RENAME TO attrmig_data_issues;

ALTER TABLE attrmig_sync_runs DROP COLUMN error;
ALTER TABLE attrmig_sync_runs DROP COLUMN token;
ALTER TABLE attrmig_leases DROP COLUMN proc_start;
ALTER TABLE attrmig_leases DROP COLUMN pid_ns;
ALTER TABLE attrmig_leases DROP COLUMN boot_id;
ALTER TABLE attrmig_leases DROP COLUMN pid;
ALTER TABLE attrmig_leases DROP COLUMN host;
ALTER TABLE attrmig_leases DROP COLUMN token;
ALTER TABLE attrmig_leases DROP COLUMN tool;
UPDATE attrmig_schema SET version = 1 WHERE id = 1;
