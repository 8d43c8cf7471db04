DROP TABLE audit_logs;
DROP TABLE refresh_tokens;
DROP TABLE users;
DROP TABLE roles;
DROP TABLE instance_settings;
