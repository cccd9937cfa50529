DROP TABLE attrmig_fleet_reports;
UPDATE attrmig_schema SET version = 1 WHERE id = 1;
