#!/usr/bin/env bash
# schemathesis against the live server (tests/contract/live_server.sh already sourced):
# every check, the coverage, fuzzing and stateful phases, a fixed seed (schemathesis.toml)
# and a bounded number of examples per operation, so CI time stays bounded.
set -euo pipefail

REFRESH_TOKEN=$(curl -sf -X POST "$API/auth/login" -H 'Content-Type: application/json' \
  -d "{\"tenant\": \"platform\", \"username\": \"root\", \"password\": \"$ADMIN_PASSWORD\"}" | jq -r .refresh_token)
export REFRESH_TOKEN

.venv-contract/bin/st --config-file tests/contract/schemathesis.toml run "$API/openapi.json" \
  --checks all --phases examples,coverage,fuzzing,stateful \
  --max-examples "${ST_MAX_EXAMPLES:-25}" --no-color
