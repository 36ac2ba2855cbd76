#!/usr/bin/env bash
# The benchmark of the SPEC's targets (section 6), in one run on one machine:
#
#   1. the limit: pgbench running bench/payment.sql, the durable work of one
#      payment (two commits: a payment, an idempotency record, two ledger
#      entries and an event) on paygate's own tables;
#   2. paygate on PostgreSQL under cmd/paygate-load: POST /v1/payments with
#      confirm: true, automatic capture, the success card and an
#      Idempotency-Key, from BENCH_CLIENTS clients;
#   3. the same on SQLite;
#   4. paygate on PostgreSQL paying through the Stripe connector, against
#      stripe-mock on loopback (two Stripe API calls a payment);
#   5. a slow processor (SPEC section 11): paygate on PostgreSQL with the
#      sandbox taking BENCH_SLOW_LATENCY a call, from BENCH_SLOW_CLIENTS
#      clients, with PostgreSQL's connections to the database sampled;
#   6. three `paygate serve` on one PostgreSQL database, the BENCH_CLIENTS
#      clients spread over them; then `paygate ledger verify`, and every
#      payment acknowledged is in the database once, with one event each;
#
# then writes docs/benchmarks.md: the results, the ratio to the limit, the
# server's peak memory, the machine, and whether each target holds.
#
#   bash bench/run.sh                        # 20 s per measurement
#   BENCH_DURATION=60s bash bench/run.sh     # longer
#
# Settings (environment): BENCH_DURATION (20s; seconds or minutes: 45, 45s,
# 2m), BENCH_WARMUP (3s), BENCH_CLIENTS (32), BENCH_PORT (18480, loopback;
# the next port serves paygate's profiler), BENCH_PROFILE (a file to keep
# the CPU profile of the PostgreSQL run in, for go tool pprof),
# BENCH_PGHOST (127.0.0.1), BENCH_PGPORT (5432), BENCH_PGUSER (postgres; the
# password, if any, from PGPASSWORD), BENCH_DB (paygate_bench: created, and
# dropped at the end), BENCH_OUT (docs/benchmarks.md), BENCH_NOTE (a remark
# written into the report), BENCH_TMPDIR (/var/tmp: the work directory, with
# the SQLite database; it should be on a disk, like PostgreSQL's data).
#
# BENCH_SLOW_CLIENTS (1000) and BENCH_SLOW_LATENCY (300ms: the sandbox's
# PAYGATE_SANDBOX_LATENCY) shape run 5; BENCH_MULTI_MAX_CONNS (10: each of
# the three instances' PAYGATE_DATABASE_MAX_CONNS, so that three pools fit in
# PostgreSQL's max_connections beside other clients) run 6, whose second and
# third instances listen on BENCH_PORT + 4 and + 5.
#
# BENCH_STRIPE_MOCK: the stripe-mock binary (default: the tools cache, where
# it is go install'ed at the version .ci/run uses when missing).
#
# It needs Go, psql, pgbench, jq and curl; pgbench, jq and curl are installed with
# apt-get when missing and possible. Everything runs on loopback, stops by
# itself, and cleans up what it started (by PID) and its database.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${BENCH_DURATION:-20s}
warmup=${BENCH_WARMUP:-3s}
clients=${BENCH_CLIENTS:-32}
port=${BENCH_PORT:-18480}
pprof_port=$((port + 1))
pghost=${BENCH_PGHOST:-127.0.0.1}
pgport=${BENCH_PGPORT:-5432}
pguser=${BENCH_PGUSER:-postgres}
db=${BENCH_DB:-paygate_bench}
out=${BENCH_OUT:-docs/benchmarks.md}
note=${BENCH_NOTE:-}
slow_clients=${BENCH_SLOW_CLIENTS:-1000}
slow_latency=${BENCH_SLOW_LATENCY:-300ms}
slow_max_conns=20 # paygate's default pool
multi_max_conns=${BENCH_MULTI_MAX_CONNS:-10}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# seconds turns 20, 20s or 2m into whole seconds.
seconds() {
  [[ $1 =~ ^([0-9]+)([sm]?)$ ]] || die "$2 must be like 20, 20s or 2m, not '$1'"
  if [ "${BASH_REMATCH[2]}" = m ]; then
    echo $((10#${BASH_REMATCH[1]} * 60))
  else
    echo $((10#${BASH_REMATCH[1]}))
  fi
}
secs=$(seconds "$duration" BENCH_DURATION)
warm=$(seconds "$warmup" BENCH_WARMUP)
[ "$secs" -ge 1 ] || die "BENCH_DURATION must be at least 1s"
[[ $clients =~ ^[1-9][0-9]*$ ]] || die "BENCH_CLIENTS must be a positive number"
[[ $slow_clients =~ ^[1-9][0-9]*$ ]] || die "BENCH_SLOW_CLIENTS must be a positive number"
[[ $slow_latency =~ ^([0-9]+)ms$ ]] && [ "${BASH_REMATCH[1]}" -ge 1 ] || die "BENCH_SLOW_LATENCY must be milliseconds, like 300ms, not '$slow_latency'"
slow_latency_ms=${BASH_REMATCH[1]}
[[ $multi_max_conns =~ ^[1-9][0-9]*$ ]] || die "BENCH_MULTI_MAX_CONNS must be a positive number"
[ "$clients" -ge 3 ] || die "BENCH_CLIENTS must be at least 3, one for each of run 6's instances"
# A pool's connections: PAYGATE_DATABASE_MAX_CONNS and the idempotency
# answers' pool of half as many, at least 2 (internal/store).
pool_conns() { echo $(($1 + ($1 / 2 > 2 ? $1 / 2 : 2))); }
# Each client holds a connection to paygate, which holds one back: the
# Go programs raise their soft limit of open files to the hard one.
need_fds=$((slow_clients + 256))
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge "$need_fds" ] ||
  die "BENCH_SLOW_CLIENTS=$slow_clients needs $need_fds open files a process; the hard limit is $(ulimit -Hn)"
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$need_fds" ] || ulimit -n "$need_fds"
[[ $port =~ ^[1-9][0-9]*$ ]] || die "BENCH_PORT must be a port number"
[[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain lower-case name"
case $pghost in
  127.* | localhost | ::1) ;;
  *) die "BENCH_PGHOST must be loopback (load tests target only loopback), not $pghost" ;;
esac

# Tools.
install_pkg() { # command, package
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing $2 (for $1)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
  fi
  command -v "$1" >/dev/null || die "$1 is needed (Debian package $2)"
}
find_pgbench() {
  local p
  # Debian keeps pgbench with the server binaries; the newest major first.
  for p in $(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V -r); do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  command -v pgbench 2>/dev/null || true
}
command -v go >/dev/null || die "go is needed"
install_pkg psql postgresql-client
install_pkg jq jq
install_pkg curl curl
pgbench=$(find_pgbench)
if [ -z "$pgbench" ]; then
  install_pkg pgbench postgresql-contrib
  pgbench=$(find_pgbench)
fi
[ -n "$pgbench" ] || die "pgbench not found"

pg() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$pghost" -p "$pgport" -U "$pguser" "$@"; }
pg -d postgres -c 'SELECT 1' >/dev/null || die "cannot reach PostgreSQL at $pghost:$pgport as $pguser"
urlhost=$pghost
[ "$pghost" = ::1 ] && urlhost='[::1]'
pgurl="postgres://$pguser@$urlhost:$pgport/$db?sslmode=disable"
stripe_port=$((port + 2)) # and the next, stripe-mock's HTTPS, unused
instance_ports=("$port" "$((port + 4))" "$((port + 5))")
for p in "$port" "$pprof_port" "$stripe_port" "$((stripe_port + 1))" "${instance_ports[@]:1}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port $p is in use; set BENCH_PORT (paygate uses it and the next one, for its profiler; stripe-mock the two after; run 6's other instances the two after those)"
  fi
done
stripe_mock_version=v0.203.0
stripe_mock=${BENCH_STRIPE_MOCK:-${PAYGATE_TOOLS_DIR:-$HOME/.cache/paygate-tools}/bin/stripe-mock}
if ! go version -m "$stripe_mock" 2>/dev/null | awk '$1 == "mod" { print $2, $3 }' | grep -qxF "github.com/stripe/stripe-mock $stripe_mock_version"; then
  [ -n "${BENCH_STRIPE_MOCK:-}" ] && die "BENCH_STRIPE_MOCK is not stripe-mock $stripe_mock_version"
  log "installing stripe-mock $stripe_mock_version"
  GOBIN="$(dirname "$stripe_mock")" GOFLAGS=-buildvcs=false go install "github.com/stripe/stripe-mock@$stripe_mock_version"
fi

# Binaries, logs, results and the SQLite database; not in /tmp, often a
# tmpfs, where SQLite's fsyncs would cost nothing.
work=$(mktemp -d -p "${BENCH_TMPDIR:-/var/tmp}" paygate-bench.XXXXXX)
server_pids=() # the paygate servers running, one per instance
mock_pid=""
sampler_pid=""
stop_server() {
  local pid
  for pid in "${server_pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
}
stop_sampler() {
  [ -n "$sampler_pid" ] || return 0
  kill -TERM "$sampler_pid" 2>/dev/null || true
  wait "$sampler_pid" 2>/dev/null || true
  sampler_pid=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_sampler
  stop_server
  if [ -n "$mock_pid" ]; then
    kill -TERM "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
  fi
  pg -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fresh_db() {
  pg -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
}
# db_stats prints the database's committed transactions and rows written.
db_stats() {
  pg -d postgres -At -F ' ' -c "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = '$db'"
}
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }

# R holds the results of the paygate runs and of the CPU measurements, by
# "run.measure": R[pg.p99], R[sqlite.rss], R[pgb.busy]…
declare -A R
load_extra=() # extra paygate-load flags of the next measurement
setup=""      # a function run with the merchant's key before the next load
expect=succeeded # the status each payment of the next load must reach

# Where the CPU goes during a measurement: begin_cpu, the measured command,
# then end_cpu RUN sets R[RUN.busy] (the machine's busy share, %) and, in
# cores, R[RUN.server] (the paygate server, when running), R[RUN.pg] (the
# whole PostgreSQL server), R[RUN.client] (the load generator: this shell's
# children that ended in between) and R[RUN.other] (everything else busy).
hz=$(getconf CLK_TCK)
ncpu=$(nproc)
# PostgreSQL's postmaster, when it runs on this machine: the parent of its
# checkpointer.
postmaster=$(pg -d postgres -At -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'" 2>/dev/null || true)
[ -n "$postmaster" ] && postmaster=$(awk '{ print $4 }' "/proc/$postmaster/stat" 2>/dev/null || true)
cpu_snapshot() {
  local machine pgticks=0 server=0 children
  machine=$(awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat)
  if [ -n "$postmaster" ] && [ -r "/proc/$postmaster/stat" ]; then
    # Live processes, plus the backends that ended (the postmaster's
    # reaped children).
    pgticks=$( { cat "/proc/$postmaster/stat"; cat /proc/[0-9]*/stat 2>/dev/null || true; } |
      awk -v pm="$postmaster" 'NR == 1 { t = $14 + $15 + $16 + $17; next } $4 == pm { t += $14 + $15 } END { print t }')
  fi
  local pid
  for pid in "${server_pids[@]}"; do
    server=$((server + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  # times reports this shell's ended children; it must run here, not in a
  # $(…) subshell, which has none.
  times >"$work/times"
  children=$(tail -n 1 "$work/times" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); n += a[1] * 60 + a[2] } print n }')
  echo "$(date +%s.%N) $machine $pgticks $server $children"
}
begin_cpu() { cpu_snapshot >"$work/cpu0"; }
end_cpu() {
  local w0 b0 t0 p0 s0 c0 w1 b1 t1 p1 s1 c1 wall
  cpu_snapshot >"$work/cpu1"
  read -r w0 b0 t0 p0 s0 c0 <"$work/cpu0"
  read -r w1 b1 t1 p1 s1 c1 <"$work/cpu1"
  wall=$(calc "$w1 - $w0" 3)
  R[$1.busy]=$(calc "100 * ($b1 - $b0) / ($t1 - $t0)" 0)
  R[$1.server]=$(calc "($s1 - $s0) / $hz / $wall" 2)
  R[$1.pg]=$(calc "($p1 - $p0) / $hz / $wall" 2)
  R[$1.client]=$(calc "($c1 - $c0) / $wall" 2)
  R[$1.other]=$(calc "$ncpu * ($b1 - $b0) / ($t1 - $t0) - ($s1 - $s0 + $p1 - $p0) / $hz / $wall - ($c1 - $c0) / $wall" 2)
  if [ -z "$postmaster" ]; then R[$1.pg]=n/a R[$1.other]=n/a; fi
}

log "building paygate and paygate-load (CGO_ENABLED=0 -trimpath)"
CGO_ENABLED=0 go build -trimpath -o "$work/paygate" ./cmd/paygate
CGO_ENABLED=0 go build -trimpath -o "$work/paygate-load" ./cmd/paygate-load
load_avg_start=$(cut -d ' ' -f 1-3 /proc/loadavg)

# 1. The limit: pgbench.
log "1/6 pgbench: $clients clients, ${secs}s (after a ${warm}s warm-up)"
fresh_db
PAYGATE_DATABASE_URL=$pgurl "$work/paygate" migrate >/dev/null
pg -d "$db" -f bench/payment-setup.sql >/dev/null
pgbench_args=(-n -M prepared -c "$clients" -j 2 -f bench/payment.sql)
# seq numbers each client's payments, so that ids grow with time as
# paygate's do; each run starts it past every earlier run's (milliseconds
# since 1970).
seq_now() { echo "seq=$(($(date +%s%N) / 1000000))"; }
if [ "$warm" -gt 0 ]; then
  "$pgbench" -h "$pghost" -p "$pgport" -U "$pguser" "${pgbench_args[@]}" -D "$(seq_now)" -T "$warm" "$db" >/dev/null 2>&1
fi
pg -d "$db" -c CHECKPOINT
read -r pgb_x0 pgb_w0 < <(db_stats)
begin_cpu
"$pgbench" -h "$pghost" -p "$pgport" -U "$pguser" "${pgbench_args[@]}" -D "$(seq_now)" -T "$secs" \
  --log --log-prefix="$work/pgbench-log" "$db" >"$work/pgbench.txt" 2>&1 ||
  { cat "$work/pgbench.txt" >&2; die "pgbench failed"; }
end_cpu pgb
sleep 1
read -r pgb_x1 pgb_w1 < <(db_stats)
pgb_tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/pgbench.txt")
[ -n "$pgb_tps" ] && pgb_tps=$(calc "$pgb_tps" 1)
pgb_done=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.txt")
pgb_failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pgbench.txt")
if [ -z "$pgb_tps" ] || [ -z "$pgb_done" ]; then
  cat "$work/pgbench.txt" >&2
  die "no tps in pgbench's output"
fi
# Per-payment latency from pgbench's log: the third field, in µs.
read -r pgb_p50 pgb_p95 pgb_p99 pgb_max < <(cat "$work"/pgbench-log.* | awk '{ print $3 }' | sort -n |
  awk '{ v[NR] = $1 } END { n = NR; split("0.50 0.95 0.99", q, " ");
    for (i = 1; i <= 3; i++) { r = int(q[i] * n); if (r < q[i] * n) r++; if (r < 1) r = 1; printf "%.1f ", v[r] / 1000 }
    printf "%.1f\n", v[n] / 1000 }')
pgb_xpp=$(calc "($pgb_x1 - $pgb_x0) / $pgb_done" 2)
pgb_wpp=$(calc "($pgb_w1 - $pgb_w0) / $pgb_done" 1)
log "pgbench: $pgb_tps payments/s, p99 $pgb_p99 ms"

# The floor, side by side: bench/minimal.sql, the same two commits in the
# same round trips with one small row each, for as long again.
log "1/6 pgbench, the floor: bench/minimal.sql, $clients clients, ${secs}s"
pg -d "$db" -c CHECKPOINT
"$pgbench" -h "$pghost" -p "$pgport" -U "$pguser" -n -M prepared -c "$clients" -j 2 -D "$(seq_now)" \
  -f bench/minimal.sql -T "$secs" "$db" >"$work/pgbench-minimal.txt" 2>&1 ||
  { cat "$work/pgbench-minimal.txt" >&2; die "pgbench (minimal) failed"; }
min_tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/pgbench-minimal.txt")
[ -n "$min_tps" ] || { cat "$work/pgbench-minimal.txt" >&2; die "no tps in pgbench's output (minimal)"; }
min_tps=$(calc "$min_tps" 1)
min_ratio=$(calc "$pgb_tps / $min_tps" 2)
log "pgbench minimal: $min_tps payments/s; payment.sql reaches $min_ratio of it"

# j NAME FILTER reads the load tool's JSON report of run NAME.
j() { jq -r "$2" "$work/load-$1.json"; }

# conns_sampler FILE: PostgreSQL's connections to the bench database, every
# quarter second, one count a line, until stopped (stop_sampler). The
# sampler's own connection is to another database.
conns_sampler() {
  while :; do
    pg -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'" >>"$1" 2>/dev/null || true
    sleep 0.25
  done
}

# What the next run_paygate does besides: instances of paygate (1, or 3 on
# the instance_ports), clients (default BENCH_CLIENTS), whether to sample
# PostgreSQL's connections into R[NAME.conns], and whether to check the
# ledger and the payments afterwards into R[NAME.verify].
instances=1
run_clients=""
sample_conns=""
verify=""

# run_paygate NAME DATABASE_URL [VAR=VALUE…]: serve, load, measure.
run_paygate() {
  local name=$1 url=$2
  shift 2
  local env=(
    PAYGATE_ENV=production PAYGATE_ADDR="127.0.0.1:$port" PAYGATE_DATABASE_URL="$url"
    PAYGATE_ENCRYPTION_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
    PAYGATE_FINGERPRINT_KEY="$(head -c 32 /dev/urandom | base64)"
    PAYGATE_ADMIN_TOKEN="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    PAYGATE_METRICS_TOKEN="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    PAYGATE_LOG_LEVEL=warn
    # Capacity is measured, not the rate limiter's ceiling: limits far above
    # any rate reached, with the limiter still in the path.
    PAYGATE_RATE_LIMIT=1000000 PAYGATE_IP_RATE_LIMIT=1000000
    PAYGATE_PPROF_ADDR="127.0.0.1:$pprof_port"
    "$@"
  )
  # Instance i listens on instance_ports[i]; only the first has the profiler.
  local i logs=() urls=() envs=()
  for ((i = 0; i < instances; i++)); do
    logs[i]="$work/server-$name.log"
    [ "$i" = 0 ] || logs[i]="$work/server-$name-$i.log"
    urls[i]="http://127.0.0.1:${instance_ports[i]}"
    envs[i]="PAYGATE_ADDR=127.0.0.1:${instance_ports[i]}"
    [ "$i" = 0 ] || envs[i]+=" PAYGATE_PPROF_ADDR="
    # shellcheck disable=SC2086 # envs[i]: words without spaces
    env "${env[@]}" ${envs[i]} "$work/paygate" serve >"${logs[i]}" 2>&1 &
    server_pids[i]=$!
  done
  for ((i = 0; i < instances; i++)); do
    for _ in $(seq 1 120); do
      # shellcheck disable=SC2086
      env "${env[@]}" ${envs[i]} "$work/paygate" healthcheck 2>/dev/null && break
      kill -0 "${server_pids[i]}" 2>/dev/null || { cat "${logs[i]}" >&2; die "paygate ($name, instance $((i + 1))) exited"; }
      sleep 0.5
    done
    # shellcheck disable=SC2086
    env "${env[@]}" ${envs[i]} "$work/paygate" healthcheck || { cat "${logs[i]}" >&2; die "paygate ($name, instance $((i + 1))) is not ready"; }
  done
  local key
  key=$(env "${env[@]}" "$work/paygate" merchants create --name "bench $name" | sed -n 's/^secret_key: //p')
  [ -n "$key" ] || die "no key from paygate merchants create"
  [ -z "$setup" ] || "$setup" "$key"
  local url_list
  url_list=$(IFS=,; echo "${urls[*]}")
  local load=("$work/paygate-load" -url "$url_list" -flow confirm -c "${run_clients:-$clients}" -warmup 0 -expect "$expect")
  local ids=()
  [ -z "$verify" ] || ids=(-ids "$work/ids-$name.txt")
  if [ "$warm" -gt 0 ]; then
    [ -z "$verify" ] || ids=(-ids "$work/ids-$name-warmup.txt")
    PAYGATE_KEY=$key "${load[@]}" "${ids[@]}" -d "${warm}s" -json >/dev/null 2>"$work/load-$name.err" ||
      { cat "$work/load-$name.err" >&2; die "paygate-load ($name) warm-up failed"; }
    [ -z "$verify" ] || ids=(-ids "$work/ids-$name.txt")
  fi
  # A CPU profile of the server over the measurement (run pg only; the
  # profiler samples at 100 Hz, a cost of about 1%).
  local prof_pid=""
  if [ "$name" = pg ]; then
    curl -fsS -o "$work/cpu-pg.pprof" "http://127.0.0.1:$pprof_port/debug/pprof/profile?seconds=$secs" &
    prof_pid=$!
  fi
  if [ -n "$sample_conns" ]; then
    : >"$work/conns-$name.txt"
    conns_sampler "$work/conns-$name.txt" &
    sampler_pid=$!
  fi
  begin_cpu
  PAYGATE_KEY=$key "${load[@]}" "${load_extra[@]}" "${ids[@]}" -d "${secs}s" -json >"$work/load-$name.json" 2>"$work/load-$name.err" ||
    { cat "$work/load-$name.err" "$work/load-$name.json" >&2; tail -n 20 "${logs[0]}" >&2; die "paygate-load ($name) failed"; }
  end_cpu "$name"
  if [ -n "$sample_conns" ]; then
    stop_sampler
    R[$name.conns]=$(sort -n "$work/conns-$name.txt" | tail -n 1)
    R[$name.conn_samples]=$(wc -l <"$work/conns-$name.txt")
  fi
  if [ -n "$prof_pid" ]; then
    wait "$prof_pid" || die "no CPU profile from paygate ($name)"
  fi
  # Peak RSS: of the largest instance, and of all together.
  local hwm max_kib=0 sum_kib=0
  for ((i = 0; i < instances; i++)); do
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/${server_pids[i]}/status")
    sum_kib=$((sum_kib + hwm))
    [ "$hwm" -gt "$max_kib" ] && max_kib=$hwm
  done
  R[$name.rss]=$(calc "$max_kib / 1024" 1)
  R[$name.rss_sum]=$(calc "$sum_kib / 1024" 1)
  stop_server
  for ((i = 0; i < instances; i++)); do
    grep -q '"level":"ERROR"' "${logs[i]}" && log "paygate ($name, instance $((i + 1))) logged errors: $(grep -c '"level":"ERROR"' "${logs[i]}")"
  done
  [ -z "$verify" ] || verify_run "$name" "${env[@]}"
  return 0
}

# verify_run NAME ENV…: after run NAME, with every instance stopped, the
# ledger balances and agrees with the payments (paygate ledger verify), and
# every payment a client was answered 201 for is in the database once,
# succeeded, with one payment.succeeded event; nothing else is there. The
# verdict goes to R[NAME.verify] ("ok" or what failed).
verify_run() {
  local name=$1
  shift
  local problems=() acked dup missing extra events
  env "$@" "$work/paygate" ledger verify >"$work/ledger-$name.txt" 2>&1 ||
    problems+=("ledger verify failed: $(grep -m 1 -E 'VIOLATION|error' "$work/ledger-$name.txt" || tail -n 1 "$work/ledger-$name.txt")")
  cat "$work"/ids-"$name"*.txt | sort >"$work/acked-$name.txt"
  acked=$(wc -l <"$work/acked-$name.txt")
  dup=$(uniq -d "$work/acked-$name.txt" | wc -l)
  pg -d "$db" -At -c "SELECT id FROM payments WHERE status = 'succeeded'" | sort >"$work/stored-$name.txt"
  missing=$(comm -23 <(uniq "$work/acked-$name.txt") "$work/stored-$name.txt" | wc -l)
  extra=$(pg -d "$db" -At -c "SELECT count(*) FROM payments") # every payment in the database…
  extra=$((extra - $(uniq "$work/acked-$name.txt" | wc -l)))  # …less those acknowledged
  events=$(pg -d "$db" -At -c "SELECT count(*) FROM (SELECT object_id FROM events WHERE type = 'payment.succeeded'
    GROUP BY object_id HAVING count(*) <> 1) AS repeated")
  [ "$dup" = 0 ] || problems+=("$dup payments acknowledged twice")
  [ "$missing" = 0 ] || problems+=("$missing acknowledged payments not succeeded in the database")
  [ "$extra" = 0 ] || problems+=("$extra payments in the database never acknowledged")
  [ "$events" = 0 ] || problems+=("$events payments with other than one payment.succeeded event")
  R[$name.acked]=$acked
  if [ ${#problems[@]} = 0 ]; then
    R[$name.verify]=ok
  else
    R[$name.verify]=$(IFS=';'; echo "${problems[*]}")
    log "run $name: ${R[$name.verify]}"
  fi
}

# 2. paygate on PostgreSQL.
log "2/6 paygate on PostgreSQL: $clients clients, ${secs}s (after a ${warm}s warm-up)"
fresh_db
read -r pg_x0 pg_w0 < <(db_stats)
run_paygate pg "$pgurl"
sleep 1 # the server's connections have closed and flushed their statistics
read -r pg_x1 pg_w1 < <(db_stats)
pg_payments=$(pg -d "$db" -At -c "SELECT count(*) FROM payments")
pg_xpp=$(calc "($pg_x1 - $pg_x0) / $pg_payments" 2)
pg_wpp=$(calc "($pg_w1 - $pg_w0) / $pg_payments" 1)
log "paygate on PostgreSQL: $(j pg .flows_per_s) payments/s, p99 $(j pg .latency_ms.p99) ms; $pg_payments payments, $((pg_x1 - pg_x0)) transactions"
pg -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null

# 2b. paygate on PostgreSQL at a fixed load, half the rate it just
# sustained: the latency a client sees when the server is not saturated
# (the 32 clients above never pause, so their latency is mostly queueing).
paced_rate=$(calc "$(j pg .flows_per_s) / 2" 0)
log "2b paygate on PostgreSQL at a fixed $paced_rate payments/s: $clients clients, ${secs}s"
fresh_db
load_extra=(-rate "$paced_rate")
run_paygate pgpaced "$pgurl"
load_extra=()
log "paygate on PostgreSQL at $paced_rate payments/s: p50 $(j pgpaced .latency_ms.p50) ms, p99 $(j pgpaced .latency_ms.p99) ms"
pg -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null

# 3. paygate on SQLite.
log "3/6 paygate on SQLite: $clients clients, ${secs}s (after a ${warm}s warm-up)"
run_paygate sqlite "sqlite:$work/bench.db" PAYGATE_ALLOW_SQLITE_IN_PRODUCTION=true
log "paygate on SQLite: $(j sqlite .flows_per_s) payments/s, p99 $(j sqlite .latency_ms.p99) ms"

# 4. paygate on PostgreSQL through the Stripe connector, against
# stripe-mock. stripe-mock validates each request against Stripe's API
# description and answers a canned object: the confirmed PaymentIntent comes
# back requires_payment_method, so every payment ends failed
# (processing_error), which the load expects. Development mode: production
# refuses a processor address on loopback.
log "4/6 paygate on PostgreSQL through Stripe (stripe-mock $stripe_mock_version): $clients clients, ${secs}s"
"$stripe_mock" -http-addr "127.0.0.1:$stripe_port" -https-addr "127.0.0.1:$((stripe_port + 1))" >"$work/stripe-mock.log" 2>&1 &
mock_pid=$!
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null -u sk_test_bench: "http://127.0.0.1:$stripe_port/v1/balance" 2>/dev/null && break
  kill -0 "$mock_pid" 2>/dev/null || { cat "$work/stripe-mock.log" >&2; die "stripe-mock exited"; }
  sleep 0.5
done
stripe_account() { # key: a Stripe account at stripe-mock, and every payment routed to it
  local ca
  ca=$(curl -fsS "http://127.0.0.1:$port/v1/connector_accounts" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"connector\":\"stripe\",\"base_url\":\"http://127.0.0.1:$stripe_port\",\"credentials\":{\"secret_key\":\"sk_test_benchbenchbenchbench\"}}" | jq -r .id)
  [[ $ca == ca_* ]] || die "no Stripe connector account: $ca"
  curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$port/v1/routing" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -d "{\"fallback\":[\"$ca\"]}" || die "routing to the Stripe account failed"
}
fresh_db
setup=stripe_account
expect=failed
run_paygate stripe "$pgurl" PAYGATE_ENV=development PAYGATE_DECLINE_LIMIT=0
setup=""
expect=succeeded
kill -TERM "$mock_pid" 2>/dev/null || true
wait "$mock_pid" 2>/dev/null || true
mock_pid=""
log "paygate through Stripe (stripe-mock): $(j stripe .flows_per_s) payments/s, p99 $(j stripe .latency_ms.p99) ms"
pg -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null

# 5. A slow processor (SPEC section 11): the sandbox takes
# BENCH_SLOW_LATENCY a call, BENCH_SLOW_CLIENTS clients. A connection held
# through the call would cap throughput at the pool's size / the latency;
# none is, so the database's limit (or clients / latency) is the bound.
slow_pool=$(pool_conns "$slow_max_conns")
log "5/6 paygate on PostgreSQL with a slow processor ($slow_latency a call): $slow_clients clients, ${secs}s"
fresh_db
run_clients=$slow_clients sample_conns=1 verify=1
run_paygate slow "$pgurl" PAYGATE_SANDBOX_LATENCY="$slow_latency" PAYGATE_DATABASE_MAX_CONNS="$slow_max_conns"
run_clients="" sample_conns="" verify=""
log "paygate with a slow processor: $(j slow .flows_per_s) payments/s, p99 $(j slow .latency_ms.p99) ms, peak RSS ${R[slow.rss]} MiB, at most ${R[slow.conns]} connections (pool $slow_pool)"
pg -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null

# 6. Three instances on one database, the clients spread over them (client
# i to instance i mod 3), each with its own built-in sandbox: a payment is
# confirmed within its one request.
multi_pool=$(pool_conns "$multi_max_conns")
log "6/6 three paygate instances on one PostgreSQL database: $clients clients spread over them, ${secs}s"
fresh_db
instances=3 sample_conns=1 verify=1
run_paygate multi "$pgurl" PAYGATE_DATABASE_MAX_CONNS="$multi_max_conns"
instances=1 sample_conns="" verify=""
log "three instances: $(j multi .flows_per_s) payments/s, p99 $(j multi .latency_ms.p99) ms; checks: ${R[multi.verify]}"
pg -d postgres -c "DROP DATABASE $db WITH (FORCE)" >/dev/null

# The report.
for n in pg pgpaced sqlite stripe slow multi; do
  R[$n.pps]=$(calc "$(j $n .flows_per_s)" 1)
  for q in p50 p95 p99 max; do
    R[$n.$q]=$(calc "$(j $n .latency_ms.$q)" 1)
  done
  # shellcheck disable=SC2016 # jq's variables
  R[$n.errors]=$(j $n '.error_count as $n | if $n == 0 then "0" else "\($n) (\([.errors | to_entries[] | "\(.key): \(.value)"] | join(", ")))" end')
done

ratio=$(calc "${R[pg.pps]} / $pgb_tps" 2)
sqlite_ratio=$(calc "${R[sqlite.pps]} / $pgb_tps" 2)
need=$(calc "$pgb_tps / 2" 0)
holds() { awk "BEGIN { exit !($1) }"; }
verdict_tput() { # payments/s
  if holds "$1 >= $pgb_tps / 2"; then
    echo "holds: $(calc "100 * $1 / $pgb_tps" 0)% of the limit"
  else
    echo "**missed** by $(calc "$need - $1" 0) payments/s: $(calc "100 * $1 / $pgb_tps" 0)% of the limit, half is $need"
  fi
}
verdict_p99() {
  if holds "$1 < 50"; then echo "holds: $1 ms"; else echo "**missed** by $(calc "$1 - 50" 1) ms: $1 ms"; fi
}
verdict_rss() {
  if holds "$1 < 150"; then echo "holds: $1 MiB"; else echo "**missed** by $(calc "$1 - 150" 1) MiB: $1 MiB"; fi
}
# Section 11: with the slow processor, 0.8 of what the database allows or
# of what the clients can ask (each waits the latency at least), whichever
# is lower; memory under 300 MiB; connections within the pool.
slow_ceiling=$(calc "$slow_clients * 1000 / $slow_latency_ms" 1)
slow_bound=$(awk "BEGIN { print ($pgb_tps < $slow_ceiling) ? $pgb_tps : $slow_ceiling }")
slow_need=$(calc "0.8 * $slow_bound" 0)
slow_bound_what="the pgbench limit"
holds "$slow_ceiling < $pgb_tps" && slow_bound_what="$slow_clients clients / $slow_latency"
verdict_slow_tput() {
  if holds "$1 >= 0.8 * $slow_bound"; then
    echo "holds: $1 payments/s, $(calc "$1 / $slow_bound" 2) of $slow_bound"
  else
    echo "**missed** by $(calc "$slow_need - $1" 0) payments/s: $1 payments/s, $(calc "$1 / $slow_bound" 2) of $slow_bound"
  fi
}
verdict_slow_rss() {
  if holds "$1 < 300"; then echo "holds: $1 MiB"; else echo "**missed** by $(calc "$1 - 300" 1) MiB: $1 MiB"; fi
}
verdict_conns() { # peak, pool
  if [ -z "$1" ]; then
    echo "**not measured** (no sample)"
  elif [ "$1" -le "$2" ]; then
    echo "holds: at most $1 of $2"
  else
    echo "**missed**: $1 connections, the pool is $2"
  fi
}
verdict_multi() {
  if holds "${R[multi.pps]} >= ${R[pg.pps]}"; then
    echo "holds: ${R[multi.pps]} payments/s, $(calc "${R[multi.pps]} / ${R[pg.pps]}" 2) × the single instance's ${R[pg.pps]}"
  else
    echo "**missed** by $(calc "${R[pg.pps]} - ${R[multi.pps]}" 0) payments/s: ${R[multi.pps]}, $(calc "${R[multi.pps]} / ${R[pg.pps]}" 2) × the single instance's ${R[pg.pps]}"
  fi
}
verdict_verify() { # run
  if [ "${R[$1.verify]}" = ok ]; then
    echo "holds: ledger verified; ${R[$1.acked]} payments acknowledged, each in the database once, succeeded, with one payment.succeeded event, and no other"
  else
    echo "**missed**: ${R[$1.verify]}"
  fi
}

[ -n "${BENCH_PROFILE:-}" ] && cp "$work/cpu-pg.pprof" "$BENCH_PROFILE"
# The profile, by package (flat: where the samples were) and by function.
go tool pprof -top -nodecount=100000 "$work/cpu-pg.pprof" >"$work/pprof-top.txt" 2>/dev/null ||
  die "go tool pprof could not read the CPU profile"
prof_duration=$(sed -n 's/^Duration: \(.*\)$/\1/p' "$work/pprof-top.txt")
prof_packages=$(awk '$2 ~ /%$/ && $6 != "" {
    name = $6; for (i = 7; i <= NF; i++) name = name " " $i
    slash = 0; for (i = 1; i <= length(name); i++) if (substr(name, i, 1) == "/") slash = i
    rest = substr(name, slash + 1); dot = index(rest, ".")
    pkg = dot ? substr(name, 1, slash + dot - 1) : name
    v = $2; sub(/%$/, "", v); by[pkg] += v
  } END { for (p in by) printf "%.1f %s\n", by[p], p }' "$work/pprof-top.txt" | sort -rn | head -n 12 |
  awk '{ printf "| `%s` | %s%% |\n", $2, $1 }')
# paygate's own functions by cumulative share: what each step of a
# request costs, database calls included.
prof_funcs=$(go tool pprof -top -cum -show=github.com/paygate/paygate/ -nodecount=40 "$work/cpu-pg.pprof" 2>/dev/null |
  awk 'f { name = $6; for (i = 7; i <= NF; i++) name = name " " $i
           sub(/^github\.com\/paygate\/paygate\/internal\//, "", name); sub(/\[go\.shape.*\]/, "", name)
           if (name !~ /\.func[0-9.]+$/) printf "| `%s` | %s |\n", name, $5 }
       /^ *flat +flat%/ { f = 1 }' | head -n 16)

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
hypervisor=$(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p')
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
# shellcheck disable=SC1091
os_name=$( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || uname -s)
sqlite_fs=$(df -T "$work" 2>/dev/null | awk 'NR == 2 { print $2 }')
pg_version=$(pg -d postgres -At -c 'SHOW server_version')
pg_settings=$(pg -d postgres -At -c "SELECT string_agg(name || ' ' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
  WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_sync_method', 'full_page_writes')")
go_version=$(go env GOVERSION)
paygate_version=$(git describe --always --dirty 2>/dev/null || echo unknown)
repro="BENCH_DURATION=${secs}s"
[ "$clients" = 32 ] || repro+=" BENCH_CLIENTS=$clients"
[ "$warm" = 3 ] || repro+=" BENCH_WARMUP=${warm}s"
[ "$slow_clients" = 1000 ] || repro+=" BENCH_SLOW_CLIENTS=$slow_clients"
[ "$slow_latency" = 300ms ] || repro+=" BENCH_SLOW_LATENCY=$slow_latency"
[ "$multi_max_conns" = 10 ] || repro+=" BENCH_MULTI_MAX_CONNS=$multi_max_conns"
repro+=" bash bench/run.sh"

mkdir -p "$(dirname "$out")"
cat >"$out" <<EOF
# Benchmarks

Generated by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') (paygate $paygate_version). Do not edit
by hand: run the script again. How the numbers are made, and what the
targets are: the SPEC (section 6) asks, on a 2-core machine with PostgreSQL on the
same machine, for \`POST /v1/payments\` (confirm, automatic capture, success
card, idempotency key) at **at least half the pgbench limit**, with **p99 under
50 ms at 32 clients** and the **server under 150 MiB**. Section 11 asks, with a
processor taking 300 ms a call and 1,000 concurrent clients, for **at least 0.8 of the
throughput the database allows, or of 1,000 / 0.3 s if lower**, with the **server under
300 MiB** and its **database connections within the configured pool**; and the design
(docs/design.md, section 9) for **three instances on one database to reach at least one
instance's throughput, losing nothing**.
$( [ -n "$note" ] && printf '\n> **Note.** %s\n' "$note" )

## Results

$clients clients, ${secs} s measured after a ${warm} s warm-up, every run on a fresh database.

| run | payments/s | p50 ms | p95 ms | p99 ms | max ms | errors | server peak RSS |
|---|---:|---:|---:|---:|---:|---|---:|
| pgbench, the limit | $pgb_tps | $pgb_p50 | $pgb_p95 | $pgb_p99 | $pgb_max | $pgb_failed | – |
| pgbench, the floor (bench/minimal.sql) | $min_tps | – | – | – | – | – | – |
| paygate + PostgreSQL | ${R[pg.pps]} | ${R[pg.p50]} | ${R[pg.p95]} | ${R[pg.p99]} | ${R[pg.max]} | ${R[pg.errors]} | ${R[pg.rss]} MiB |
| paygate + PostgreSQL, paced at $paced_rate/s | ${R[pgpaced.pps]} | ${R[pgpaced.p50]} | ${R[pgpaced.p95]} | ${R[pgpaced.p99]} | ${R[pgpaced.max]} | ${R[pgpaced.errors]} | ${R[pgpaced.rss]} MiB |
| paygate + SQLite | ${R[sqlite.pps]} | ${R[sqlite.p50]} | ${R[sqlite.p95]} | ${R[sqlite.p99]} | ${R[sqlite.max]} | ${R[sqlite.errors]} | ${R[sqlite.rss]} MiB |
| paygate + PostgreSQL through Stripe (stripe-mock) | ${R[stripe.pps]} | ${R[stripe.p50]} | ${R[stripe.p95]} | ${R[stripe.p99]} | ${R[stripe.max]} | ${R[stripe.errors]} | ${R[stripe.rss]} MiB |
| paygate + PostgreSQL, processor taking $slow_latency a call, $slow_clients clients | ${R[slow.pps]} | ${R[slow.p50]} | ${R[slow.p95]} | ${R[slow.p99]} | ${R[slow.max]} | ${R[slow.errors]} | ${R[slow.rss]} MiB |
| three paygate instances + PostgreSQL, $clients clients spread over them | ${R[multi.pps]} | ${R[multi.p50]} | ${R[multi.p95]} | ${R[multi.p99]} | ${R[multi.max]} | ${R[multi.errors]} | ${R[multi.rss]} MiB each at most, ${R[multi.rss_sum]} MiB together |

The Stripe row pays through the Stripe connector (stripe-go) against stripe-mock $stripe_mock_version on
loopback, which checks every request against Stripe's API description: two Stripe
calls a payment (the card's PaymentMethod, then the confirmed PaymentIntent).
stripe-mock answers canned objects, so each payment ends \`failed\` (the
PaymentIntent comes back \`requires_payment_method\`): the row measures paygate's cost
of a processor over HTTP, not Stripe's. It runs in development mode (production
refuses a processor on loopback), with the decline limiter off.

The slow-processor row is the SPEC's section 11: the built-in sandbox waits
\`PAYGATE_SANDBOX_LATENCY=$slow_latency\` before it answers each call, and $slow_clients clients never pause
(so at most $slow_ceiling payments/s could be asked for). paygate holds no database connection while a call is
in flight (two transactions around it), so its pool of $slow_max_conns (\`PAYGATE_DATABASE_MAX_CONNS\`, and
$((slow_pool - slow_max_conns)) for idempotency answers: $slow_pool) is not the bound: PostgreSQL's connections
to the bench database, counted every quarter second (${R[slow.conn_samples]} samples), peaked at ${R[slow.conns]}.

The three-instance row runs three \`paygate serve\` on one database (ports ${instance_ports[*]}), each with
\`PAYGATE_DATABASE_MAX_CONNS=$multi_max_conns\` (PostgreSQL connections: at most $((3 * multi_pool)); ${R[multi.conns]} seen), and
client i sends to instance i mod 3 (\`paygate-load -url\` with the three URLs). Each instance uses its
own built-in sandbox, which is enough here: a payment is confirmed within its one request, and no
instance recovers another's. After it, with
every instance stopped: \`paygate ledger verify\`, and the payments acknowledged (\`paygate-load -ids\`)
against the database.

The paced row is the same $clients clients held to a fixed start rate, half what paygate
sustained unpaced (\`paygate-load -rate\`): the latency of a server that is busy but
not saturated, where the unpaced rows measure mostly the queue of $clients requests.

- paygate / pgbench: **$ratio** on PostgreSQL ($sqlite_ratio on SQLite).
- pgbench's latency is one whole script (one payment, two commits); paygate's is one request.
- Transactions committed per payment in PostgreSQL (\`pg_stat_database\`, read-only ones included):
  pgbench $pgb_xpp, paygate $pg_xpp. Rows written per payment: pgbench $pgb_wpp, paygate $pg_wpp.
- The server's peak RSS is its \`VmHWM\` at the end of the run.
- What was changed to get here, step by step, and why: docs/design.md, section 9, "Measured".
- $clients clients that never pause keep $clients requests in flight, so the mean latency is
  $clients / throughput (Little's law): $(calc "1000 * $clients / $pgb_tps" 1) ms for pgbench, $(calc "1000 * $clients / ${R[pg.pps]}" 1) ms for paygate on
  PostgreSQL. A p99 under 50 ms at $clients clients needs well over $(calc "1000 * $clients / 50" 0) payments/s.

Where the CPU went, in cores of the machine's $ncpu, averaged over each measurement
(PostgreSQL: the whole server, other databases' work included; everything
else: the rest of the machine's busy time, other processes included):

| run | paygate | PostgreSQL | load generator | everything else | machine busy |
|---|---:|---:|---:|---:|---:|
| pgbench, the limit | – | ${R[pgb.pg]} | ${R[pgb.client]} (pgbench) | ${R[pgb.other]} | ${R[pgb.busy]}% |
| paygate + PostgreSQL | ${R[pg.server]} | ${R[pg.pg]} | ${R[pg.client]} (paygate-load) | ${R[pg.other]} | ${R[pg.busy]}% |
| paygate + SQLite | ${R[sqlite.server]} | ${R[sqlite.pg]} | ${R[sqlite.client]} (paygate-load) | ${R[sqlite.other]} | ${R[sqlite.busy]}% |
| paygate + PostgreSQL through Stripe | ${R[stripe.server]} | ${R[stripe.pg]} | ${R[stripe.client]} (paygate-load) | ${R[stripe.other]} | ${R[stripe.busy]}% |
| paygate + PostgreSQL, slow processor | ${R[slow.server]} | ${R[slow.pg]} | ${R[slow.client]} (paygate-load) | ${R[slow.other]} | ${R[slow.busy]}% |
| three paygate instances + PostgreSQL | ${R[multi.server]} (all three) | ${R[multi.pg]} | ${R[multi.client]} (paygate-load) | ${R[multi.other]} | ${R[multi.busy]}% |

## Where paygate's own CPU goes

A CPU profile of the server (\`PAYGATE_PPROF_ADDR\`, \`/debug/pprof/profile\`) over the
PostgreSQL run's measurement; $prof_duration (the percentage is of one core over the run's length). By package
where the samples landed (flat), then by paygate function with everything it calls (cumulative):

| package | share of paygate's CPU |
|---|---:|
$prof_packages

| paygate function (and what it calls) | share of paygate's CPU |
|---|---:|
$prof_funcs

## Targets (PostgreSQL)

| target | result |
|---|---|
| throughput at least half the pgbench limit ($need payments/s) | $(verdict_tput "${R[pg.pps]}") |
| p99 under 50 ms at $clients clients | $(verdict_p99 "${R[pg.p99]}") |
| server memory under 150 MiB | $(verdict_rss "${R[pg.rss]}") |

## Targets (scale, section 11)

| target | result |
|---|---|
| processor at $slow_latency a call, $slow_clients clients: at least 0.8 of $slow_bound_what ($slow_bound payments/s), $slow_need payments/s | $(verdict_slow_tput "${R[slow.pps]}") |
| the same: server memory under 300 MiB | $(verdict_slow_rss "${R[slow.rss]}") |
| the same: PostgreSQL connections within the configured pool ($slow_pool) | $(verdict_conns "${R[slow.conns]}" "$slow_pool") |
| the same: nothing lost | $(verdict_verify slow) |
| three instances on one database: at least the single instance's throughput | $(verdict_multi) |
| three instances: nothing lost, nothing twice | $(verdict_verify multi) |
| three instances: PostgreSQL connections within their pools ($((3 * multi_pool))) | $(verdict_conns "${R[multi.conns]}" "$((3 * multi_pool))") |
| bench/payment.sql at least 0.75 of bench/minimal.sql ($min_tps payments/s) | $(if holds "$min_ratio >= 0.75"; then echo "holds: $min_ratio"; else echo "**missed**: $min_ratio (see docs/design.md, \"What a payment writes\")"; fi) |
| paygate at least 0.9 of bench/payment.sql | $(if holds "$ratio >= 0.9"; then echo "holds: $ratio"; else echo "**missed**: $ratio"; fi) |

On SQLite (not a target, for comparison): throughput $(verdict_tput "${R[sqlite.pps]}"); p99 $(verdict_p99 "${R[sqlite.p99]}"); memory $(verdict_rss "${R[sqlite.rss]}").

## Machine

| | |
|---|---|
| CPU | $cpu_model, $(nproc) cores${hypervisor:+ (virtual machine, $hypervisor)} |
| memory | $mem_gib GiB |
| OS | $os_name, Linux $(uname -r) |
| Go | $go_version |
| PostgreSQL | $pg_version: $pg_settings |
| SQLite | the pure-Go driver paygate embeds, WAL, synchronous FULL, on ${sqlite_fs:-an unknown file system} |
| pgbench | $("$pgbench" --version) |
| load average at the start | $load_avg_start |

## Reproduce

\`\`\`sh
$repro
\`\`\`

It builds both commands (\`CGO_ENABLED=0 go build -trimpath\`), and needs PostgreSQL
on 127.0.0.1:5432 (user postgres; \`BENCH_PG*\` to change), pgbench and jq. The parts:

- limit: \`paygate migrate\` into a fresh database, \`bench/payment-setup.sql\`, then
  \`pgbench -n -M prepared -c $clients -j 2 -T $secs -f bench/payment.sql\`;
- paygate: \`paygate serve\` with \`PAYGATE_ENV=production\`, fresh encryption, fingerprint, admin and metrics keys,
  \`PAYGATE_LOG_LEVEL=warn\`, rate limits raised out of the way, on a fresh database;
  a merchant from \`paygate merchants create\`; then
  \`paygate-load -url http://127.0.0.1:$port -flow confirm -c $clients -d ${secs}s -json\`;
- slow processor: the same with \`PAYGATE_SANDBOX_LATENCY=$slow_latency\` and \`paygate-load -c $slow_clients\`
  (\`BENCH_SLOW_LATENCY\`, \`BENCH_SLOW_CLIENTS\`), \`pg_stat_activity\` sampled for the bench database;
- three instances: three \`paygate serve\` on ports ${instance_ports[*]} with \`PAYGATE_DATABASE_MAX_CONNS=$multi_max_conns\`,
  \`paygate-load -url http://127.0.0.1:${instance_ports[0]},http://127.0.0.1:${instance_ports[1]},http://127.0.0.1:${instance_ports[2]} -ids FILE\`,
  then \`paygate ledger verify\` and the ids against the \`payments\` and \`events\` tables.
EOF
# The browser pages' Lighthouse scores are measured by hand (issue 22).
if [ -f bench/lighthouse.md ]; then cat bench/lighthouse.md >>"$out"; fi
log "wrote $out"
printf '\npgbench %s payments/s | paygate+PostgreSQL %s payments/s (ratio %s), p99 %s ms, peak RSS %s MiB | paygate+SQLite %s payments/s, p99 %s ms, peak RSS %s MiB\n' \
  "$pgb_tps" "${R[pg.pps]}" "$ratio" "${R[pg.p99]}" "${R[pg.rss]}" "${R[sqlite.pps]}" "${R[sqlite.p99]}" "${R[sqlite.rss]}"
printf 'slow processor (%s, %s clients) %s payments/s (target %s), peak RSS %s MiB, at most %s of %s connections | three instances %s payments/s (single %s), %s\n' \
  "$slow_latency" "$slow_clients" "${R[slow.pps]}" "$slow_need" "${R[slow.rss]}" "${R[slow.conns]}" "$slow_pool" "${R[multi.pps]}" "${R[pg.pps]}" "${R[multi.verify]}"
