-- Instance-wide generated settings (e.g. the signing secret when VIGIL_SECRET_KEY is unset),
-- kept in the database so every API/worker/scheduler process of one deployment agrees on them.
CREATE TABLE instance_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    permissions TEXT[] NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    builtin     BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

INSERT INTO roles (id, name, permissions, description, builtin) VALUES
  ('ROLE-ADMIN', 'Admin', ARRAY['*'], 'Full system access', true),
  ('ROLE-OPERATOR', 'Operator',
   ARRAY['cameras:read', 'cameras:write', 'attendance:read', 'faces:read', 'faces:write',
         'videos:read', 'videos:write', 'searches:read', 'searches:write', 'counts:read',
         'recordings:read', 'recordings:write', 'jobs:read', 'jobs:write', 'exports:write',
         'alerts:read', 'system:read'],
   'Operates cameras, enrollment, searches and recordings', true),
  ('ROLE-REVIEWER', 'Reviewer',
   ARRAY['cameras:read', 'attendance:read', 'attendance:review', 'faces:read', 'videos:read',
         'searches:read', 'searches:review', 'counts:read', 'jobs:read', 'exports:write',
         'alerts:read'],
   'Approves or rejects attendance and search hits', true),
  ('ROLE-VIEWER', 'Viewer',
   ARRAY['cameras:read', 'attendance:read', 'faces:read', 'videos:read', 'searches:read',
         'counts:read', 'jobs:read', 'alerts:read', 'system:read'],
   'Read-only access', true);

CREATE TABLE users (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- NULL until a password is set: such an account cannot log in.
    password_hash TEXT,
    role_id       TEXT NOT NULL REFERENCES roles (id),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    last_active   TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    version       INTEGER NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_role_id_idx ON users (role_id);

-- Rotating refresh tokens. Only a SHA-256 of the token is stored. Every login starts a family;
-- presenting a token that was already rotated or revoked revokes the whole family (theft signal).
CREATE TABLE refresh_tokens (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id  UUID NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    rotated_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    ip_address TEXT,
    user_agent TEXT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE audit_logs (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    actor         TEXT NOT NULL,
    actor_id      UUID,
    actor_role    TEXT,
    action        TEXT NOT NULL,
    resource_type TEXT,
    resource_id   TEXT,
    message       TEXT NOT NULL,
    context       JSONB,
    severity      TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    status_code   INTEGER NOT NULL,
    ip_address    TEXT,
    user_agent    TEXT,
    request_id    TEXT NOT NULL,
    "timestamp"   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_timestamp_idx ON audit_logs ("timestamp" DESC);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource_type, resource_id);
