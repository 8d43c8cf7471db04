DROP TABLE camera_counts;
DROP TABLE cameras;
