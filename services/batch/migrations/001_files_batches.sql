-- Files uploaded for batches and written by them. Contents are kept in parts of about 1 MiB,
-- so an upload or a download streams through in bounded memory.
CREATE TABLE batch_files (
  id text PRIMARY KEY,
  tenant text NOT NULL,
  purpose text NOT NULL,
  filename text NOT NULL,
  bytes bigint NOT NULL,
  lines integer NOT NULL,
  created_ms bigint NOT NULL
);
CREATE INDEX batch_files_by_tenant ON batch_files (tenant, created_ms DESC, id DESC);

CREATE TABLE batch_file_parts (
  file_id text NOT NULL REFERENCES batch_files (id) ON DELETE CASCADE,
  part integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (file_id, part)
);

CREATE TABLE batches (
  id text PRIMARY KEY,
  tenant text NOT NULL,
  -- Feature tag of the key that submitted it: every request of the batch carries it.
  feature text NOT NULL DEFAULT '',
  endpoint text NOT NULL,
  input_file_id text NOT NULL,
  completion_window text NOT NULL,
  status text NOT NULL,
  stop_reason text,
  output_file_id text,
  error_file_id text,
  total integer NOT NULL DEFAULT 0,
  completed integer NOT NULL DEFAULT 0,
  failed integer NOT NULL DEFAULT 0,
  metadata jsonb NOT NULL DEFAULT '{}',
  errors jsonb NOT NULL DEFAULT '[]',
  created_ms bigint NOT NULL,
  expires_ms bigint NOT NULL,
  in_progress_ms bigint,
  finalizing_ms bigint,
  cancelling_ms bigint,
  ended_ms bigint
);
CREATE INDEX batches_by_tenant ON batches (tenant, created_ms DESC, id DESC);

-- One row per line of the input file. A line settles once (state pending -> succeeded |
-- failed) and its outcome is what the output or error file says of it.
CREATE TABLE batch_items (
  batch_id text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  line integer NOT NULL,
  custom_id text,
  -- The request body; null for a line that cannot run.
  body text,
  state text NOT NULL,
  outcome jsonb,
  PRIMARY KEY (batch_id, line)
);
-- A custom_id names one request of a batch: a repeated one is an error of its later line.
CREATE UNIQUE INDEX batch_items_custom_id ON batch_items (batch_id, custom_id) WHERE body IS NOT NULL;
CREATE INDEX batch_items_pending ON batch_items (batch_id, line) WHERE state = 'pending';
