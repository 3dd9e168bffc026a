#!/usr/bin/env bash
# make bench: starts a fresh lamina on a free loopback port, deploys the no-op C++ runtime, and runs
# bench_invoke (baseline loopback round trip, warm invoke latency, throughput), bench_async (durable
# enqueue and drain of Event invokes) and bench_keepalive. Prints Markdown tables and keeps them in
# bench/out/report.md.
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/bench/out"
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'kill $SERVER_PID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
"$ROOT/$BUILD/lamina" server --listen 127.0.0.1:0 --data-dir "$WORK/data" ${BUSY_POLL:+--busy-poll-us $BUSY_POLL} >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
for _ in $(seq 100); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
ENDPOINT=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$WORK/server.out")
[ -n "$ENDPOINT" ] || { echo "bench: server did not start"; cat "$WORK/server.err"; exit 1; }
mkdir -p "$WORK/fn" && cp "$ROOT/$BUILD/bench/bench_noop_bootstrap" "$WORK/fn/bootstrap"
(cd "$WORK/fn" && zip -q fn.zip bootstrap)
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
/usr/bin/aws --endpoint-url "$ENDPOINT" lambda create-function --function-name noop --runtime provided.al2023 \
  --handler bootstrap --role arn:aws:iam::000000000000:role/bench --zip-file "fileb://$WORK/fn/fn.zip" \
  --memory-size 1769 >/dev/null
# Python no-op (cold start), and the same CPU-bound loop at 256 MB and 1769 MB (the CPU share).
PY=$(ls /usr/bin/python3.* 2>/dev/null | grep -E 'python3\.[0-9]+$' | head -1 | xargs -r basename)
mkdir -p "$WORK/py" "$WORK/cpu"
printf 'def handler(event, context):\n    return event\n' >"$WORK/py/app.py"
printf 'def handler(event, context):\n    n = 0\n    for i in range(2000000):\n        n += i * i\n    return n\n' >"$WORK/cpu/app.py"
(cd "$WORK/py" && zip -q fn.zip app.py) && (cd "$WORK/cpu" && zip -q fn.zip app.py)
EXTRA=()
ZYGOTES=0  # zygotes the warm-up below waits for
if [ -n "$PY" ]; then
  create() { /usr/bin/aws --endpoint-url "$ENDPOINT" lambda create-function --function-name "$1" --runtime "$PY" \
    --handler app.handler --role arn:aws:iam::000000000000:role/bench --zip-file "fileb://$WORK/$2/fn.zip" \
    --timeout 60 --memory-size "$3" >/dev/null; }
  create pynoop py 128 && create cpu-256mb cpu 256 && create cpu-1769mb cpu 1769 && create pyexec py 128
  # A variable read only at interpreter start (LC_TIME) makes lamina exec a fresh interpreter
  # instead of forking from the zygote: the same no-op, cold-started the pre-zygote way.
  /usr/bin/aws --endpoint-url "$ENDPOINT" lambda update-function-configuration --function-name pyexec \
    --environment 'Variables={LC_TIME=C.UTF-8}' >/dev/null
  ZYGOTES=$((ZYGOTES + 1))
  EXTRA=(--python "pynoop:/usr/bin/$PY" --python-exec "pyexec:/usr/bin/$PY" --cpu cpu-256mb,cpu-1769mb)
fi
# Node.js no-op (cold start) with the host's node, when lamina serves its major version.
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
if [ -n "$NODE_MAJOR" ]; then
  mkdir -p "$WORK/node" && printf 'export const handler = async (event) => event;\n' >"$WORK/node/index.mjs"
  (cd "$WORK/node" && zip -q fn.zip index.mjs)
  if /usr/bin/aws --endpoint-url "$ENDPOINT" lambda create-function --function-name nodenoop \
      --runtime "nodejs$NODE_MAJOR.x" --handler index.handler --role arn:aws:iam::000000000000:role/bench \
      --zip-file "fileb://$WORK/node/fn.zip" --memory-size 128 >/dev/null; then
    /usr/bin/aws --endpoint-url "$ENDPOINT" lambda create-function --function-name nodeexec \
      --runtime "nodejs$NODE_MAJOR.x" --handler index.handler --role arn:aws:iam::000000000000:role/bench \
      --zip-file "fileb://$WORK/node/fn.zip" --memory-size 128 --environment 'Variables={LC_TIME=C.UTF-8}' >/dev/null
    EXTRA+=(--node "nodenoop:$(command -v node)" --node-exec "nodeexec:$(command -v node)")
    [ -f /usr/include/node/node_api.h ] && ZYGOTES=$((ZYGOTES + 1))
  fi
fi
# The first cold start of a runtime starts its zygote; measure once they run.
for fn in pynoop nodenoop; do
  /usr/bin/aws --endpoint-url "$ENDPOINT" lambda invoke --function-name "$fn" "$WORK/out.json" >/dev/null 2>&1 || true
done
for _ in $(seq 300); do
  [ "$(curl -s "$ENDPOINT/metrics" | sed -n 's/^lamina_zygotes_running //p')" = "$ZYGOTES" ] && break
  sleep 0.1
done
echo "bench: lamina at $ENDPOINT ($(nproc) cores, $(sed -n 's/.*sandbox: \([a-z]*\).*/\1/p' "$WORK/server.out") sandbox)"
"$ROOT/$BUILD/bench/bench_invoke" "${ENDPOINT#http://}" noop ${QUICK:+--seconds 2 --requests 5000} "${EXTRA[@]}" | tee "$OUT/report.md"
"$ROOT/$BUILD/bench/bench_async" "${ENDPOINT#http://}" noop "$WORK/naive" ${QUICK:+--seconds 2} | tee -a "$OUT/report.md"
"$ROOT/$BUILD/bench/bench_keepalive" | tee -a "$OUT/report.md"
