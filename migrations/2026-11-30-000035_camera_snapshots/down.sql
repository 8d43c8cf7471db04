DROP TABLE camera_snapshots;
