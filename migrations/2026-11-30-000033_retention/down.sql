DROP INDEX detection_events_age_idx;
DROP INDEX captures_photo_age_idx;
DROP TRIGGER cameras_orphan_thumbnails ON cameras;
DROP TRIGGER captures_orphan_objects ON captures;
