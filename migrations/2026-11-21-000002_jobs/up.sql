-- Every job a user can see. PostgreSQL is the source of truth; Redis only carries job ids.
CREATE TABLE jobs (
    id               UUID PRIMARY KEY,
    kind             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'paused', 'succeeded', 'failed', 'cancelled')),
    priority         SMALLINT NOT NULL DEFAULT 0,
    payload          JSONB NOT NULL,
    result           JSONB,
    error            TEXT,
    progress         REAL NOT NULL DEFAULT 0,
    stage            TEXT,
    counters         JSONB,
    -- Where a paused or interrupted run resumes from (kind-specific).
    checkpoint       JSONB,
    eta_at           TIMESTAMPTZ,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    -- Not before this time (retry backoff).
    run_after        TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when a message for this row was put on its Redis stream (NULL = still in the backlog).
    dispatched_at    TIMESTAMPTZ,
    message_id       TEXT,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ,
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    pause_requested  BOOLEAN NOT NULL DEFAULT false,
    idempotency_key  TEXT,
    parent_id        UUID REFERENCES jobs (id) ON DELETE CASCADE,
    created_by       UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- One job per (creator, key); system jobs (no creator) share one namespace.
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs
    (COALESCE(created_by, '00000000-0000-0000-0000-000000000000'::uuid), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_backlog_idx ON jobs (queue, priority DESC, run_after, created_at)
    WHERE status = 'queued' AND dispatched_at IS NULL;
CREATE INDEX jobs_dispatched_idx ON jobs (queue, dispatched_at)
    WHERE status = 'queued' AND dispatched_at IS NOT NULL;
CREATE INDEX jobs_lease_idx ON jobs (lease_expires_at) WHERE status = 'running';
CREATE INDEX jobs_status_kind_idx ON jobs (status, kind, created_at DESC);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC);
CREATE INDEX jobs_parent_idx ON jobs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_creator_idx ON jobs (created_by, created_at DESC);

-- Ops controls per queue.
CREATE TABLE queues (
    name        TEXT PRIMARY KEY,
    paused      BOOLEAN NOT NULL DEFAULT false,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per logical email: the unique key makes a retried job send it once.
CREATE TABLE email_outbox (
    id          UUID PRIMARY KEY,
    dedupe_key  TEXT NOT NULL UNIQUE,
    job_id      UUID REFERENCES jobs (id) ON DELETE SET NULL,
    recipients  TEXT[] NOT NULL,
    subject     TEXT NOT NULL,
    body_text   TEXT NOT NULL,
    body_html   TEXT,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at     TIMESTAMPTZ
);

-- Files produced by export jobs, so retention can delete the object with the row.
CREATE TABLE exports (
    id          UUID PRIMARY KEY,
    job_id      UUID NOT NULL UNIQUE REFERENCES jobs (id) ON DELETE CASCADE,
    format      TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    rows        BIGINT NOT NULL,
    created_by  UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX exports_expires_idx ON exports (expires_at);

-- Alerts raised by the system (e.g. the health task when a dependency is down).
CREATE TABLE alerts (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    severity     TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    source       TEXT NOT NULL,
    message      TEXT NOT NULL,
    details      JSONB,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at  TIMESTAMPTZ
);
-- At most one open alert per (kind, source).
CREATE UNIQUE INDEX alerts_open_key ON alerts (kind, source) WHERE resolved_at IS NULL;

-- Health snapshots recorded by the scheduler's health task.
CREATE TABLE health_checks (
    id          UUID PRIMARY KEY,
    component   TEXT NOT NULL,
    status      TEXT NOT NULL,
    latency_ms  INTEGER NOT NULL,
    error       TEXT,
    checked_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX health_checks_time_idx ON health_checks (checked_at DESC);

-- Exactly one enqueue per periodic task and tick, however many schedulers run.
CREATE TABLE scheduler_ticks (
    task       TEXT NOT NULL,
    tick_at    TIMESTAMPTZ NOT NULL,
    job_id     UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (task, tick_at)
);
