-- Every face track a search followed, judged against each searched person: the evidence
-- possible sightings are ranked from (core/src/searches/sightings.rs). One row per track and
-- person; a track is keyed by when it started and its number among the tracks the tracker
-- opened (deterministic for the same footage), so a retried or resumed segment replaces its
-- own rows instead of adding them again.
CREATE TABLE face_tracks (
    id                UUID PRIMARY KEY,
    search_id         UUID NOT NULL REFERENCES searches (id) ON DELETE CASCADE,
    video_id          UUID NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    missing_person_id UUID NOT NULL REFERENCES missing_persons (id) ON DELETE CASCADE,
    start_ms          BIGINT NOT NULL,
    track_no          INTEGER NOT NULL,
    end_ms            BIGINT NOT NULL,
    frames            INTEGER NOT NULL,
    -- Largest face seen on the track (shorter box side, pixels).
    max_px            REAL NOT NULL,
    -- Mean distance of the track's best faces to the person, and the best one.
    distance          REAL NOT NULL,
    best_distance     REAL NOT NULL,
    best_ms           BIGINT NOT NULL,
    best_px           REAL NOT NULL,
    -- The closest face's thumbnail, kept only for tracks close enough to be shown.
    thumbnail_key     TEXT,
    -- Set when the track is a possible sighting (rank 1 = most likely in its video).
    sighting_rank     INTEGER,
    sighting_standout REAL,
    review_status     TEXT CHECK (review_status IN ('pending', 'confirmed', 'dismissed')),
    review_note       TEXT,
    reviewed_by       UUID REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at       TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (search_id, video_id, missing_person_id, start_ms, track_no)
);
CREATE INDEX face_tracks_sightings_idx ON face_tracks (search_id, sighting_rank)
    WHERE sighting_rank IS NOT NULL;

-- A track's thumbnail goes with its row, however the row goes (storage_orphans, 000006).
CREATE FUNCTION storage_orphan_thumbnails() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO storage_orphans (key)
    SELECT DISTINCT thumbnail_key FROM gone WHERE thumbnail_key IS NOT NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER face_tracks_orphan_thumbnails AFTER DELETE ON face_tracks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION storage_orphan_thumbnails();
