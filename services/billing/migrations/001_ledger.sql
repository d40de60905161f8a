-- Double-entry ledger. Money is in micros (millionths of the currency unit), never floats.

CREATE TABLE accounts (
  id         text PRIMARY KEY,
  tenant     text,
  kind       text NOT NULL CHECK (kind IN ('receivable', 'prepaid', 'revenue', 'gpu_cost')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX accounts_tenant ON accounts (tenant);

CREATE TABLE ledger_transactions (
  id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Exactly-once posting: a replayed usage event collides here, in the same transaction
  -- that would have written its entries.
  usage_id            text NOT NULL UNIQUE,
  request_id          text NOT NULL,
  tenant              text NOT NULL,
  feature             text NOT NULL,
  model               text NOT NULL,
  tier                text NOT NULL,
  pool                text NOT NULL,
  input_tokens        integer NOT NULL CHECK (input_tokens >= 0),
  cached_input_tokens integer NOT NULL CHECK (cached_input_tokens >= 0),
  output_tokens       integer NOT NULL CHECK (output_tokens >= 0),
  gpu_seconds         double precision NOT NULL CHECK (gpu_seconds >= 0),
  price_version       text NOT NULL,
  recorded_at         timestamptz NOT NULL,
  posted_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_transactions_tenant_time ON ledger_transactions (tenant, posted_at);
CREATE INDEX ledger_transactions_request ON ledger_transactions (request_id);

CREATE TABLE ledger_entries (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id bigint NOT NULL REFERENCES ledger_transactions (id),
  account_id     text NOT NULL REFERENCES accounts (id),
  side           text NOT NULL CHECK (side IN ('debit', 'credit')),
  amount_micros  bigint NOT NULL CHECK (amount_micros >= 0)
);
CREATE INDEX ledger_entries_transaction ON ledger_entries (transaction_id);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id);

-- Append-only: corrections are new, reversing transactions.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the ledger is append-only (% on %): post a reversing transaction instead', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Balanced at commit: at least two entries, debits equal credits.
CREATE FUNCTION ledger_assert_balanced(tx bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  debits bigint;
  credits bigint;
  n integer;
BEGIN
  SELECT coalesce(sum(amount_micros) FILTER (WHERE side = 'debit'), 0),
         coalesce(sum(amount_micros) FILTER (WHERE side = 'credit'), 0),
         count(*)
    INTO debits, credits, n
    FROM ledger_entries WHERE transaction_id = tx;
  IF n < 2 OR debits <> credits THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: % debit vs % credit micros over % entries', tx, debits, credits, n;
  END IF;
END $$;
CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger_assert_balanced(NEW.transaction_id);
  RETURN NULL;
END $$;
CREATE FUNCTION ledger_transaction_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM ledger_assert_balanced(NEW.id);
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced();
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_transaction_balanced();
