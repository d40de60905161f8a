#!/usr/bin/env bash
# Only composition roots (services/*/src/main.ts, or <name>-main.ts for a service's second kind of process) read
# process.env inside services (STYLE.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
if hits=$(grep -rn "process\.env" services/*/src --include='*.ts' --exclude='*.test.ts' | grep -vE '/src/([a-z-]+-)?main\.ts:' | grep -vE ':[0-9]+:\s*(\*|//)'); then
  echo "process.env read outside main.ts:" >&2
  echo "$hits" >&2
  exit 1
fi
