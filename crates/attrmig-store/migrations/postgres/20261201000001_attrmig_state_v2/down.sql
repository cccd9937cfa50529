-- Back to version 1 (fails if a key is longer than 255 characters: VARCHAR(255) there).
ALTER TABLE attrmig_old_fingerprints
    DROP CONSTRAINT attrmig_old_fingerprints_pkey,
    DROP COLUMN row_key_hash,
    ALTER COLUMN row_key TYPE VARCHAR(255),
    ADD PRIMARY KEY (migration_id, row_key);
ALTER TABLE attrmig_data_issues
    DROP CONSTRAINT attrmig_data_issues_pkey,
    DROP COLUMN row_key_hash,
    ALTER COLUMN row_key TYPE VARCHAR(255),
    ADD PRIMARY KEY (migration_id, row_key);
ALTER TABLE attrmig_sync_runs DROP COLUMN error, DROP COLUMN token;
ALTER TABLE attrmig_leases DROP COLUMN proc_start, DROP COLUMN pid_ns, DROP COLUMN boot_id,
    DROP COLUMN pid, DROP COLUMN host, DROP COLUMN token, DROP COLUMN tool;
UPDATE attrmig_schema SET version = 1 WHERE id = 1;
