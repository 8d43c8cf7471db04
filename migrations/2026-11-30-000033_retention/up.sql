-- Objects go with their rows however the rows go (storage_orphans, 000006): a deleted
-- capture's photo, a deleted camera's latest snapshot.
CREATE TRIGGER captures_orphan_objects AFTER DELETE ON captures
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_objects();
CREATE TRIGGER cameras_orphan_thumbnails AFTER DELETE ON cameras
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_thumbnails();
CREATE INDEX captures_photo_age_idx ON captures (captured_at) WHERE object_key IS NOT NULL;
CREATE INDEX detection_events_age_idx ON detection_events (created_at);
