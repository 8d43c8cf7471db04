ALTER TABLE detection_provider DROP COLUMN api_key;
