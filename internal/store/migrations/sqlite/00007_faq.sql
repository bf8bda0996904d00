-- FAQ entries: answered issues published, anonymised, as questions and
-- answers, and their full-text index. SQLite's copy: search runs on FTS5
-- (see postgres/00007_faq.sql for the other). The table is the same on both
-- but for doc, SQLite's integer key for the FTS index.
--
-- question_terms and answer_terms are the text as search sees it, computed
-- in Go (server/issues/faq): folded by internal/textfold (lower case, no
-- diacritics, đ = d) and split into words, space-separated, so both databases
-- index exactly the same terms and queries folded the same way find them.

-- +goose Up
CREATE TABLE faq_entries (
    -- An explicit INTEGER PRIMARY KEY keeps the rowid the FTS index refers
    -- to stable across VACUUM.
    doc             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
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
    withdraw_time   TIMESTAMP
);
CREATE INDEX faq_entries_category ON faq_entries (category_id, status);

-- Only published entries are indexed; the triggers keep the index in step
-- with the table inside the writing transaction. unicode61 sees only the
-- folded terms, so its own diacritics folding has nothing left to do. The
-- prefix indexes serve type-ahead ("thon" → "thông"): without them FTS5
-- merges the doclists of every term with the prefix on each query.
CREATE VIRTUAL TABLE faq_fts USING fts5 (question, answer, tokenize = 'unicode61', prefix = '2 3 4');

-- +goose StatementBegin
CREATE TRIGGER faq_fts_insert AFTER INSERT ON faq_entries WHEN new.status = 'PUBLISHED' BEGIN
    INSERT INTO faq_fts (rowid, question, answer) VALUES (new.doc, new.question_terms, new.answer_terms);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER faq_fts_update AFTER UPDATE OF status, question_terms, answer_terms ON faq_entries BEGIN
    DELETE FROM faq_fts WHERE rowid = old.doc;
    INSERT INTO faq_fts (rowid, question, answer)
        SELECT new.doc, new.question_terms, new.answer_terms WHERE new.status = 'PUBLISHED';
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER faq_fts_delete AFTER DELETE ON faq_entries BEGIN
    DELETE FROM faq_fts WHERE rowid = old.doc;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER faq_fts_delete;
DROP TRIGGER faq_fts_update;
DROP TRIGGER faq_fts_insert;
DROP TABLE faq_fts;
DROP TABLE faq_entries;
