-- Faces seen by cameras (seed 004 §3 "Live Detections & Provider"). A camera's watcher
-- recognises enrolled people when the camera's face recognition is on; `send-frame` asks for
-- one frame on demand.
ALTER TABLE cameras
    ADD COLUMN face_recognition BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN face_sample_fps  DOUBLE PRECISION NOT NULL DEFAULT 2
        CHECK (face_sample_fps > 0 AND face_sample_fps <= 10);

-- One row per face track: decided once over several frames, then kept current (last seen,
-- frames) until the face leaves the picture. A person's rows go with the person (erasure).
CREATE TABLE face_detections (
    id            UUID PRIMARY KEY,
    camera_id     TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    track_id      TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('stream', 'frame')),
    status        TEXT NOT NULL CHECK (status IN ('authorized', 'visitor', 'unknown')),
    -- The recognised person (authorized), or the nearest one a reviewer should look at.
    person_id     UUID REFERENCES people (id) ON DELETE CASCADE,
    confidence    REAL,
    distance      REAL,
    margin        REAL,
    -- Why an enrolled-looking face was not taken as the person.
    reason        TEXT,
    -- {top, left, width, height} in source pixels, of the face when decided.
    bbox          JSONB NOT NULL,
    face_px       REAL NOT NULL,
    frames        INTEGER NOT NULL,
    first_seen    TIMESTAMPTZ NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    thumbnail_key TEXT,
    job_id        UUID,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (camera_id, track_id)
);
CREATE INDEX face_detections_live_idx ON face_detections (last_seen DESC);
CREATE INDEX face_detections_camera_idx ON face_detections (camera_id, last_seen DESC);
CREATE INDEX face_detections_person_idx ON face_detections (person_id, last_seen DESC);
CREATE TRIGGER face_detections_orphan_thumbnails AFTER DELETE ON face_detections
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_thumbnails();

-- A camera sighting's evidence: the detection it came from (one event per detection).
-- A camera sees a person for a while: `last_seen_at` is the end of the sighting (NULL: the
-- moment `occurred_at` only), so a day's time out and current presence follow it.
ALTER TABLE attendance_events
    ADD COLUMN detection_id UUID UNIQUE REFERENCES face_detections (id) ON DELETE SET NULL,
    ADD COLUMN last_seen_at TIMESTAMPTZ;

-- Every call to the detection provider (seed 004's detection_event_logs): frames sent on
-- demand and provider tests, with latency and what came back.
CREATE TABLE detection_events (
    id            UUID PRIMARY KEY,
    camera_id     TEXT REFERENCES cameras (id) ON DELETE CASCADE,
    camera_name   TEXT,
    kind          TEXT NOT NULL CHECK (kind IN ('frame', 'test')),
    status        TEXT NOT NULL CHECK (status IN ('received', 'processing', 'error')),
    latency_ms    INTEGER,
    payload       JSONB,
    error_message TEXT,
    job_id        UUID,
    occurred_at   TIMESTAMPTZ NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX detection_events_time_idx ON detection_events (occurred_at DESC);
CREATE INDEX detection_events_camera_idx ON detection_events (camera_id, occurred_at DESC);

-- The detection provider (a singleton): the built-in pipeline of the workers.
CREATE TABLE detection_provider (
    id                 INTEGER PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    provider_name      TEXT NOT NULL DEFAULT 'Vigil built-in',
    endpoint           TEXT NOT NULL DEFAULT 'builtin',
    enabled            BOOLEAN NOT NULL DEFAULT true,
    status             TEXT NOT NULL DEFAULT 'offline'
                       CHECK (status IN ('connected', 'degraded', 'offline')),
    last_heartbeat     TIMESTAMPTZ,
    average_latency_ms INTEGER,
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    version            INTEGER NOT NULL DEFAULT 1
);
INSERT INTO detection_provider DEFAULT VALUES;

-- Whoever sees cameras sees their detections; whoever runs cameras may send a frame.
UPDATE roles SET permissions = array_append(permissions, 'detections:read')
 WHERE 'cameras:read' = ANY (permissions) AND NOT ('detections:read' = ANY (permissions));
UPDATE roles SET permissions = array_append(permissions, 'detections:write')
 WHERE 'cameras:write' = ANY (permissions) AND NOT ('detections:write' = ANY (permissions));
