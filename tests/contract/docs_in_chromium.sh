#!/usr/bin/env bash
# /docs renders its operation list in headless Chromium with no network beyond the service
# (tests/contract/live_server.sh already sourced). Every host but 127.0.0.1 fails to resolve,
# so a page that needed a CDN would render nothing.
set -euo pipefail

BROWSER=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$BROWSER" ]; then
  echo "installing Debian's chromium"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  BROWSER=$(command -v chromium)
fi

PROFILE=$(mktemp -d)
trap 'rm -rf "$PROFILE"' EXIT
DOM=$("$BROWSER" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --no-first-run --user-data-dir="$PROFILE" \
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
  --virtual-time-budget=15000 --dump-dom "$API/docs" 2>/dev/null)

missing=0
# Operations as Swagger UI renders them (its element ids hold the operationId), and paths.
for expected in operations-users-listUsers operations-users-replaceUserRoles operations-oauth-issueToken \
  '/tenants/{tid}/projects' '/.well-known/jwks.json'; do
  if ! grep -qF -- "$expected" <<<"$DOM"; then
    echo "missing from the rendered /docs: $expected" >&2
    missing=1
  fi
done
if [ "$missing" -ne 0 ]; then
  echo "$DOM" | head -c 2000 >&2
  exit 1
fi
rendered=$(grep -o 'id="operations-[^"]*"' <<<"$DOM" | grep -v 'operations-tag-' | sort -u | wc -l)
echo "/docs rendered $rendered operations with no network beyond the service"
