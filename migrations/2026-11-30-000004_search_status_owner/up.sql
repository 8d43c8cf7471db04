-- A search's status is its parent job's. Instead of every code path that changes the job
-- (API control requests, the worker, cancel cascades, the reconciler) also writing the search,
-- the database mirrors each status change of a job onto the search it runs: the job system is
-- the one writer, and the search row keeps the outcome after job retention deletes the job.
CREATE FUNCTION mirror_job_status_to_search() RETURNS trigger AS $$
BEGIN
    UPDATE searches
       SET status = NEW.status,
           finished_at = CASE WHEN NEW.status IN ('succeeded', 'failed', 'cancelled')
                              THEN COALESCE(NEW.finished_at, now()) ELSE NULL END,
           updated_at = now()
     WHERE job_id = NEW.id AND status IS DISTINCT FROM NEW.status;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER jobs_mirror_search_status
    AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION mirror_job_status_to_search();

CREATE INDEX searches_job_id_idx ON searches (job_id);

-- Searches created before this migration take their job's current status once.
UPDATE searches s SET status = j.status
  FROM jobs j WHERE j.id = s.job_id AND s.status <> j.status;
