UPDATE roles SET permissions = array_remove(permissions, 'attendance:write');
DROP TABLE IF EXISTS face_negatives;
DROP TABLE IF EXISTS attendance_logs;
DROP TABLE IF EXISTS attendance_events;
