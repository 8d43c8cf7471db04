-- Faces Vigil can recognise. A profile is one person (a missing person today; employees and
-- students later share the same enrollment); each photo enrolls at most one embedding.
CREATE TABLE face_profiles (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('missing_person', 'employee', 'student')),
    display_name TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE face_photos (
    id                UUID PRIMARY KEY,
    profile_id        UUID NOT NULL REFERENCES face_profiles (id) ON DELETE CASCADE,
    object_key        TEXT NOT NULL,
    content_type      TEXT NOT NULL,
    size_bytes        BIGINT NOT NULL,
    original_filename TEXT,
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'enrolled', 'rejected', 'failed')),
    -- Why the photo was rejected (no face, several faces, too small, too blurry) or failed.
    reason            TEXT,
    -- The enrollment job (no foreign key: retention deletes old jobs, the photo stays).
    job_id            UUID,
    -- The enrolled face: box in photo pixels, detector score, size and sharpness measures.
    face              JSONB,
    created_by        UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX face_photos_profile_idx ON face_photos (profile_id, created_at);

CREATE TABLE face_embeddings (
    id         UUID PRIMARY KEY,
    profile_id UUID NOT NULL REFERENCES face_profiles (id) ON DELETE CASCADE,
    photo_id   UUID NOT NULL UNIQUE REFERENCES face_photos (id) ON DELETE CASCADE,
    -- Which network produced the vector: embeddings of different models never mix.
    model      TEXT NOT NULL,
    vector     REAL[] NOT NULL CHECK (cardinality(vector) = 128),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX face_embeddings_profile_idx ON face_embeddings (profile_id);

CREATE TABLE missing_persons (
    id                 UUID PRIMARY KEY,
    profile_id         UUID NOT NULL UNIQUE REFERENCES face_profiles (id),
    name               TEXT NOT NULL,
    age                INTEGER CHECK (age BETWEEN 0 AND 150),
    gender             TEXT,
    height_cm          INTEGER CHECK (height_cm BETWEEN 20 AND 300),
    description        TEXT,
    last_seen_location TEXT,
    last_seen_at       TIMESTAMPTZ,
    notes              TEXT,
    status             TEXT NOT NULL DEFAULT 'missing' CHECK (status IN ('missing', 'found', 'closed')),
    created_by         UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX missing_persons_status_idx ON missing_persons (status, created_at DESC);

-- Footage: an uploaded file (probed by a job) or a live stream URL.
CREATE TABLE videos (
    id                UUID PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('file', 'live')),
    title             TEXT NOT NULL,
    description       TEXT,
    object_key        TEXT,
    original_filename TEXT,
    content_type      TEXT,
    size_bytes        BIGINT,
    stream_url        TEXT,
    status            TEXT NOT NULL CHECK (status IN ('uploaded', 'probing', 'ready', 'failed')),
    error             TEXT,
    duration_secs     DOUBLE PRECISION,
    fps               DOUBLE PRECISION,
    width             INTEGER,
    height            INTEGER,
    codec             TEXT,
    container         TEXT,
    bit_rate          BIGINT,
    probe_job_id      UUID,
    created_by        UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'file' AND object_key IS NOT NULL) OR (kind = 'live' AND stream_url IS NOT NULL))
);
CREATE INDEX videos_status_idx ON videos (status, created_at DESC);

-- A search: which persons in which footage, with what settings. Its parent job carries status
-- and progress while it runs; `status` here keeps the outcome after job retention.
CREATE TABLE searches (
    id          UUID PRIMARY KEY,
    name        TEXT,
    job_id      UUID NOT NULL,
    status      TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled')),
    settings    JSONB NOT NULL,
    -- Who gets an email per appearance (besides users with the reviewer role, unless disabled).
    notify      TEXT[] NOT NULL DEFAULT '{}',
    summary     JSONB,
    created_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ
);
CREATE INDEX searches_created_idx ON searches (created_at DESC);
CREATE INDEX searches_status_idx ON searches (status, created_at DESC);

CREATE TABLE search_persons (
    search_id         UUID NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    missing_person_id UUID NOT NULL REFERENCES missing_persons (id) ON DELETE CASCADE,
    PRIMARY KEY (search_id, missing_person_id)
);

-- Per video of a search: its share of the work and where it got to.
CREATE TABLE search_videos (
    search_id        UUID NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    video_id         UUID NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled')),
    error            TEXT,
    segments         INTEGER NOT NULL DEFAULT 0,
    segments_done    INTEGER NOT NULL DEFAULT 0,
    frames_processed BIGINT NOT NULL DEFAULT 0,
    -- Sampled frames the models ran on (the rest showed an unchanged scene).
    frames_analysed  BIGINT NOT NULL DEFAULT 0,
    -- Seconds of footage processed (for live streams: seconds watched).
    seconds_processed DOUBLE PRECISION NOT NULL DEFAULT 0,
    -- Set by the API to end a live stream's watch (it then finishes as succeeded).
    stop_requested   BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (search_id, video_id)
);

-- One person seen in one video over a span of time: consecutive matching frames, decided by
-- their votes. Found by segment jobs; spans crossing a segment boundary are merged.
CREATE TABLE appearances (
    id                UUID PRIMARY KEY,
    search_id         UUID NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    video_id          UUID NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    missing_person_id UUID NOT NULL REFERENCES missing_persons (id) ON DELETE CASCADE,
    start_secs        DOUBLE PRECISION NOT NULL,
    end_secs          DOUBLE PRECISION NOT NULL,
    -- Wall-clock time of the first frame for live streams.
    started_at        TIMESTAMPTZ,
    frames            INTEGER NOT NULL,
    best_distance     REAL NOT NULL,
    best_score        REAL NOT NULL,
    best_secs         DOUBLE PRECISION NOT NULL,
    best_box          JSONB NOT NULL,
    thumbnail_key     TEXT NOT NULL,
    notified_at       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX appearances_search_idx ON appearances (search_id, video_id, start_secs);

-- Every sampled frame where a searched person matched: the evidence behind appearances.
-- Unique per (search, video, person, frame time), so a retried segment adds nothing twice.
CREATE TABLE detections (
    id                UUID PRIMARY KEY,
    search_id         UUID NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    video_id          UUID NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    missing_person_id UUID NOT NULL REFERENCES missing_persons (id) ON DELETE CASCADE,
    appearance_id     UUID REFERENCES appearances (id) ON DELETE SET NULL,
    frame_ms          BIGINT NOT NULL,
    observed_at       TIMESTAMPTZ,
    bbox              JSONB NOT NULL,
    detector_score    REAL NOT NULL,
    distance          REAL NOT NULL,
    score             REAL NOT NULL,
    -- Distance to the next best identity in the gallery (NULL when there is none).
    runner_up_margin  REAL,
    frame_key         TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (search_id, video_id, missing_person_id, frame_ms)
);
CREATE INDEX detections_search_idx ON detections (search_id, video_id, frame_ms);
CREATE INDEX detections_score_idx ON detections (search_id, score DESC);
