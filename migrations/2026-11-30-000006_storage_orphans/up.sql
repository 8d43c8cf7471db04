-- Storage objects whose rows are gone, waiting to be deleted from storage. Triggers fill it
-- whenever a row that names an object is deleted, however it goes (a DELETE, a foreign-key
-- cascade from a video, person or search, retention), in the same transaction: an object is
-- never forgotten because its row went by a path that did not think of it. The API deletes
-- the objects right after its own deletes; the cleanup job retries what failed.
CREATE TABLE storage_orphans (
    key         TEXT PRIMARY KEY,
    orphaned_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
);
CREATE INDEX storage_orphans_queue_idx ON storage_orphans (attempts, orphaned_at);

CREATE FUNCTION storage_orphan_frames() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_orphans (key)
    SELECT DISTINCT frame_key FROM gone WHERE frame_key IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE FUNCTION storage_orphan_objects() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_orphans (key)
    SELECT DISTINCT object_key FROM gone WHERE object_key IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

-- Thumbnails belong to detections (an appearance's thumbnail is its best detection's frame,
-- deleted with it: both go with their search, video or person).
CREATE TRIGGER detections_orphan_frames AFTER DELETE ON detections
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_frames();
CREATE TRIGGER face_photos_orphan_objects AFTER DELETE ON face_photos
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_objects();
CREATE TRIGGER videos_orphan_objects AFTER DELETE ON videos
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_objects();

-- Deleting a video or a person finds its results by video or person.
CREATE INDEX detections_video_idx ON detections (video_id);
CREATE INDEX detections_person_idx ON detections (missing_person_id);
CREATE INDEX appearances_video_idx ON appearances (video_id);
CREATE INDEX appearances_person_idx ON appearances (missing_person_id);
