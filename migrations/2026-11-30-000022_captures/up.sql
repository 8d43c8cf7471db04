-- Photos sent by capture devices (`POST /capture`), each recognised by an
-- `attendance.recognize` job. The device chooses `capture_id`, so a retry from its offline
-- buffer finds the first capture instead of adding a second.
CREATE TABLE captures (
    id                  UUID PRIMARY KEY,
    device_id           UUID REFERENCES devices (id) ON DELETE SET NULL,
    capture_id          TEXT NOT NULL,
    classroom_id        TEXT,
    -- When the device took the photo (its clock).
    captured_at         TIMESTAMPTZ NOT NULL,
    -- NULL once the photo is erased (retention, or its person deleted).
    object_key          TEXT,
    content_type        TEXT NOT NULL,
    size_bytes          BIGINT NOT NULL,
    job_id              UUID,
    status              TEXT NOT NULL DEFAULT 'processing'
                        CHECK (status IN ('processing', 'authorized', 'unknown', 'no_face', 'failed')),
    -- Why a capture has no face or failed, in words for the user.
    reason              TEXT,
    predicted_person_id UUID REFERENCES people (id) ON DELETE SET NULL,
    distance            REAL,
    confidence          REAL,
    -- Distance to the next enrolled person minus `distance` (NULL with one person enrolled).
    margin              REAL,
    -- The recognised face: box in photo pixels and detector score.
    face                JSONB,
    -- The face descriptor, sealed (auth::sealed): kept so a reviewer's rejection can become a
    -- negative example.
    descriptor          TEXT,
    decided_at          TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (device_id, capture_id)
);
CREATE INDEX captures_created_idx ON captures (created_at DESC);
CREATE INDEX captures_person_idx ON captures (predicted_person_id);
