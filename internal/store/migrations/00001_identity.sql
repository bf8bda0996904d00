-- Identity: the customs organisation, enterprises, users and invitations.
-- Times are stored in UTC. Ids are UUIDv7 text.

-- +goose Up
CREATE TABLE org_units (
    id             TEXT PRIMARY KEY,
    parent_id      TEXT REFERENCES org_units (id),
    kind           TEXT NOT NULL,            -- DEPARTMENT | BRANCH | TEAM
    code           TEXT NOT NULL UNIQUE,     -- customs office code
    name_vi        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    effective_from TIMESTAMP NOT NULL,
    effective_to   TIMESTAMP,
    create_time    TIMESTAMP NOT NULL
);
CREATE INDEX org_units_parent ON org_units (parent_id);

CREATE TABLE enterprises (
    id            TEXT PRIMARY KEY,
    tax_code      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    address       TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL,             -- PENDING | VERIFIED | REJECTED
    reject_reason TEXT NOT NULL DEFAULT '',
    decided_by    TEXT,
    decide_time   TIMESTAMP,
    create_time   TIMESTAMP NOT NULL
);
CREATE INDEX enterprises_status ON enterprises (status, id);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,             -- officer | enterprise_user
    email         TEXT UNIQUE,               -- lower case; NULL when none
    phone         TEXT UNIQUE,               -- E.164; NULL when none
    full_name     TEXT NOT NULL,
    password_hash TEXT NOT NULL,             -- argon2id, PHC string
    status        TEXT NOT NULL,             -- ACTIVE | DISABLED
    enterprise_id TEXT REFERENCES enterprises (id),
    unit_id       TEXT REFERENCES org_units (id),
    create_time   TIMESTAMP NOT NULL,
    update_time   TIMESTAMP NOT NULL
);
CREATE INDEX users_enterprise ON users (enterprise_id, id);
CREATE INDEX users_unit ON users (unit_id, id);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id),
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles (role, user_id);

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    enterprise_id    TEXT NOT NULL REFERENCES enterprises (id),
    code_hash        TEXT NOT NULL UNIQUE,   -- SHA-256 of the code, hex
    email            TEXT,
    phone            TEXT,
    full_name        TEXT NOT NULL,
    role             TEXT NOT NULL,
    created_by       TEXT NOT NULL REFERENCES users (id),
    create_time      TIMESTAMP NOT NULL,
    expire_time      TIMESTAMP NOT NULL,
    accept_time      TIMESTAMP,
    accepted_user_id TEXT REFERENCES users (id)
);
CREATE INDEX invitations_enterprise ON invitations (enterprise_id, id);

-- +goose Down
DROP TABLE invitations;
DROP TABLE user_roles;
DROP TABLE users;
DROP TABLE enterprises;
DROP TABLE org_units;
