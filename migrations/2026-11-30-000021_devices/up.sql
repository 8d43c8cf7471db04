-- Capture devices (seed 001): IoT cameras that send still photos for attendance. Each holds an
-- API key that may only capture and heartbeat; only its SHA-256 is stored (the key is 32
-- random bytes, so a fast hash is enough and keeps the lookup indexed).
CREATE TABLE devices (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    classroom_id   TEXT,
    location       TEXT,
    -- Set by operators: inactive devices are refused.
    status         TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    key_hash       TEXT UNIQUE,
    -- The first characters of the key, to tell keys apart in lists (NULL when revoked).
    key_prefix     TEXT,
    key_created_at TIMESTAMPTZ,
    -- Updated by every capture and heartbeat; online/offline is derived from it.
    last_seen      TIMESTAMPTZ,
    last_ip        TEXT,
    created_by     UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX devices_created_idx ON devices (created_at DESC);

-- Who manages devices: operators write, reviewers read.
UPDATE roles SET permissions = array_append(permissions, 'devices:read')
 WHERE id IN ('ROLE-OPERATOR', 'ROLE-REVIEWER') AND NOT ('devices:read' = ANY (permissions));
UPDATE roles SET permissions = array_append(permissions, 'devices:write')
 WHERE id = 'ROLE-OPERATOR' AND NOT ('devices:write' = ANY (permissions));
