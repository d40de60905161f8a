-- How each metered attempt ended. Rows from before outcomes were are completions. The token
-- columns hold billable quantities, so a failed attempt's are 0 and only its GPU time counts.
ALTER TABLE metered_usage ADD COLUMN outcome text NOT NULL DEFAULT 'completed'
  CHECK (outcome IN ('completed', 'failed', 'cancelled', 'expired', 'rejected'));
