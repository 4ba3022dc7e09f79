#!/usr/bin/env bash
# Clone the committed tree, `make run` it, wait for /healthz, log into the admin, stop it.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
port=${SMOKE_PORT:-8765}
log="$work/make-run.log"
stop() {  # Ctrl-C as a user would; then make sure nothing is left behind
  kill -INT -- -"$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 -- -"$pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- -"$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT

git clone --quiet "$repo" "$work/hub"
cd "$work/hub"
set -m
HUB_PORT=$port make run >"$log" 2>&1 &
pid=$!
set +m

for _ in $(seq 1 600); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then break; fi
  if ! kill -0 $pid 2>/dev/null; then echo "make run exited early:"; cat "$log"; exit 1; fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/healthz"; echo

login=$(grep -m1 "admin login:" "$log" | sed 's/.*admin login: //')
user=${login%% / *}; password=${login##* / }
grep -q "Hub admin: http://127.0.0.1:$port/admin/" "$log" || { echo "admin URL not printed"; exit 1; }

jar="$work/cookies"
curl -fsS -c "$jar" -b "$jar" "http://127.0.0.1:$port/admin/login/" -o "$work/login.html"
token=$(grep -o 'name="csrfmiddlewaretoken" value="[^"]*"' "$work/login.html" | sed 's/.*value="//;s/"$//')
curl -fsS -c "$jar" -b "$jar" -e "http://127.0.0.1:$port/admin/login/" \
  --data-urlencode "csrfmiddlewaretoken=$token" --data-urlencode "username=$user" \
  --data-urlencode "password=$password" --data-urlencode "next=/admin/" \
  "http://127.0.0.1:$port/admin/login/?next=/admin/" -o /dev/null
curl -fsS -b "$jar" "http://127.0.0.1:$port/admin/hub/connection/" -o "$work/connections.html"
grep -q "Демо: внешняя система" "$work/connections.html" || { echo "not logged in / no demo data"; exit 1; }

# Data flows: the worker pulls the Lime emulator's venue into the hub within a minute or two.
for _ in $(seq 1 180); do
  curl -fsS -b "$jar" "http://127.0.0.1:$port/admin/hub/pass/" -o "$work/passes.html"
  if grep -q "Турникет\|Горка\|бассейн\|зона" "$work/passes.html"; then break; fi
  sleep 1
done
grep -q "Турникет\|Горка\|бассейн\|зона" "$work/passes.html" || { echo "no passes arrived from Lime"; tail -50 "$log"; exit 1; }
# …and on into both CRM emulators as deals.
for crm in 8103 8104; do
  for _ in $(seq 1 180); do
    if curl -fsS "http://127.0.0.1:$crm/_emulator/ui" 2>/dev/null | grep -q "Проход:"; then break; fi
    sleep 1
  done
  curl -fsS "http://127.0.0.1:$crm/_emulator/ui" | grep -q "Проход:" || { echo "no deals in the CRM on :$crm"; tail -80 "$log"; exit 1; }
done
echo "make run smoke test: OK (healthz up, admin login as $user works, Lime data in the hub and as deals in amoCRM and Bitrix24)"
