-- Lead ownership and search. Every customer gets an assignee (`assigned_to`, a user of the
-- tenant; existing rows get their creator) and indexes for the list filters; a full-text
-- index over name, email and phone (`customer_search`, FTS5) is kept in step by triggers.
--
-- The table is rebuilt to give each row a stable integer key (`seq`, INTEGER PRIMARY KEY,
-- in creation order): the search index is keyed by it, and an implicit rowid may change
-- under VACUUM. `(tenant_id, id)` stays unique, and every query still names the tenant.
CREATE TABLE customers_new (
  seq           INTEGER PRIMARY KEY,
  tenant_id     TEXT NOT NULL,
  id            TEXT NOT NULL,
  name          TEXT NOT NULL,
  email         TEXT,
  phone         TEXT,
  status        TEXT NOT NULL DEFAULT 'lead',
  source        TEXT,
  notes         TEXT,
  created_by    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  version       INTEGER NOT NULL DEFAULT 1,
  assigned_to   TEXT NOT NULL,
  -- The phone's digits (phones hold only digits, spaces and `+ - . ( )`), and what the
  -- search indexes of it: the number as written plus every suffix of its digits, so any
  -- run of digits is the prefix of an indexed word ("600123" finds "+34 600 123 456").
  phone_digits  TEXT GENERATED ALWAYS AS (
    replace(replace(replace(replace(replace(replace(phone, ' ', ''), '-', ''), '+', ''),
      '(', ''), ')', ''), '.', '')
  ) VIRTUAL,
  phone_search  TEXT GENERATED ALWAYS AS (
    phone || ' ' || phone_digits
    || ' ' || substr(phone_digits, 2) || ' ' || substr(phone_digits, 3)
    || ' ' || substr(phone_digits, 4) || ' ' || substr(phone_digits, 5)
    || ' ' || substr(phone_digits, 6) || ' ' || substr(phone_digits, 7)
    || ' ' || substr(phone_digits, 8) || ' ' || substr(phone_digits, 9)
    || ' ' || substr(phone_digits, 10) || ' ' || substr(phone_digits, 11)
    || ' ' || substr(phone_digits, 12) || ' ' || substr(phone_digits, 13)
    || ' ' || substr(phone_digits, 14) || ' ' || substr(phone_digits, 15)
    || ' ' || substr(phone_digits, 16) || ' ' || substr(phone_digits, 17)
    || ' ' || substr(phone_digits, 18)
  ) VIRTUAL,
  UNIQUE (tenant_id, id)
);
INSERT INTO customers_new (tenant_id, id, name, email, phone, status, source, notes, created_by,
                           created_at, updated_at, version, assigned_to)
  SELECT tenant_id, id, name, email, phone, status, source, notes, created_by,
         created_at, updated_at, version, created_by
  FROM customers ORDER BY tenant_id, id;
DROP TABLE customers;
ALTER TABLE customers_new RENAME TO customers;

-- The list filters (`?assigned_to=`/`?mine=1`, `?status=`, `?source=`), newest first.
CREATE INDEX customers_by_assignee ON customers (tenant_id, assigned_to, id);
CREATE INDEX customers_by_status ON customers (tenant_id, status, id);
CREATE INDEX customers_by_source ON customers (tenant_id, source, id);

-- `?q=`: word prefixes of name, email and phone, case- and accent-insensitive. Contentless
-- (the rows stay in `customers`); its rowid is `customers.seq`. Deleting from a contentless
-- index takes the values indexed, which the triggers have in `old`.
CREATE VIRTUAL TABLE customer_search USING fts5 (
  name, email, phone,
  content = '', tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
INSERT INTO customer_search (rowid, name, email, phone)
  SELECT seq, name, email, phone_search FROM customers;

CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
  INSERT INTO customer_search (rowid, name, email, phone)
    VALUES (new.seq, new.name, new.email, new.phone_search);
END;
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
  INSERT INTO customer_search (customer_search, rowid, name, email, phone)
    VALUES ('delete', old.seq, old.name, old.email, old.phone_search);
END;
CREATE TRIGGER customers_search_update AFTER UPDATE OF name, email, phone ON customers
  WHEN old.name IS NOT new.name OR old.email IS NOT new.email OR old.phone IS NOT new.phone
BEGIN
  INSERT INTO customer_search (customer_search, rowid, name, email, phone)
    VALUES ('delete', old.seq, old.name, old.email, old.phone_search);
  INSERT INTO customer_search (rowid, name, email, phone)
    VALUES (new.seq, new.name, new.email, new.phone_search);
END;
