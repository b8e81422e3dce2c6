-- When a request of the session was last seen (its last write or extension), for the account's
-- list of its sessions. Sessions stored before have none.
ALTER TABLE sessions ADD COLUMN seen_at TIMESTAMPTZ;
