ALTER TABLE face_negatives DROP COLUMN detection_id;
ALTER TABLE face_detections DROP COLUMN descriptor;
