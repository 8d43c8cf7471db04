UPDATE roles SET permissions = array_remove(array_remove(permissions, 'detections:read'), 'detections:write');
DROP TABLE detection_provider;
DROP TABLE detection_events;
ALTER TABLE attendance_events DROP COLUMN detection_id, DROP COLUMN last_seen_at;
DROP TABLE face_detections;
ALTER TABLE cameras DROP COLUMN face_sample_fps, DROP COLUMN face_recognition;
