-- People Vigil takes attendance of: employees (seed 004's face register) and students (seed
-- 001). Their photos and embeddings live on a face profile, like a missing person's, so one
-- enrollment serves every kind of person.
CREATE TABLE people (
    id             UUID PRIMARY KEY,
    profile_id     UUID NOT NULL UNIQUE REFERENCES face_profiles (id),
    kind           TEXT NOT NULL CHECK (kind IN ('employee', 'student')),
    name           TEXT NOT NULL,
    employee_id    TEXT UNIQUE,
    student_number TEXT UNIQUE,
    email          TEXT,
    department     TEXT,
    role           TEXT,
    year           INTEGER CHECK (year BETWEEN 1 AND 20),
    -- `pending` until a photo enrolls (trigger below); `archived` people are not recognised.
    status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('active', 'pending', 'archived')),
    notes          TEXT,
    created_by     UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((kind = 'employee' AND employee_id IS NOT NULL)
        OR (kind = 'student' AND student_number IS NOT NULL))
);
CREATE INDEX people_kind_idx ON people (kind, created_at DESC);
CREATE INDEX people_department_idx ON people (lower(department));

-- A person becomes active when their first photo enrolls; the enrollment job serves every
-- kind of profile and knows nothing of people.
CREATE FUNCTION people_activate_on_enroll() RETURNS trigger AS $$
BEGIN
    UPDATE people SET status = 'active', updated_at = now()
     WHERE profile_id = NEW.profile_id AND status = 'pending';
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER face_embeddings_activate_people
    AFTER INSERT ON face_embeddings
    FOR EACH ROW EXECUTE FUNCTION people_activate_on_enroll();
