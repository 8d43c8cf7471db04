DROP TRIGGER IF EXISTS face_embeddings_activate_people ON face_embeddings;
DROP FUNCTION IF EXISTS people_activate_on_enroll();
DROP TABLE IF EXISTS people;
