-- Prepaid credit drawn down by charges, tenant reservations and their fees, the provisioned
-- fleet's idle GPU time. Written to apply to a database that already holds 002's rows.

-- Accounts: idle GPU cost per pool (what provisioned GPUs cost while no request used them).
ALTER TABLE accounts DROP CONSTRAINT accounts_kind_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_kind_check
  CHECK (kind IN ('receivable', 'prepaid', 'revenue', 'gpu_cost', 'gpu_payable', 'cash', 'gpu_idle'));

-- Transactions: reservation_fee (one per reservation and hour, by external_id) and gpu_idle
-- (one per pool and hour, by external_id). credit_applied (002) now moves prepaid credit to
-- the receivable in the database transaction that posts the charges it pays for.
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
  CHECK (kind IN ('usage', 'reversal', 'gpu_cost', 'credit_purchase', 'credit_applied', 'reservation_fee', 'gpu_idle'));
-- Credit applied and fees belong to a tenant's month (by recorded_at), like usage.
CREATE INDEX ledger_transactions_tenant_kind_recorded ON ledger_transactions (tenant, kind, recorded_at) WHERE kind IN ('credit_applied', 'reservation_fee');

-- A tenant's reservation: GPUs on reserved pools for a period, at the reserved-capacity terms
-- of the price-book version in force when it was made (pinned: a contract does not reprice).
-- Immutable once written; its fee is charged per elapsed hour into the ledger.
CREATE TABLE reservations (
  id                      text PRIMARY KEY,
  tenant                  text NOT NULL,
  pools                   text[] NOT NULL CHECK (cardinality(pools) > 0),
  model                   text NOT NULL,
  gpus                    integer NOT NULL CHECK (gpus > 0),
  starts_at               timestamptz NOT NULL,
  ends_at                 timestamptz NOT NULL,
  fee_per_gpu_hour_micros bigint NOT NULL CHECK (fee_per_gpu_hour_micros >= 0),
  price_version           text NOT NULL,
  created_at              timestamptz NOT NULL DEFAULT now(),
  CHECK (ends_at > starts_at)
);
CREATE INDEX reservations_tenant ON reservations (tenant, starts_at);
CREATE TRIGGER reservations_append_only BEFORE UPDATE OR DELETE ON reservations
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- How far each reservation's fee has been charged: where the next accrual starts, so it never
-- rescans a long reservation's hours. A cursor only; the ledger's unique external id
-- (`reservation-fee:<id>:<hour>`) is what charges each hour once.
CREATE TABLE reservation_fee_progress (
  reservation_id text PRIMARY KEY REFERENCES reservations (id),
  charged_until  timestamptz NOT NULL
);

-- The provisioned fleet: one row per worker that sent a live heartbeat in a minute. Every
-- billing replica samples; the primary key makes a minute count once however many did.
CREATE TABLE fleet_minutes (
  pool   text NOT NULL,
  worker text NOT NULL,
  minute timestamptz NOT NULL,
  PRIMARY KEY (pool, minute, worker)
);
CREATE INDEX fleet_minutes_minute ON fleet_minutes USING brin (minute);
