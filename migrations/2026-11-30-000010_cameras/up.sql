-- Cameras: the source of all live video (DESIGN §9). Stream URLs and credentials are sealed
-- (XChaCha20-Poly1305, `auth::sealed`): a database dump gives no camera away.
CREATE TABLE cameras (
    -- `CAM-01`… when the client gives none. Used in storage keys, hence the alphabet.
    id             TEXT PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$'),
    name           TEXT NOT NULL,
    location       TEXT NOT NULL DEFAULT '',
    stream_type    TEXT NOT NULL CHECK (stream_type IN ('RTSP', 'HTTP', 'RTMP', 'USB')),
    stream_url     TEXT NOT NULL,
    username       TEXT,
    password       TEXT,
    status         TEXT NOT NULL DEFAULT 'offline'
                   CHECK (status IN ('online', 'offline', 'maintenance')),
    fps            DOUBLE PRECISION,
    latency_ms     DOUBLE PRECISION,
    -- Mbit/s, as the seed shows it (6.4).
    bitrate        DOUBLE PRECISION,
    resolution     TEXT,
    ip_address     TEXT,
    tags           TEXT[] NOT NULL DEFAULT '{}',
    thumbnail_key  TEXT,
    enabled        BOOLEAN NOT NULL DEFAULT true,
    -- People counting: frames analysed per second, the detector's threshold, and an optional
    -- region of interest (polygon in 0–1 frame coordinates).
    sample_fps     DOUBLE PRECISION NOT NULL DEFAULT 1 CHECK (sample_fps > 0 AND sample_fps <= 10),
    min_confidence REAL NOT NULL DEFAULT 0.3 CHECK (min_confidence > 0 AND min_confidence < 1),
    roi            JSONB,
    -- The running watcher job, when one was started for the camera.
    watcher_job_id UUID,
    last_seen      TIMESTAMPTZ,
    last_checked   TIMESTAMPTZ,
    created_by     UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    version        INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX cameras_status_idx ON cameras (status);
CREATE INDEX cameras_enabled_idx ON cameras (enabled);

-- People counted per camera and minute window (seed 000's CameraCount). A window the watcher
-- did not see whole is `partial`; one it did not see at all has no row.
CREATE TABLE camera_counts (
    id               UUID PRIMARY KEY,
    camera_id        TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    window_start     TIMESTAMPTZ NOT NULL,
    window_end       TIMESTAMPTZ NOT NULL,
    people_count     INTEGER NOT NULL,
    average_count    DOUBLE PRECISION NOT NULL,
    frames_processed INTEGER NOT NULL,
    avg_inference_ms DOUBLE PRECISION NOT NULL,
    partial          BOOLEAN NOT NULL DEFAULT false,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (camera_id, window_start)
);
CREATE INDEX camera_counts_camera_idx ON camera_counts (camera_id, window_start DESC);
