-- fidoflow schema version 1 on PostgreSQL (and CockroachDB, YugabyteDB): every table has an
-- explicit primary key; records are the JSON the sled backend stores, beside the columns that
-- constraints, lookups and purges need. Times are set by the server's clock, never now().

CREATE TABLE users (
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    handle BYTEA NOT NULL,
    -- Bumped by every change of the user's credentials: the compare-and-set of a change that
    -- must see all of them at once.
    credentials_version BIGINT NOT NULL DEFAULT 0,
    record BYTEA NOT NULL,
    PRIMARY KEY (tenant, username),
    UNIQUE (tenant, handle)
);

CREATE TABLE credentials (
    tenant TEXT NOT NULL,
    id BYTEA NOT NULL,
    username TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    sign_count BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    record BYTEA NOT NULL,
    PRIMARY KEY (tenant, id),
    FOREIGN KEY (tenant, username) REFERENCES users (tenant, username) ON DELETE CASCADE
);
CREATE INDEX credentials_by_user ON credentials (tenant, username, created_at);

CREATE TABLE locks (
    tenant TEXT NOT NULL,
    username TEXT NOT NULL,
    failures INT NOT NULL,
    locked_until TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL,
    -- When the entry stops counting: its lock's end, or the failure window after its update.
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, username)
);
CREATE INDEX locks_by_expiry ON locks (tenant, expires_at);
-- One row per tenant whose lock table holds entries: a name's first entry is added under the
-- lock of its tenant's row, so the table's bound (LockPolicy::table_size) holds with parallel
-- new names on any node (no advisory locks).
CREATE TABLE lock_tables (
    tenant TEXT NOT NULL PRIMARY KEY
);

CREATE TABLE ceremonies (
    id TEXT NOT NULL PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL,
    record BYTEA NOT NULL
);
CREATE INDEX ceremonies_by_expiry ON ceremonies (expires_at);

CREATE TABLE sessions (
    key TEXT NOT NULL PRIMARY KEY,
    -- The user the session is signed in as, and the engine's session id (`sid`).
    username TEXT,
    sid TEXT,
    expires_at TIMESTAMPTZ NOT NULL,
    state BYTEA NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (username);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- A request of a session in progress on some node (`CONCURRENT_ACCESS`).
CREATE TABLE session_claims (
    key TEXT NOT NULL PRIMARY KEY,
    token TEXT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- Rate-limit windows shared by every node.
CREATE TABLE rate_windows (
    key TEXT NOT NULL PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL,
    count INT NOT NULL
);
CREATE INDEX rate_windows_by_expiry ON rate_windows (expires_at);

-- The audit log's hash chain: `seq` is given under the lock of the one `audit_head` row, so
-- seq order is chain order on every node.
CREATE TABLE audit (
    seq BIGINT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL,
    username TEXT,
    record BYTEA NOT NULL
);
CREATE INDEX audit_by_user ON audit (tenant, username, seq);

CREATE TABLE audit_head (
    id INT NOT NULL PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT,
    bytes BIGINT NOT NULL
);
INSERT INTO audit_head (id, seq, hash, bytes) VALUES (1, 0, NULL, 0);

CREATE TABLE audit_meta (
    name TEXT NOT NULL PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE metadata (
    id INT NOT NULL PRIMARY KEY,
    number BIGINT NOT NULL,
    record BYTEA NOT NULL
);

CREATE TABLE tenants (
    id TEXT NOT NULL PRIMARY KEY,
    record BYTEA NOT NULL
);

CREATE TABLE transactions (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    username TEXT NOT NULL,
    validated_at TIMESTAMPTZ NOT NULL,
    record BYTEA NOT NULL,
    PRIMARY KEY (tenant, username, validated_at, id)
);
