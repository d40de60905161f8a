-- Transaction kinds beyond usage, running account balances, price-book versions, budgets.
-- Written to apply to a database that already holds 001's rows.

-- Accounts: prepaid credit, usage receivable (per tenant); revenue (per model); GPU cost
-- (per pool) and what is owed for it (per provider); cash received for prepaid credit.
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
  CHECK (kind IN ('receivable', 'prepaid', 'revenue', 'gpu_cost', 'gpu_payable', 'cash'));

-- Running totals, kept by the entries' trigger below in the same statement as the entries,
-- so a balance is one row read and always equals the sum of the account's entries.
ALTER TABLE accounts
  ADD COLUMN debit_micros  bigint NOT NULL DEFAULT 0,
  ADD COLUMN credit_micros bigint NOT NULL DEFAULT 0;
UPDATE accounts a
   SET debit_micros = s.debits, credit_micros = s.credits
  FROM (SELECT account_id,
               coalesce(sum(amount_micros) FILTER (WHERE side = 'debit'), 0) AS debits,
               coalesce(sum(amount_micros) FILTER (WHERE side = 'credit'), 0) AS credits
          FROM ledger_entries GROUP BY account_id) s
 WHERE a.id = s.account_id;


-- Transactions: usage (one per usage id), reversal (undoes one transaction, at most once),
-- gpu_cost (accrues the GPU cost of the usage posted with it), credit_purchase and
-- credit_applied (prepaid credit in and used). Non-usage kinds are idempotent by
-- external_id.
ALTER TABLE ledger_transactions
  ADD COLUMN kind text NOT NULL DEFAULT 'usage'
    CHECK (kind IN ('usage', 'reversal', 'gpu_cost', 'credit_purchase', 'credit_applied')),
  ADD COLUMN external_id text,
  ADD COLUMN reverses bigint REFERENCES ledger_transactions (id),
  -- What the tenant was charged (equals its receivable debit) and what the GPU time cost.
  ADD COLUMN amount_micros bigint CHECK (amount_micros >= 0),
  ADD COLUMN gpu_cost_micros bigint CHECK (gpu_cost_micros >= 0),
  ADD COLUMN price_effective_from timestamptz,
  ADD COLUMN capacity_class text,
  ADD COLUMN memo text;
ALTER TABLE ledger_transactions
  ALTER COLUMN usage_id DROP NOT NULL,
  ALTER COLUMN request_id DROP NOT NULL,
  ALTER COLUMN tenant DROP NOT NULL,
  ALTER COLUMN feature DROP NOT NULL,
  ALTER COLUMN model DROP NOT NULL,
  ALTER COLUMN tier DROP NOT NULL,
  ALTER COLUMN pool DROP NOT NULL,
  ALTER COLUMN input_tokens DROP NOT NULL,
  ALTER COLUMN cached_input_tokens DROP NOT NULL,
  ALTER COLUMN output_tokens DROP NOT NULL,
  ALTER COLUMN gpu_seconds DROP NOT NULL,
  ALTER COLUMN price_version DROP NOT NULL,
  ALTER COLUMN recorded_at DROP NOT NULL;

-- 001's usage rows get the amount their entries carry; the one sanctioned update.
ALTER TABLE ledger_transactions DISABLE TRIGGER ledger_transactions_append_only;
UPDATE ledger_transactions t
   SET amount_micros = coalesce((SELECT sum(e.amount_micros) FROM ledger_entries e WHERE e.transaction_id = t.id AND e.side = 'debit'), 0),
       gpu_cost_micros = 0
 WHERE t.amount_micros IS NULL;
ALTER TABLE ledger_transactions ENABLE TRIGGER ledger_transactions_append_only;

ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_shape CHECK (
  CASE kind
    WHEN 'usage' THEN usage_id IS NOT NULL AND request_id IS NOT NULL AND tenant IS NOT NULL
      AND feature IS NOT NULL AND model IS NOT NULL AND tier IS NOT NULL AND pool IS NOT NULL
      AND input_tokens IS NOT NULL AND cached_input_tokens IS NOT NULL AND output_tokens IS NOT NULL
      AND gpu_seconds IS NOT NULL AND price_version IS NOT NULL AND recorded_at IS NOT NULL
      AND amount_micros IS NOT NULL AND gpu_cost_micros IS NOT NULL AND reverses IS NULL
    WHEN 'reversal' THEN usage_id IS NULL AND reverses IS NOT NULL
    ELSE usage_id IS NULL AND external_id IS NOT NULL
  END);

-- Partial, so the usage rows (where both are NULL) cost no index entries.
CREATE UNIQUE INDEX ledger_transactions_external_id ON ledger_transactions (external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_transactions_reverses ON ledger_transactions (reverses) WHERE reverses IS NOT NULL;

-- Entries are checked per statement instead of per row: a ledger posts hundreds of
-- transactions in one statement, and per-row triggers and foreign-key checks (which take
-- share locks on the few hot revenue and cost accounts) cost more than the inserts. Every
-- transaction's entries are written by one INSERT, which this checks as a set: at least
-- two, debits equal credits, the transaction exists and had no entries before, every
-- account exists. Then it adds the entries to the accounts' running totals, locking the
-- accounts in id order so concurrent postings never deadlock. The deferred
-- per-transaction trigger of 001 still refuses a transaction left without entries.
DROP TRIGGER ledger_entries_balanced ON ledger_entries;
-- Balances are the accounts' running totals now; nothing reads entries by account alone.
DROP INDEX ledger_entries_account;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_transaction_id_fkey;
ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_account_id_fkey;

CREATE FUNCTION ledger_entries_posted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad record;
  wanted integer;
  updated integer;
BEGIN
  SELECT n.transaction_id, n.entries, n.debits, n.credits, t.id IS NULL AS missing INTO bad
    FROM (SELECT transaction_id, count(*) AS entries,
                 coalesce(sum(amount_micros) FILTER (WHERE side = 'debit'), 0) AS debits,
                 coalesce(sum(amount_micros) FILTER (WHERE side = 'credit'), 0) AS credits
            FROM new_entries GROUP BY transaction_id) n
    LEFT JOIN ledger_transactions t ON t.id = n.transaction_id
   WHERE t.id IS NULL OR n.entries < 2 OR n.debits <> n.credits
      OR n.entries <> (SELECT count(*) FROM ledger_entries e WHERE e.transaction_id = n.transaction_id)
   LIMIT 1;
  IF FOUND AND bad.missing THEN
    RAISE EXCEPTION 'ledger transaction % does not exist', bad.transaction_id USING ERRCODE = 'foreign_key_violation';
  ELSIF FOUND THEN
    RAISE EXCEPTION 'ledger transaction % is unbalanced: % debit vs % credit micros over % entries (write all of a transaction''s entries in one statement)',
      bad.transaction_id, bad.debits, bad.credits, bad.entries USING ERRCODE = 'check_violation';
  END IF;

  PERFORM 1 FROM accounts WHERE id IN (SELECT account_id FROM new_entries) ORDER BY id FOR NO KEY UPDATE;
  UPDATE accounts a
     SET debit_micros = a.debit_micros + s.debits, credit_micros = a.credit_micros + s.credits
    FROM (SELECT account_id,
                 coalesce(sum(amount_micros) FILTER (WHERE side = 'debit'), 0) AS debits,
                 coalesce(sum(amount_micros) FILTER (WHERE side = 'credit'), 0) AS credits
            FROM new_entries GROUP BY account_id) s
   WHERE a.id = s.account_id;
  GET DIAGNOSTICS updated = ROW_COUNT;
  SELECT count(DISTINCT account_id) INTO wanted FROM new_entries;
  IF updated <> wanted THEN
    RAISE EXCEPTION 'ledger entries name % accounts that do not exist', wanted - updated USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER ledger_entries_posted AFTER INSERT ON ledger_entries
  REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_posted();

-- What the foreign keys guarded on the other side: accounts are never removed or renamed.
CREATE FUNCTION accounts_permanent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'accounts are permanent: % of account % refused', TG_OP, OLD.id;
END $$;
CREATE TRIGGER accounts_permanent BEFORE DELETE OR UPDATE OF id, tenant, kind ON accounts
  FOR EACH ROW EXECUTE FUNCTION accounts_permanent();
CREATE TRIGGER accounts_no_truncate BEFORE TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- Invoices read a tenant's month; reconciliation reads every tenant's hours.
DROP INDEX ledger_transactions_tenant_time;
CREATE INDEX ledger_transactions_tenant_recorded ON ledger_transactions (tenant, recorded_at);
CREATE INDEX ledger_transactions_recorded ON ledger_transactions USING brin (recorded_at);
CREATE INDEX ledger_transactions_posted ON ledger_transactions USING brin (posted_at);

-- Price-book versions: immutable once written, each in force from its effective date.
CREATE TABLE price_book_versions (
  version        text PRIMARY KEY,
  effective_from timestamptz NOT NULL UNIQUE,
  book           jsonb NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER price_book_versions_append_only BEFORE UPDATE OR DELETE ON price_book_versions
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Monthly budgets; feature '' is the tenant-wide budget. Limits of 0 mean none.
CREATE TABLE budgets (
  tenant            text NOT NULL,
  feature           text NOT NULL DEFAULT '',
  soft_limit_micros bigint NOT NULL CHECK (soft_limit_micros >= 0),
  hard_limit_micros bigint NOT NULL CHECK (hard_limit_micros >= 0),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, feature)
);

-- Spend per tenant (feature '') and per feature per calendar month (UTC), updated in the
-- transaction that posts the usage; revision grows with every update of the row.
CREATE TABLE budget_spend (
  tenant       text NOT NULL,
  feature      text NOT NULL,
  period       date NOT NULL,
  spent_micros bigint NOT NULL,
  revision     bigint NOT NULL,
  PRIMARY KEY (tenant, period, feature)
);
