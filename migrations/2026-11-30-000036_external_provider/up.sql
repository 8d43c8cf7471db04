-- An external HTTP detection provider (seed 004): its API key, sealed (auth::sealed); NULL for
-- the built-in provider or a provider without a key.
ALTER TABLE detection_provider ADD COLUMN api_key TEXT;
