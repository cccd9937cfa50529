DROP TABLE attrmig_drop_checkpoints;
DROP TABLE attrmig_old_ranges;
UPDATE attrmig_schema SET version = 3 WHERE id = 1;
