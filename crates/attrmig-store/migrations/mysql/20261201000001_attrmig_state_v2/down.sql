-- Back to version 1 (fails if a key is longer than 255 characters: VARCHAR(255) there).
ALTER TABLE attrmig_old_fingerprints
    MODIFY row_key VARCHAR(255) NOT NULL,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (migration_id, row_key),
    DROP COLUMN row_key_hash;
ALTER TABLE attrmig_data_issues
    MODIFY row_key VARCHAR(255) NOT NULL,
    MODIFY old_value TEXT,
    MODIFY error TEXT NOT NULL,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (migration_id, row_key),
    DROP COLUMN row_key_hash;
ALTER TABLE attrmig_cross_check_runs MODIFY mismatches TEXT, MODIFY error TEXT;
ALTER TABLE attrmig_sync_runs MODIFY checkpoint TEXT, DROP COLUMN error, DROP COLUMN token;
ALTER TABLE attrmig_leases DROP COLUMN proc_start, DROP COLUMN pid_ns, DROP COLUMN boot_id,
    DROP COLUMN pid, DROP COLUMN host, DROP COLUMN token, DROP COLUMN tool;
UPDATE attrmig_schema SET version = 1 WHERE id = 1;
