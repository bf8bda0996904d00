-- Audit: an append-only log of every state change, written in the same
-- transaction as the change.

-- +goose Up
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY,            -- UUIDv7: sorts by time
    create_time TIMESTAMP NOT NULL,
    actor_id    TEXT NOT NULL DEFAULT '',
    actor_kind  TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}'   -- small JSON object
);
CREATE INDEX audit_events_target ON audit_events (target_kind, target_id, id);
CREATE INDEX audit_events_actor ON audit_events (actor_id, id);
CREATE INDEX audit_events_action ON audit_events (action, id);

-- +goose Down
DROP TABLE audit_events;
