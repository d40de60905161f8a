-- How a usage's gpu_cost_micros was computed: 'gpu-hour' (its GPU time at the pool's GPU-hour
-- price) or 'per-token' (its tokens at a provider pool's token prices). Invoices keep the two
-- on separate lines, so a line's cost is computed one way. NULL on rows posted before this
-- column existed, which were all priced per GPU-hour, and on rows that are not usage.
ALTER TABLE ledger_transactions
  ADD COLUMN cost_basis text CHECK (cost_basis IN ('gpu-hour', 'per-token'));
