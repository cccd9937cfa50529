DROP TABLE attrmig_fleet_reports;
UPDATE attrmig_schema SET version = 2 WHERE id = 1;
