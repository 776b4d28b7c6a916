#!/usr/bin/env bash
# Generate a Python client with openapi-python-client from the live document and run the
# smoke script with it (tests/contract/live_server.sh already sourced).
set -euo pipefail

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
.venv-contract/bin/openapi-python-client generate --url "$API/openapi.json" --meta none \
  --config tests/contract/openapi-python-client.yaml --output-path "$OUT/authz_client" --fail-on-warning
PYTHONPATH="$OUT" .venv-contract/bin/python tests/contract/client_smoke.py
