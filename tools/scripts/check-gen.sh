#!/usr/bin/env bash
# Fails when packages/contracts/src/gen is not what `pnpm gen` makes from proto/ now.
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pnpm exec buf generate --output "$tmp"
if ! diff -r "$tmp/packages/contracts/src/gen" packages/contracts/src/gen >/dev/null; then
  echo "packages/contracts/src/gen is stale: run 'pnpm gen' and commit the result" >&2
  diff -r "$tmp/packages/contracts/src/gen" packages/contracts/src/gen | head -40 >&2
  exit 1
fi
echo "generated code is up to date"
