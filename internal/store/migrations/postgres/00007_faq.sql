-- FAQ entries: answered issues published, anonymised, as questions and
-- answers, and their full-text index. PostgreSQL's copy: search runs on a
-- tsvector with a GIN index (see sqlite/00007_faq.sql for the other).
--
-- question_terms and answer_terms are the text as search sees it, computed
-- in Go (server/issues/faq): folded by internal/textfold (lower case, no
-- diacritics, đ = d) and split into words, space-separated, so both databases
-- index exactly the same terms and queries folded the same way find them.
-- The 'simple' configuration only lower-cases: no stemming, no stop words,
-- which suits Vietnamese syllables.

-- +goose Up
CREATE TABLE faq_entries (
    id              TEXT PRIMARY KEY,
    source_issue_id TEXT UNIQUE REFERENCES issues (id),  -- NULL: not from an issue
    category_id     TEXT NOT NULL REFERENCES issue_categories (id),
    unit_id         TEXT REFERENCES org_units (id),      -- the issue's unit when published: whose officers edit it
    question        TEXT NOT NULL,
    answer          TEXT NOT NULL,
    legal_reference TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,                       -- PUBLISHED | WITHDRAWN
    question_terms  TEXT NOT NULL,
    answer_terms    TEXT NOT NULL,                       -- the answer's and the legal reference's
    published_by    TEXT NOT NULL REFERENCES users (id),
    publish_time    TIMESTAMP NOT NULL,
    updated_by      TEXT REFERENCES users (id),
    update_time     TIMESTAMP NOT NULL,
    withdraw_time   TIMESTAMP,
    -- The question weighs A, the answer B: ts_rank ranks a question match
    -- above an answer-only one.
    search          tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('simple', question_terms), 'A') ||
                        setweight(to_tsvector('simple', answer_terms), 'B')) STORED
);
CREATE INDEX faq_entries_category ON faq_entries (category_id, status);
CREATE INDEX faq_entries_search ON faq_entries USING GIN (search) WHERE status = 'PUBLISHED';

-- +goose Down
DROP TABLE faq_entries;
