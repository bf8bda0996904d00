-- Clearance status: system clients' API keys, declaration type codes,
-- declarations and their events. Times are stored in UTC.
--
-- Declarations are keyed by their VNACCS number and carry the declaring
-- enterprise's tax code, not an enterprise id: events for a tax code that
-- has not registered yet are kept, and reads join enterprises by tax code,
-- so they show up as soon as that enterprise registers.

-- +goose Up
CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,            -- UUIDv7
    name           TEXT NOT NULL,
    prefix         TEXT NOT NULL,               -- first characters of the key, for display
    key_hash       TEXT NOT NULL UNIQUE,        -- SHA-256 of the key, hex
    created_by     TEXT NOT NULL DEFAULT '',    -- user id, '' for the command line
    create_time    TIMESTAMP NOT NULL,
    revoke_time    TIMESTAMP,
    revoked_by     TEXT,
    last_use_time  TIMESTAMP
);

-- Declaration type codes (mã loại hình) of VNACCS, as listed by the General
-- Department of Customs for Thông tư 38/2015/TT-BTC amended by
-- 39/2018/TT-BTC. direction is the direction of the goods.
CREATE TABLE declaration_types (
    code      TEXT PRIMARY KEY,
    direction TEXT NOT NULL,                    -- IMPORT | EXPORT
    name_vi   TEXT NOT NULL,
    name_en   TEXT NOT NULL
);

-- A declaration's current state, folded from its events: the status is the
-- kind of the event with the highest sequence (status_seq); channel that of
-- the highest-sequence event carrying one (channel_seq).
CREATE TABLE declarations (
    number          TEXT PRIMARY KEY,           -- 12 digits
    tax_code        TEXT NOT NULL,
    type_code       TEXT NOT NULL REFERENCES declaration_types (code),
    customs_office  TEXT NOT NULL,
    direction       TEXT NOT NULL,              -- IMPORT | EXPORT
    status          TEXT NOT NULL,              -- event kind without prefix: REGISTERED, CLEARED…
    status_seq      BIGINT NOT NULL,
    status_time     TIMESTAMP NOT NULL,
    channel         TEXT NOT NULL DEFAULT '',
    channel_seq     BIGINT NOT NULL DEFAULT 0,
    -- The REGISTERED event's time once known (registered = TRUE), until
    -- then the earliest event time received.
    register_time   TIMESTAMP NOT NULL,
    registered      BOOLEAN NOT NULL,
    -- Earliest event time of a CLEARED or RELEASED event; NULL before.
    clear_time      TIMESTAMP,
    create_time     TIMESTAMP NOT NULL,
    update_time     TIMESTAMP NOT NULL
);
-- Listing, newest registration first, per enterprise, per branch and for all.
CREATE INDEX declarations_tax ON declarations (tax_code, register_time, number);
CREATE INDEX declarations_office ON declarations (customs_office, register_time, number);
CREATE INDEX declarations_time ON declarations (register_time, number);

-- Every event received, once per (number, sequence). No foreign key to
-- declarations: a batch inserts its events first (their primary key tells
-- new from duplicate) and folds them into declarations after.
CREATE TABLE declaration_events (
    number         TEXT NOT NULL,
    sequence       BIGINT NOT NULL,
    kind           TEXT NOT NULL,
    event_time     TIMESTAMP NOT NULL,
    channel        TEXT NOT NULL DEFAULT '',
    note           TEXT NOT NULL DEFAULT '',
    type_code      TEXT NOT NULL,
    customs_office TEXT NOT NULL,
    api_key_id     TEXT NOT NULL,
    receive_time   TIMESTAMP NOT NULL,
    PRIMARY KEY (number, sequence)
);

INSERT INTO declaration_types (code, direction, name_vi, name_en) VALUES
    ('A11', 'IMPORT', 'Nhập kinh doanh tiêu dùng', 'Import for trading and consumption'),
    ('A12', 'IMPORT', 'Nhập kinh doanh sản xuất', 'Import for production by a trading enterprise'),
    ('A21', 'IMPORT', 'Chuyển tiêu thụ nội địa từ nguồn tạm nhập', 'Temporarily imported goods transferred to domestic consumption'),
    ('A31', 'IMPORT', 'Nhập khẩu hàng xuất khẩu bị trả lại', 'Re-import of exported goods returned'),
    ('A41', 'IMPORT', 'Nhập kinh doanh của doanh nghiệp thực hiện quyền nhập khẩu', 'Import by an enterprise exercising import rights'),
    ('A42', 'IMPORT', 'Chuyển tiêu thụ nội địa khác', 'Other transfers to domestic consumption'),
    ('A43', 'IMPORT', 'Nhập khẩu hàng hóa thuộc Chương trình ưu đãi thuế', 'Import under a tax incentive programme'),
    ('E11', 'IMPORT', 'Nhập nguyên liệu của doanh nghiệp chế xuất', 'Import of materials by an export processing enterprise'),
    ('E13', 'IMPORT', 'Nhập tạo tài sản cố định của doanh nghiệp chế xuất', 'Import of fixed assets by an export processing enterprise'),
    ('E15', 'IMPORT', 'Nhập nguyên liệu, vật tư của doanh nghiệp chế xuất từ nội địa', 'Import of materials by an export processing enterprise from the domestic market'),
    ('E21', 'IMPORT', 'Nhập nguyên liệu, vật tư để gia công cho thương nhân nước ngoài', 'Import of materials for processing for a foreign trader'),
    ('E23', 'IMPORT', 'Nhập nguyên liệu, vật tư gia công từ hợp đồng khác chuyển sang', 'Import of processing materials transferred from another contract'),
    ('E31', 'IMPORT', 'Nhập nguyên liệu sản xuất xuất khẩu', 'Import of materials for production for export'),
    ('E33', 'IMPORT', 'Nhập nguyên liệu, vật tư vào kho bảo thuế', 'Import of materials into a bonded (tax-suspension) warehouse'),
    ('E41', 'IMPORT', 'Nhập sản phẩm thuê gia công ở nước ngoài', 'Import of products processed abroad'),
    ('G11', 'IMPORT', 'Tạm nhập hàng kinh doanh tạm nhập tái xuất', 'Temporary import for temporary-import re-export trading'),
    ('G12', 'IMPORT', 'Tạm nhập máy móc, thiết bị phục vụ dự án có thời hạn', 'Temporary import of machinery and equipment for a time-limited project'),
    ('G13', 'IMPORT', 'Tạm nhập miễn thuế', 'Duty-free temporary import'),
    ('G14', 'IMPORT', 'Tạm nhập khác', 'Other temporary import'),
    ('G51', 'IMPORT', 'Tái nhập hàng đã tạm xuất', 'Re-import of temporarily exported goods'),
    ('C11', 'IMPORT', 'Hàng gửi kho ngoại quan', 'Goods entering a bonded warehouse'),
    ('C21', 'IMPORT', 'Hàng đưa vào khu phi thuế quan', 'Goods entering a non-tariff zone'),
    ('H11', 'IMPORT', 'Hàng nhập khẩu khác', 'Other imports'),
    ('B11', 'EXPORT', 'Xuất kinh doanh, xuất khẩu của doanh nghiệp đầu tư', 'Export for trading, or by an invested enterprise'),
    ('B12', 'EXPORT', 'Xuất sau khi đã tạm xuất', 'Export after temporary export'),
    ('B13', 'EXPORT', 'Xuất trả hàng đã nhập khẩu', 'Return export of imported goods'),
    ('E42', 'EXPORT', 'Xuất khẩu sản phẩm của doanh nghiệp chế xuất', 'Export of products of an export processing enterprise'),
    ('E52', 'EXPORT', 'Xuất sản phẩm gia công cho thương nhân nước ngoài', 'Export of products processed for a foreign trader'),
    ('E54', 'EXPORT', 'Xuất nguyên liệu, vật tư gia công từ hợp đồng này sang hợp đồng khác', 'Export of processing materials transferred to another contract'),
    ('E56', 'EXPORT', 'Xuất sản phẩm gia công giao hàng tại nội địa', 'Export of processed products delivered in the domestic market'),
    ('E62', 'EXPORT', 'Xuất sản phẩm sản xuất xuất khẩu', 'Export of products made for export'),
    ('E64', 'EXPORT', 'Xuất sản phẩm sản xuất xuất khẩu giao hàng tại nội địa', 'Export of products made for export delivered in the domestic market'),
    ('E82', 'EXPORT', 'Xuất nguyên liệu, vật tư thuê gia công ở nước ngoài', 'Export of materials for processing abroad'),
    ('G21', 'EXPORT', 'Tái xuất hàng kinh doanh tạm nhập tái xuất', 'Re-export of temporary-import re-export goods'),
    ('G22', 'EXPORT', 'Tái xuất máy móc, thiết bị đã tạm nhập phục vụ dự án có thời hạn', 'Re-export of machinery and equipment temporarily imported for a time-limited project'),
    ('G23', 'EXPORT', 'Tái xuất miễn thuế hàng tạm nhập', 'Duty-free re-export of temporarily imported goods'),
    ('G24', 'EXPORT', 'Tái xuất khác', 'Other re-export'),
    ('G61', 'EXPORT', 'Tạm xuất hàng hóa', 'Temporary export of goods'),
    ('C12', 'EXPORT', 'Hàng hóa từ kho ngoại quan xuất đi nước ngoài', 'Goods leaving a bonded warehouse for abroad'),
    ('C22', 'EXPORT', 'Hàng hóa đưa ra khỏi khu phi thuế quan', 'Goods leaving a non-tariff zone'),
    ('H21', 'EXPORT', 'Hàng xuất khẩu khác', 'Other exports');

-- +goose Down
DROP TABLE declaration_events;
DROP TABLE declarations;
DROP TABLE declaration_types;
DROP TABLE api_keys;
