-- Event pipeline and notifications: the outbox, devices, the inbox (personal
-- items and broadcasts), preferences and push delivery records.

-- +goose Up
CREATE TABLE outbox_events (
    id          TEXT PRIMARY KEY,            -- UUIDv7: relay order
    kind        TEXT NOT NULL,
    payload     TEXT NOT NULL,               -- JSON of outbox.Event
    create_time TIMESTAMP NOT NULL,
    relay_time  TIMESTAMP                    -- NULL until appended to the stream
);
CREATE INDEX outbox_events_pending ON outbox_events (id) WHERE relay_time IS NULL;
CREATE INDEX outbox_events_relayed ON outbox_events (relay_time) WHERE relay_time IS NOT NULL;

CREATE TABLE devices (
    fcm_token   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    session_id  TEXT NOT NULL,
    platform    TEXT NOT NULL,               -- ANDROID | IOS | WEB
    locale      TEXT NOT NULL,               -- vi | en
    app_version TEXT NOT NULL DEFAULT '',
    create_time TIMESTAMP NOT NULL,
    update_time TIMESTAMP NOT NULL
);
CREATE INDEX devices_user ON devices (user_id);
CREATE INDEX devices_session ON devices (session_id);

-- Personal inbox items: one row per (user, event).
CREATE TABLE inbox_items (
    id          TEXT PRIMARY KEY,            -- UUIDv7
    user_id     TEXT NOT NULL REFERENCES users (id),
    event_id    TEXT NOT NULL,
    category    TEXT NOT NULL,
    title_vi    TEXT NOT NULL,
    title_en    TEXT NOT NULL,
    body_vi     TEXT NOT NULL,
    body_en     TEXT NOT NULL,
    entity_kind TEXT NOT NULL DEFAULT '',
    entity_id   TEXT NOT NULL DEFAULT '',
    create_time TIMESTAMP NOT NULL,
    read_time   TIMESTAMP,
    UNIQUE (user_id, event_id)
);
CREATE INDEX inbox_items_user ON inbox_items (user_id, id);
CREATE INDEX inbox_items_unread ON inbox_items (user_id, id) WHERE read_time IS NULL;

-- Broadcasts: one row per event, shown to every user of its audience; reads
-- are kept per user only for those who read it.
CREATE TABLE broadcasts (
    id            TEXT PRIMARY KEY,          -- UUIDv7
    event_id      TEXT NOT NULL UNIQUE,
    audience      TEXT NOT NULL,             -- all | enterprise_users | officers | enterprise | unit
    audience_id   TEXT NOT NULL DEFAULT '',  -- the enterprise or unit for those audiences
    category      TEXT NOT NULL,
    title_vi      TEXT NOT NULL,
    title_en      TEXT NOT NULL,
    body_vi       TEXT NOT NULL,
    body_en       TEXT NOT NULL,
    entity_kind   TEXT NOT NULL DEFAULT '',
    entity_id     TEXT NOT NULL DEFAULT '',
    create_time   TIMESTAMP NOT NULL,
    expire_time   TIMESTAMP
);
CREATE INDEX broadcasts_audience ON broadcasts (audience, audience_id, id);

CREATE TABLE broadcast_reads (
    broadcast_id TEXT NOT NULL REFERENCES broadcasts (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    read_time    TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, broadcast_id)
);
-- Read receipts and reach per broadcast.
CREATE INDEX broadcast_reads_broadcast ON broadcast_reads (broadcast_id);

CREATE TABLE notification_prefs (
    user_id      TEXT NOT NULL REFERENCES users (id),
    category     TEXT NOT NULL,
    push_enabled BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, category)
);

CREATE TABLE quiet_hours (
    user_id      TEXT PRIMARY KEY REFERENCES users (id),
    enabled      BOOLEAN NOT NULL,
    start_minute INTEGER NOT NULL,           -- minutes after local midnight
    end_minute   INTEGER NOT NULL,
    time_zone    TEXT NOT NULL
);

-- One row per (event, user): whether that user's push went out. Makes pushes
-- idempotent when an event is processed twice. Topic pushes use user_id
-- "topic:<name>" (no foreign key). attempts only grows.
CREATE TABLE push_deliveries (
    event_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    status      TEXT NOT NULL,               -- accepted | failed | gone | held | skipped | no_device
    attempts    INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    update_time TIMESTAMP NOT NULL,
    PRIMARY KEY (event_id, user_id)
);

-- +goose Down
DROP TABLE push_deliveries;
DROP TABLE quiet_hours;
DROP TABLE notification_prefs;
DROP TABLE broadcast_reads;
DROP TABLE broadcasts;
DROP TABLE inbox_items;
DROP TABLE devices;
DROP TABLE outbox_events;
