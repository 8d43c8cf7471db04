DROP INDEX searches_job_id_idx;
DROP TRIGGER jobs_mirror_search_status ON jobs;
DROP FUNCTION mirror_job_status_to_search();
