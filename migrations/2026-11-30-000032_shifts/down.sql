DELETE FROM attendance_logs WHERE time_in IS NULL;
DROP INDEX attendance_logs_shift_idx;
ALTER TABLE attendance_logs
    DROP CONSTRAINT attendance_logs_missed_check,
    DROP COLUMN shift_id,
    ALTER COLUMN time_in SET NOT NULL,
    ALTER COLUMN time_out SET NOT NULL;
DROP TABLE shifts;
