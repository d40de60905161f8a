-- Metering's record of usage: one row per usage id (the dedupe), and per-minute rollups
-- updated in the same transaction as the rows they count, so each usage is counted once.

CREATE TABLE metered_usage (
  usage_id            text PRIMARY KEY,
  request_id          text NOT NULL,
  tenant              text NOT NULL,
  feature             text NOT NULL,
  model               text NOT NULL,
  tier                text NOT NULL,
  pool                text NOT NULL,
  input_tokens        bigint NOT NULL CHECK (input_tokens >= 0),
  cached_input_tokens bigint NOT NULL CHECK (cached_input_tokens >= 0),
  output_tokens       bigint NOT NULL CHECK (output_tokens >= 0),
  -- GPU time in whole microseconds, rounded as the ledger's reconciliation rounds it.
  gpu_us              bigint NOT NULL CHECK (gpu_us >= 0),
  ttft_ms             double precision NOT NULL,
  recorded_at         timestamptz NOT NULL,
  metered_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX metered_usage_recorded ON metered_usage USING brin (recorded_at);

CREATE TABLE usage_minute_rollups (
  tenant              text NOT NULL,
  minute              timestamptz NOT NULL,
  feature             text NOT NULL,
  model               text NOT NULL,
  tier                text NOT NULL,
  pool                text NOT NULL,
  requests            bigint NOT NULL,
  input_tokens        bigint NOT NULL,
  cached_input_tokens bigint NOT NULL,
  output_tokens       bigint NOT NULL,
  gpu_us              bigint NOT NULL,
  PRIMARY KEY (tenant, minute, feature, model, tier, pool)
);
CREATE INDEX usage_minute_rollups_minute ON usage_minute_rollups (minute);
