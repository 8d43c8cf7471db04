-- The descriptor of a camera track's largest face, sealed like a capture's (auth::sealed): a
-- reviewer's rejection of a camera sighting becomes a negative example, as a capture's does.
ALTER TABLE face_detections ADD COLUMN descriptor TEXT;
ALTER TABLE face_negatives
    ADD COLUMN detection_id UUID REFERENCES face_detections (id) ON DELETE SET NULL;
