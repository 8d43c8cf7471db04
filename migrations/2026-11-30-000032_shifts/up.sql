-- Shift schedules (seed 004's shift_schedules): a day's log is `late` after a shift's start
-- plus grace, `missed` when the shift ended without a sighting. Times are local to
-- VIGIL_TIMEZONE; a shift ending before it starts runs overnight.
CREATE TABLE shifts (
    id                 TEXT PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$'),
    name               TEXT NOT NULL,
    start_time         TIME NOT NULL,
    end_time           TIME NOT NULL CHECK (end_time <> start_time),
    -- ISO weekdays, 1 = Monday.
    days               SMALLINT[] NOT NULL DEFAULT '{1,2,3,4,5}',
    grace_minutes      INTEGER NOT NULL DEFAULT 10 CHECK (grace_minutes BETWEEN 0 AND 240),
    -- The departments whose people work it; empty: everyone.
    departments        TEXT[] NOT NULL DEFAULT '{}',
    location           TEXT,
    expected_headcount INTEGER NOT NULL DEFAULT 0 CHECK (expected_headcount >= 0),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    version            INTEGER NOT NULL DEFAULT 1
);

-- A `missed` day has no sighting: no time in or out.
ALTER TABLE attendance_logs
    ALTER COLUMN time_in DROP NOT NULL,
    ALTER COLUMN time_out DROP NOT NULL,
    ADD COLUMN shift_id TEXT REFERENCES shifts (id) ON DELETE SET NULL,
    ADD CONSTRAINT attendance_logs_missed_check
        CHECK ((status = 'missed') = (time_in IS NULL));
CREATE INDEX attendance_logs_shift_idx ON attendance_logs (shift_id, date);
