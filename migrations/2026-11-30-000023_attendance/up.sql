-- Attendance: every sighting of a person (a device capture, a manual entry, later a camera
-- track) is an event; reviewers approve, reject or correct the ones the recognizer was not
-- sure of. Approved events roll up into one log per person and day (time in = first, time
-- out = last), rebuilt whenever an event of that day changes.
CREATE TABLE attendance_events (
    id                  UUID PRIMARY KEY,
    person_id           UUID NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    source              TEXT NOT NULL CHECK (source IN ('capture', 'manual', 'camera')),
    capture_id          UUID UNIQUE REFERENCES captures (id) ON DELETE CASCADE,
    occurred_at         TIMESTAMPTZ NOT NULL,
    confidence          REAL,
    device_id           UUID REFERENCES devices (id) ON DELETE SET NULL,
    classroom_id        TEXT,
    camera_id           TEXT,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    auto_approved       BOOLEAN NOT NULL DEFAULT false,
    -- Why the event waits for a reviewer (low confidence, resembles a rejected capture, …).
    review_reason       TEXT,
    reviewed_by         UUID REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at         TIMESTAMPTZ,
    review_notes        TEXT,
    -- Who the recognizer said it was, when a reviewer corrected the person.
    predicted_person_id UUID REFERENCES people (id) ON DELETE SET NULL,
    note                TEXT,
    created_by          UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX attendance_events_status_idx ON attendance_events (status, occurred_at DESC);
CREATE INDEX attendance_events_person_idx ON attendance_events (person_id, occurred_at DESC);

CREATE TABLE attendance_logs (
    id             UUID PRIMARY KEY,
    person_id      UUID NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    -- The UTC day of the sightings.
    date           DATE NOT NULL,
    time_in        TIMESTAMPTZ NOT NULL,
    time_out       TIMESTAMPTZ NOT NULL,
    status         TEXT NOT NULL DEFAULT 'present' CHECK (status IN ('present', 'late', 'missed')),
    -- The best confidence of the day's approved sightings (NULL for manual entries only).
    accuracy       REAL,
    events         INTEGER NOT NULL,
    -- Where the first sighting of the day was.
    device_id      UUID REFERENCES devices (id) ON DELETE SET NULL,
    classroom_id   TEXT,
    camera_id      TEXT,
    -- Ready for the Odoo sync: a log that changes goes back to `pending`.
    odoo_status    TEXT NOT NULL DEFAULT 'pending' CHECK (odoo_status IN ('pending', 'synced', 'failed')),
    odoo_sync_time TIMESTAMPTZ,
    odoo_error     TEXT,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (person_id, date)
);
CREATE INDEX attendance_logs_date_idx ON attendance_logs (date DESC);
CREATE INDEX attendance_logs_odoo_idx ON attendance_logs (odoo_status);

-- Faces a reviewer said were NOT this person: a later face closer to one of these than to the
-- person's own photos is never approved without review. Descriptors sealed (auth::sealed).
CREATE TABLE face_negatives (
    id          UUID PRIMARY KEY,
    person_id   UUID NOT NULL REFERENCES people (id) ON DELETE CASCADE,
    descriptor  TEXT NOT NULL,
    capture_id  UUID REFERENCES captures (id) ON DELETE SET NULL,
    created_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX face_negatives_person_idx ON face_negatives (person_id);

-- Operators may enter attendance by hand (pending until a reviewer approves it).
UPDATE roles SET permissions = array_append(permissions, 'attendance:write')
 WHERE id = 'ROLE-OPERATOR' AND NOT ('attendance:write' = ANY (permissions));
