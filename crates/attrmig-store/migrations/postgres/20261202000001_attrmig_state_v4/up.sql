-- attrmig state schema, version 4: the step-9 fingerprint of old storage as digests per
-- key range (docs/store.md). A range is the keys after the previous range's last key up
-- to and including its own `last_key`, in the old key's order; the last range is open
-- above. About one row per 1,000 old keys, where version 3 kept one row per key (that
-- table, attrmig_old_fingerprints, stays: a migration that reached 9 under version 3 is
-- still checked key by key).
CREATE TABLE IF NOT EXISTS attrmig_old_ranges (
    migration_id VARCHAR(100) NOT NULL,
    ordinal BIGINT NOT NULL,
    last_key TEXT NOT NULL,
    key_count BIGINT NOT NULL,
    digest VARCHAR(64) NOT NULL,
    PRIMARY KEY (migration_id, ordinal)
);

-- Where a batched drop-old (JSON and EAV old storage) got: the last key of its last
-- committed batch, per intent, so that a run killed mid-way goes on from there.
CREATE TABLE IF NOT EXISTS attrmig_drop_checkpoints (
    migration_id VARCHAR(100) NOT NULL,
    intent BIGINT NOT NULL,
    last_key TEXT,
    rows_done BIGINT NOT NULL,
    PRIMARY KEY (migration_id, intent)
);

UPDATE attrmig_schema SET version = 4 WHERE id = 1;
