-- Failed logins per account and per client address, so brute force is slowed down across every
-- API replica. Keys are `account:<sha256 of the normalised email>` and `ip:<address>`: no
-- attacker-chosen text is stored.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Refresh sessions end at an absolute time however often they are refreshed.
ALTER TABLE refresh_tokens ADD COLUMN family_expires_at TIMESTAMPTZ;
UPDATE refresh_tokens SET family_expires_at = created_at + interval '30 days';
ALTER TABLE refresh_tokens ALTER COLUMN family_expires_at SET NOT NULL;
