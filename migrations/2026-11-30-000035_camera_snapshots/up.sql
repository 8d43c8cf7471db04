-- Every snapshot a camera took, so its object goes with the camera and with retention
-- (VIGIL_SNAPSHOT_RETENTION_DAYS); the camera's thumbnail is its latest and is kept.
CREATE TABLE camera_snapshots (
    id          UUID PRIMARY KEY,
    camera_id   TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
    object_key  TEXT NOT NULL UNIQUE,
    taken_at    TIMESTAMPTZ NOT NULL,
    job_id      UUID,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX camera_snapshots_age_idx ON camera_snapshots (taken_at);
CREATE TRIGGER camera_snapshots_orphan_objects AFTER DELETE ON camera_snapshots
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_objects();

-- The latest snapshot of each camera is the one known before this table existed.
INSERT INTO camera_snapshots (id, camera_id, object_key, taken_at)
SELECT gen_random_uuid(), id, thumbnail_key, COALESCE(last_seen, now())
  FROM cameras WHERE thumbnail_key IS NOT NULL
ON CONFLICT DO NOTHING;
