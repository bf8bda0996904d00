-- Issues (vướng mắc): categories, the working calendar, issues and their
-- threads, answers with their signatures, resolutions and ratings, uploads
-- and attachments. Times are UTC; ids are UUIDv7 text.

-- +goose Up
CREATE TABLE issue_categories (
    id              TEXT PRIMARY KEY,
    code            TEXT NOT NULL UNIQUE,
    name_vi         TEXT NOT NULL,
    name_en         TEXT NOT NULL,
    unit_id         TEXT REFERENCES org_units (id),  -- NULL: the department
    sla_hours       INTEGER NOT NULL,                -- business hours
    needs_approval  BOOLEAN NOT NULL DEFAULT FALSE,
    signer_role     TEXT NOT NULL DEFAULT 'UNIT_HEAD',
    signer_unit_id  TEXT REFERENCES org_units (id),  -- NULL: the issue's unit or above
    auto_assign     BOOLEAN NOT NULL DEFAULT FALSE,
    auto_close_days INTEGER NOT NULL DEFAULT 5,      -- working days after ANSWERED
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    sort_order      INTEGER NOT NULL DEFAULT 0,
    create_time     TIMESTAMP NOT NULL,
    update_time     TIMESTAMP NOT NULL
);

-- The categories every department starts with (Nghị định 08/2015, Thông tư
-- 38/2015 and 39/2018 areas); the ADMIN sets their units. Ids are fixed so a
-- re-seed finds them.
INSERT INTO issue_categories (id, code, name_vi, name_en, sla_hours, needs_approval, signer_role, auto_assign, auto_close_days, sort_order, create_time, update_time) VALUES
('0190a000-0000-7000-8000-000000000001', 'VNACCS', 'Lỗi kỹ thuật hệ thống VNACCS/VCIS', 'VNACCS/VCIS technical errors', 8, FALSE, 'UNIT_HEAD', TRUE, 5, 10, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000002', 'HS', 'Phân loại hàng hóa, mã HS', 'Tariff classification (HS codes)', 40, TRUE, 'UNIT_HEAD', FALSE, 5, 20, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000003', 'ORIGIN', 'Xuất xứ hàng hóa và C/O', 'Origin of goods and C/O', 40, TRUE, 'UNIT_HEAD', FALSE, 5, 30, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000004', 'VALUATION', 'Trị giá hải quan', 'Customs valuation', 40, TRUE, 'UNIT_HEAD', FALSE, 5, 40, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000005', 'TAX', 'Nộp thuế, hoàn thuế, không thu thuế', 'Tax payment and refunds', 40, TRUE, 'UNIT_HEAD', FALSE, 5, 50, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000006', 'SPECIALISED', 'Kiểm tra chuyên ngành', 'Specialised inspection', 24, FALSE, 'UNIT_HEAD', FALSE, 5, 60, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000007', 'PROCEDURE', 'Thủ tục theo loại hình xuất nhập khẩu', 'Procedures for an import/export type', 24, FALSE, 'UNIT_HEAD', TRUE, 5, 70, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000008', 'EPAYMENT', 'Nộp thuế điện tử, thông quan 24/7', 'E-payment of duties', 16, FALSE, 'UNIT_HEAD', TRUE, 5, 80, '2025-01-01 00:00:00', '2025-01-01 00:00:00'),
('0190a000-0000-7000-8000-000000000009', 'OTHER', 'Vướng mắc khác', 'Other', 40, FALSE, 'UNIT_HEAD', FALSE, 5, 90, '2025-01-01 00:00:00', '2025-01-01 00:00:00');

-- Working-calendar data: holidays on weekdays and make-up Saturdays. Seeded
-- by the service from internal/calendar's VietnamHolidays when empty.
CREATE TABLE calendar_days (
    day     TEXT PRIMARY KEY,                -- YYYY-MM-DD, Asia/Ho_Chi_Minh
    kind    TEXT NOT NULL,                   -- DAY_OFF | MAKEUP_WORKDAY
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL
);

-- A unit's own working hours; units without inherit from the nearest
-- ancestor, else the default 07:30–11:30, 13:00–17:00.
CREATE TABLE unit_working_hours (
    unit_id     TEXT PRIMARY KEY REFERENCES org_units (id),
    spans       TEXT NOT NULL,               -- "07:30-11:30,13:00-17:00"
    update_time TIMESTAMP NOT NULL
);

-- Issue numbers per year: VM-<year>-<n>.
CREATE TABLE issue_counters (
    year INTEGER PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE issues (
    id                 TEXT PRIMARY KEY,
    number             TEXT NOT NULL UNIQUE,
    enterprise_id      TEXT NOT NULL REFERENCES enterprises (id),
    created_by         TEXT NOT NULL REFERENCES users (id),
    request_id         TEXT,                 -- client idempotency key
    category_id        TEXT NOT NULL REFERENCES issue_categories (id),
    unit_id            TEXT NOT NULL REFERENCES org_units (id),
    assignee_id        TEXT REFERENCES users (id),
    status             TEXT NOT NULL,        -- OPEN | ASSIGNED | WAITING_ENTERPRISE | PENDING_APPROVAL | ANSWERED | RESOLVED | REOPENED | CLOSED
    resume_status      TEXT,                 -- WAITING_ENTERPRISE, PENDING_APPROVAL: the status to go back to (ASSIGNED | REOPENED)
    title              TEXT NOT NULL,
    body               TEXT NOT NULL,
    declaration_number TEXT NOT NULL DEFAULT '',
    create_time        TIMESTAMP NOT NULL,
    update_time        TIMESTAMP NOT NULL,
    -- SLA clock, in business minutes of the unit's calendar. A round starts
    -- at creation and at each reopening.
    sla_minutes        INTEGER NOT NULL,     -- allowed per round
    sla_used_minutes   INTEGER NOT NULL DEFAULT 0, -- used before sla_running_since
    sla_running_since  TIMESTAMP,            -- NULL while paused or stopped
    due_time           TIMESTAMP,            -- deadline while running
    sla_level          INTEGER NOT NULL DEFAULT 0, -- 0 none, 1 warned (80 %), 2 unit head (100 %), 3 director (150 %)
    sla_next_check     TIMESTAMP,            -- when the next level is reached (NULL: none pending)
    sla_round          INTEGER NOT NULL DEFAULT 1,
    sla_met            BOOLEAN,              -- outcome of the last round: answered by due_time
    sla_unit_id        TEXT REFERENCES org_units (id), -- whose calendar the clock counts on (NULL: unit_id)
    first_response_time    TIMESTAMP,
    first_response_minutes INTEGER,          -- business minutes from creation
    answer_time        TIMESTAMP,            -- last publication of an answer
    answer_minutes     INTEGER,              -- business minutes used by the last answered round
    auto_close_time    TIMESTAMP,            -- ANSWERED: when it closes by itself without reaction
    resolution_count   INTEGER NOT NULL DEFAULT 0,
    close_time         TIMESTAMP,
    UNIQUE (enterprise_id, request_id)
);
CREATE INDEX issues_enterprise ON issues (enterprise_id, id);
CREATE INDEX issues_queue ON issues (unit_id, status, due_time, id);
CREATE INDEX issues_assignee ON issues (assignee_id, status);
-- An officer's listing of a unit newest first.
CREATE INDEX issues_unit_newest ON issues (unit_id, id);
-- The director's queue over every unit, deadline first.
CREATE INDEX issues_status_due ON issues (status, due_time, id);
CREATE INDEX issues_sla_check ON issues (sla_next_check) WHERE sla_next_check IS NOT NULL;
CREATE INDEX issues_auto_close ON issues (auto_close_time) WHERE status = 'ANSWERED';

-- The thread: messages, information requests and state-change entries.
CREATE TABLE issue_messages (
    id          TEXT PRIMARY KEY,
    issue_id    TEXT NOT NULL REFERENCES issues (id),
    author_id   TEXT REFERENCES users (id),  -- NULL for the system
    visibility  TEXT NOT NULL,               -- PUBLIC | INTERNAL
    kind        TEXT NOT NULL,               -- MESSAGE | INFORMATION_REQUEST | EVENT
    body        TEXT NOT NULL,               -- EVENT: the Vietnamese text
    body_en     TEXT NOT NULL DEFAULT '',    -- EVENT: the English text
    create_time TIMESTAMP NOT NULL
);
CREATE INDEX issue_messages_issue ON issue_messages (issue_id, id);

CREATE TABLE issue_answers (
    id               TEXT PRIMARY KEY,
    issue_id         TEXT NOT NULL REFERENCES issues (id),
    round            INTEGER NOT NULL,
    body             TEXT NOT NULL,
    legal_reference  TEXT NOT NULL DEFAULT '',
    author_id        TEXT NOT NULL REFERENCES users (id),
    state            TEXT NOT NULL,          -- PENDING_APPROVAL | PUBLISHED | REJECTED
    signer_id        TEXT REFERENCES users (id),
    signer_role      TEXT NOT NULL DEFAULT '',
    signer_unit_id   TEXT REFERENCES org_units (id),
    on_behalf_of     TEXT NOT NULL DEFAULT '', -- DIRECTOR when signed for the director
    sign_time        TIMESTAMP,
    reject_reason    TEXT NOT NULL DEFAULT '',
    create_time      TIMESTAMP NOT NULL
);
CREATE INDEX issue_answers_issue ON issue_answers (issue_id, id);

-- One row per resolution; the rating is given on it.
CREATE TABLE issue_resolutions (
    issue_id       TEXT NOT NULL REFERENCES issues (id),
    resolution     INTEGER NOT NULL,         -- 1, 2, …
    resolve_time   TIMESTAMP NOT NULL,
    resolved_by    TEXT NOT NULL REFERENCES users (id),
    answer_id      TEXT REFERENCES issue_answers (id),
    unit_id        TEXT NOT NULL REFERENCES org_units (id),
    officer_id     TEXT REFERENCES users (id), -- who answered
    score          INTEGER,                  -- 1–5, NULL until rated
    comment        TEXT NOT NULL DEFAULT '',
    rate_time      TIMESTAMP,
    PRIMARY KEY (issue_id, resolution)
);
CREATE INDEX issue_resolutions_rated ON issue_resolutions (rate_time, unit_id) WHERE score IS NOT NULL;

-- Uploads in progress and finished attachments; the bytes are in the blob
-- store under blob_key. An attachment belongs to its uploader until it is
-- attached to an issue (and maybe a message).
CREATE TABLE issue_attachments (
    id             TEXT PRIMARY KEY,
    owner_id       TEXT NOT NULL REFERENCES users (id),
    file_name      TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    total_bytes    INTEGER NOT NULL,
    received_bytes INTEGER NOT NULL DEFAULT 0,
    sha256         TEXT NOT NULL DEFAULT '',  -- set when complete
    blob_key       TEXT NOT NULL,
    complete       BOOLEAN NOT NULL DEFAULT FALSE,
    issue_id       TEXT REFERENCES issues (id),
    message_id     TEXT REFERENCES issue_messages (id),
    visibility     TEXT NOT NULL DEFAULT 'PUBLIC',
    create_time    TIMESTAMP NOT NULL,
    attach_time    TIMESTAMP
);
CREATE INDEX issue_attachments_issue ON issue_attachments (issue_id, id);
CREATE INDEX issue_attachments_unattached ON issue_attachments (create_time) WHERE issue_id IS NULL;

-- +goose Down
DROP TABLE issue_attachments;
DROP TABLE issue_resolutions;
DROP TABLE issue_answers;
DROP TABLE issue_messages;
DROP TABLE issues;
DROP TABLE issue_counters;
DROP TABLE unit_working_hours;
DROP TABLE calendar_days;
DROP TABLE issue_categories;
