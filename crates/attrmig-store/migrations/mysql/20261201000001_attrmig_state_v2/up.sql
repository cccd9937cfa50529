-- attrmig state schema, version 2.
--
-- Leases and sync passes carry a fencing token: a random token per run of a tool, which
-- every batch checks in its own transaction, so a runner that lost its lease writes
-- nothing. A lease also records where its runner runs (boot id, PID namespace, pid and
-- the process's start time), so that a dead runner is recognised only where that can
-- really be told. A pass that failed keeps its error.
--
-- Keys are unbounded: `row_key` is LONGTEXT, which InnoDB can't index whole, so the
-- tables it keys are keyed by its SHA-256 (`row_key_hash`, lowercase hex of the key's
-- UTF-8 bytes) instead; `utf8mb4_bin`, so that 'a' and 'A' are two keys. Values and
-- errors are LONGTEXT: TEXT holds 64 KB.
--
-- MySQL commits each ALTER TABLE at once, so a run killed halfway leaves some of them
-- done and no record of this migration: every statement can run again (a column is
-- added only where it is missing; the others restate the same definition), and the
-- schema version is written last.

SET @attrmig_ddl = IF((SELECT COUNT(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'attrmig_leases' AND column_name = 'token') = 0,
    'ALTER TABLE attrmig_leases
        ADD COLUMN tool VARCHAR(32) NOT NULL DEFAULT ''sync'',
        ADD COLUMN token VARCHAR(64) NOT NULL DEFAULT '''',
        ADD COLUMN host VARCHAR(255),
        ADD COLUMN pid BIGINT,
        ADD COLUMN boot_id VARCHAR(64),
        ADD COLUMN pid_ns VARCHAR(64),
        ADD COLUMN proc_start BIGINT',
    'DO 0');
PREPARE attrmig_ddl FROM @attrmig_ddl;
EXECUTE attrmig_ddl;
DEALLOCATE PREPARE attrmig_ddl;

SET @attrmig_ddl = IF((SELECT COUNT(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'attrmig_sync_runs' AND column_name = 'token') = 0,
    'ALTER TABLE attrmig_sync_runs
        ADD COLUMN token VARCHAR(64) NOT NULL DEFAULT '''',
        ADD COLUMN error LONGTEXT',
    'DO 0');
PREPARE attrmig_ddl FROM @attrmig_ddl;
EXECUTE attrmig_ddl;
DEALLOCATE PREPARE attrmig_ddl;
ALTER TABLE attrmig_sync_runs MODIFY checkpoint LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

ALTER TABLE attrmig_cross_check_runs MODIFY mismatches LONGTEXT, MODIFY error LONGTEXT;

SET @attrmig_ddl = IF((SELECT COUNT(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'attrmig_data_issues' AND column_name = 'row_key_hash') = 0,
    'ALTER TABLE attrmig_data_issues ADD COLUMN row_key_hash VARCHAR(64) CHARACTER SET ascii',
    'DO 0');
PREPARE attrmig_ddl FROM @attrmig_ddl;
EXECUTE attrmig_ddl;
DEALLOCATE PREPARE attrmig_ddl;
UPDATE attrmig_data_issues SET row_key_hash = SHA2(CONVERT(row_key USING utf8mb4), 256)
    WHERE row_key_hash IS NULL;
ALTER TABLE attrmig_data_issues
    MODIFY row_key_hash VARCHAR(64) CHARACTER SET ascii NOT NULL,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (migration_id, row_key_hash),
    MODIFY row_key LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    MODIFY old_value LONGTEXT,
    MODIFY error LONGTEXT NOT NULL;

SET @attrmig_ddl = IF((SELECT COUNT(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'attrmig_old_fingerprints' AND column_name = 'row_key_hash') = 0,
    'ALTER TABLE attrmig_old_fingerprints ADD COLUMN row_key_hash VARCHAR(64) CHARACTER SET ascii',
    'DO 0');
PREPARE attrmig_ddl FROM @attrmig_ddl;
EXECUTE attrmig_ddl;
DEALLOCATE PREPARE attrmig_ddl;
UPDATE attrmig_old_fingerprints SET row_key_hash = SHA2(CONVERT(row_key USING utf8mb4), 256)
    WHERE row_key_hash IS NULL;
ALTER TABLE attrmig_old_fingerprints
    MODIFY row_key_hash VARCHAR(64) CHARACTER SET ascii NOT NULL,
    DROP PRIMARY KEY,
    ADD PRIMARY KEY (migration_id, row_key_hash),
    MODIFY row_key LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;

-- Last: the schema is complete.
UPDATE attrmig_schema SET version = 2 WHERE id = 1;
