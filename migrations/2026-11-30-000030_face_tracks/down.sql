DROP TABLE face_tracks;
DROP FUNCTION storage_orphan_thumbnails();
