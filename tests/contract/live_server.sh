#!/usr/bin/env bash
# Start the service as a deployment would (gunicorn, a fresh SQLite database, demo data and a
# platform administrator) on a free loopback port, for the contract checks.
#
#   source tests/contract/live_server.sh   # exports API and ADMIN_PASSWORD; call stop_live_server at the end
#
# Nothing here reaches beyond 127.0.0.1.

LIVE_DIR=$(mktemp -d)
LIVE_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export API="http://127.0.0.1:$LIVE_PORT"
export ADMIN_PASSWORD="contract-admin-password"
export AUTHZ_DATABASE_URL="sqlite:///$LIVE_DIR/authz.db"
export AUTHZ_KEY_DIR="$LIVE_DIR/keys"
export AUTHZ_CLIENT_SECRET_KEY="contract-checks-client-secret-key-0123456789"
export AUTHZ_ISSUER="$API"
# The fuzzer sends hundreds of logins from this one address, and schemathesis logs the
# administrator in again after each 401: a per-address login limit would lock the run out
# of its own credentials. Every other limit, and the account backoff, stay as shipped (the
# attack suite in tests/security tests the shipped login limits).
export AUTHZ_LOGIN_LIMIT_PER_ADDRESS="100000 per minute"

.venv/bin/alembic upgrade head >"$LIVE_DIR/setup.log" 2>&1
.venv/bin/flask --app app demo >>"$LIVE_DIR/setup.log"
printf '%s' "$ADMIN_PASSWORD" | .venv/bin/flask --app app bootstrap --username root --password-stdin >>"$LIVE_DIR/setup.log"

# No request-line limit: the fuzzer's long query strings reach the app, which is what is under test.
.venv/bin/gunicorn --no-control-socket --limit-request-line 0 -w 2 --threads 4 -b "127.0.0.1:$LIVE_PORT" 'app:create_app()' \
  >"$LIVE_DIR/server.log" 2>&1 &
LIVE_PID=$!

stop_live_server() {
  kill "$LIVE_PID" 2>/dev/null && wait "$LIVE_PID" 2>/dev/null
  rm -rf "$LIVE_DIR"
}

for _ in $(seq 1 60); do
  curl -sf "$API/healthz" >/dev/null && break
  sleep 0.5
done
curl -sf "$API/healthz" >/dev/null || { echo "the live server did not start" >&2; cat "$LIVE_DIR/server.log" >&2; exit 1; }
