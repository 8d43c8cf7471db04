DROP TABLE face_tracks;
