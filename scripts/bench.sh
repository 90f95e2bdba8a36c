#!/usr/bin/env bash
# Benchmarks sidecard against redis-server on this machine, with one client for both
# (sidecar-loadgen: the same pipelined loop and per-request cost for both, over a Unix socket):
#   - requests/s and p50/p99 latency of sidecar.ping vs PING at C=1 D=1, C=50 D=1 and C=50 D=16
#   - the same ping runs against nio-floor (Benchmarks/NIOFloor): a SwiftNIO server that only counts
#     frames and copies a canned reply, the ceiling of any SwiftNIO server here, vs PING
#   - state.get vs GET and state.set (durable: acknowledged after the SQLite commit) vs SET of a
#     64-byte string at C=50 D=1
#   - cache.get answered from L1 vs GET, and cache.set vs SET, of a 64-byte string at C=50 D=1 and
#     C=50 D=16 (the main daemon has no --redis: its cache is L1 only)
#   - the L2 path: per-request latency (C=1 D=1) of a cache.get that misses L1 and is answered
#     from Redis by a second daemon, over a direct GET to the same Redis
#   - change-to-notification latency (state.set sent -> state.changed read) with 1 and with 100
#     subscribers of the written path, one writer doing one set at a time
#   - cold start: connect -> first reply through systemd-socket-activate (median of runs)
#   - idle RSS of a fresh daemon after a few pings
#   - the task scheduler, on a daemon of its own (fresh data directory, default --workers 10: its
#     built-in pool runs every sidecar.noop submitted):
#       - queue latency on the idle daemon: one sidecar.noop at a time (C=1), the client's
#         tasks.submit acknowledgement and tasks.submit -> tasks.wait round trip p50/p99, and the
#         daemon's queueLatencyMs p50/p99 (start - max(runAt, createdAt)) from tasks.metrics
#       - submit throughput, acknowledged after the commit: tasks.submit of a sidecar.noop at C=50
#         D=1 and D=16, tasks.submitMany of 100 at C=4 D=1, in tasks/s, with the tasks the daemon
#         ran in the same window; vs LPUSH of the same task JSON (one value, or 100 in one LPUSH)
#       - end to end, submit -> done: the built-in pool (tasks.submitMany batches of sidecar.noop),
#         and 4 external worker connections (tasks.claim max 100 wait 1, then tasks.complete per
#         task) on bench.work tasks; vs a plain Redis list (LPUSH batches by a producer, BRPOP by
#         4 consumers, not durable), in tasks/s
# and prints each figure next to its target. The report also goes to bench-results/latest.txt.
#
# Run after a release build (`make bench` does both):  swift build -c release && scripts/bench.sh
#
# Environment:
#   BENCH_SECONDS    measured seconds per run (default 5)
#   BENCH_ROUNDS     runs of each target per throughput row, taking turns (default 3); the
#                    figure is each target's median run (by requests/s), so that one run on a
#                    busy moment of a shared machine does not set the ratio
#   BENCH_WARMUP     warm-up seconds per run, not counted (default 1)
#   BENCH_COLD_RUNS  cold-start runs (default 10)
#   BENCH_NOTIFY_WRITES  counted writes per notification-latency run (default 2000; the run also
#                    stops after BENCH_SECONDS)
#   BENCH_THREADS    event loop threads of the driver (default 1, to leave the CPU to the servers)
#   SIDECARD_ARGS    extra flags for sidecard, e.g. "--threads 1"
#   BENCH_PIN        none (default) | same | split: CPU placement, identical for both servers.
#                    same: servers and driver all on CPU 0; split: servers on CPU 0, driver on
#                    the other CPUs. Unpinned, a single connection's latency depends on whether
#                    the scheduler puts client and server on one CPU or two (in a VM a cross-CPU
#                    wake-up can cost tens of µs), so the C=1 row can differ from run to run.
#   BIN_DIR          where sidecard, sidecar-loadgen and nio-floor are (default .build/release)
#   BENCH_ONLY       unset: every row; tasks: only the task scheduler's rows (and their targets)
#   BENCH_TASK_BATCH tasks per tasks.submitMany / values per LPUSH in the task rows (default 100)
#   BENCH_TASK_WORKERS  external worker (and Redis consumer) connections end to end (default 4)
set -euo pipefail

cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
warmup=${BENCH_WARMUP:-1}
cold_runs=${BENCH_COLD_RUNS:-10}
notify_writes=${BENCH_NOTIFY_WRITES:-2000}
driver_threads=${BENCH_THREADS:-1}
bin_dir=${BIN_DIR:-.build/release}
pin=${BENCH_PIN:-none}
read -r -a sidecard_args <<<"${SIDECARD_ARGS:-}"
only=${BENCH_ONLY:-}
task_batch=${BENCH_TASK_BATCH:-100}
task_workers=${BENCH_TASK_WORKERS:-4}
case $only in
    "" | tasks) ;;
    *) echo "bench: BENCH_ONLY must be unset or 'tasks', not '$only'." >&2; exit 1 ;;
esac

# want SECTION: whether a section runs: core (every row but the tasks) or tasks.
want() {
    [[ -z $only || $only == "$1" ]]
}

sidecard=$bin_dir/sidecard
loadgen=$bin_dir/sidecar-loadgen
floor=$bin_dir/nio-floor

die() { echo "bench: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

binaries=("$sidecard" "$loadgen")
want core && binaries+=("$floor")
for binary in "${binaries[@]}"; do
    [[ -x $binary ]] || die "$binary is missing; run 'swift build -c release' first (or 'make bench')."
done
command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server); it is the baseline."

# Command prefixes that place the servers and the driver on CPUs (see BENCH_PIN).
server_cpus=()
driver_cpus=()
case $pin in
    none) ;;
    same | split)
        command -v taskset >/dev/null || die "BENCH_PIN=$pin needs taskset (util-linux)."
        cpus=$(nproc)
        server_cpus=(taskset -c 0)
        if [[ $pin == same ]]; then
            driver_cpus=(taskset -c 0)
        else
            ((cpus >= 2)) || die "BENCH_PIN=split needs at least 2 CPUs."
            driver_cpus=(taskset -c "1-$((cpus - 1))")
        fi
        ;;
    *) die "BENCH_PIN must be none, same or split, not '$pin'." ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sidecar-bench.XXXXXX")
pids=()

# stop PID: ends a process this script started and forgets it.
stop() {
    local pid=$1 kept=() other
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for other in "${pids[@]}"; do
        [[ $other == "$pid" ]] || kept+=("$other")
    done
    pids=("${kept[@]}")
}

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_for_socket PATH PID: until PATH is a socket, while PID lives, for at most 10 s.
wait_for_socket() {
    local path=$1 pid=$2 tries=200
    while ((tries-- > 0)); do
        [[ -S $path ]] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# probe TARGET SOCKET: one request, one reply; prints the connect -> reply time in µs.
probe() {
    "${driver_cpus[@]}" "$loadgen" --target "$1" --socket "$2" --cold-start --json --timeout 5 | json_field coldStartMicros
}

# json_field KEY: a number from the flat JSON object on stdin.
json_field() {
    sed -n "s/.*\"$1\":\(-\{0,1\}[0-9.eE+]*\).*/\1/p"
}

# rss_mb PID: resident memory in MB, from /proc.
rss_mb() {
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# cpu_ticks PID: the user + system CPU time PID has used, in clock ticks (from /proc).
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo ""
}

# divide A B: A/B with two decimals, or "n/a".
divide() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# print_pair_row LABEL RUN: one report row from $tmp/sidecar-RUN.json and $tmp/redis-RUN.json;
# leaves s_rps, r_rps, s_p50 and r_p50 set for the targets.
print_pair_row() {
    local s=$tmp/sidecar-$2.json r=$tmp/redis-$2.json s_p99 r_p99
    s_rps=$(json_field requestsPerSecond <"$s")
    r_rps=$(json_field requestsPerSecond <"$r")
    s_p50=$(json_field p50Micros <"$s")
    s_p99=$(json_field p99Micros <"$s")
    r_p50=$(json_field p50Micros <"$r")
    r_p99=$(json_field p99Micros <"$r")
    printf '%-20s %14s %14s %7s %20s %20s %9s\n' "$1" \
        "${s_rps:-failed}" "${r_rps:-failed}" "$(divide "$s_rps" "$r_rps")x" \
        "${s_p50:-?} / ${s_p99:-?}" "${r_p50:-?} / ${r_p99:-?}" "$(divide "$s_p50" "$r_p50")x"
}

# row_name OPERATION C D: the part of a row's JSON file names after TARGET- (as run writes them).
row_name() {
    if [[ $1 == ping ]]; then echo "$2-$3"; else echo "$1-$2-$3"; fi
}

# row_label OPERATION C D: a row's label in the report.
row_label() {
    case $1 in
        ping) echo "C=$2 D=$3" ;;
        cache-*) echo "${1/-/.} C=$2 D=$3" ;;
        *) echo "$1 C=$2 D=$3" ;;
    esac
}

# verdict VALUE OP LIMIT: "met" or "NOT met".
verdict() {
    awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
        if (v == "n/a" || v == "") { print "not measured"; exit }
        ok = (op == ">=") ? (v + 0 >= l + 0) : (op == "<=") ? (v + 0 <= l + 0) : (v + 0 < l + 0)
        print ok ? "met" : "NOT met"
    }'
}

# MARK: - Servers

redis_socket=$tmp/redis.sock
"${server_cpus[@]}" redis-server --port 0 --unixsocket "$redis_socket" --unixsocketperm 700 \
    --save '' --appendonly no --daemonize no --logfile "$tmp/redis.log" &
redis_pid=$!
pids+=("$redis_pid")

wait_for_socket "$redis_socket" "$redis_pid" || { cat "$tmp/redis.log" >&2; die "redis-server did not start"; }
probe redis "$redis_socket" >/dev/null || die "redis-server does not answer PING"
redis_idle_rss=$(rss_mb "$redis_pid")

# run TARGET SOCKET C D [OPERATION [FLAG...]]: one load run (OPERATION ping, get, set, ...;
# default ping; FLAGs go to sidecar-loadgen); its JSON goes to $tmp/TARGET-C-D.json for ping,
# $tmp/TARGET-OPERATION-C-D.json otherwise. With server_pid set, the JSON also gets that
# process's CPU time per request ("serverCpuMicros").
run() {
    local target=$1 socket=$2 connections=$3 depth=$4 operation=${5:-ping}
    local extra=("${@:6}")
    local out protocol=$target
    # nio-floor speaks sidecard's protocol.
    [[ $target == floor ]] && protocol=sidecar
    out=$(run_file "$target" "$connections" "$depth" "$operation")
    note "$target $operation  C=$connections D=$depth  (${seconds}s + ${warmup}s warm-up)"
    "${driver_cpus[@]}" "$loadgen" --target "$protocol" --socket "$socket" --operation "$operation" \
        --connections "$connections" --depth "$depth" \
        --duration "$seconds" --warmup "$warmup" --threads "$driver_threads" --json "${extra[@]}" >"$out" &
    local driver=$! before="" after=""
    if [[ -n ${server_pid:-} ]]; then
        # The server's CPU time over the measured window (the driver counts replies from the end
        # of its warm-up for --duration seconds; the driver's start-up shifts both ends alike).
        sleep "$warmup"
        before=$(cpu_ticks "$server_pid")
        sleep "$seconds"
        after=$(cpu_ticks "$server_pid")
    fi
    if ! wait "$driver"; then
        note "the $target $operation run at C=$connections D=$depth failed"
        : >"$out"
    elif [[ -n $before && -n $after ]]; then
        add_server_cpu "$out" "$((after - before))"
    fi
}

# add_server_cpu FILE TICKS: adds "serverCpuMicros", the server's CPU time (user + system) per
# request over the measured window, TICKS clock ticks in all, to the run's JSON in FILE.
add_server_cpu() {
    local requests micros
    requests=$(json_field requests <"$1")
    [[ -n $requests && $requests != 0 ]] || return 0
    micros=$(awk -v t="$2" -v hz="$(getconf CLK_TCK)" -v n="$requests" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')
    sed -i "s/}\$/,\"serverCpuMicros\":$micros}/" "$1"
}

# run_file TARGET C D [OPERATION]: where run writes that run's JSON.
run_file() {
    echo "$tmp/$1-$(row_name "${4:-ping}" "$2" "$3").json"
}

# keep_round TARGET C D OPERATION ROUND: sets the run just made aside as round ROUND.
keep_round() {
    local out
    out=$(run_file "$1" "$2" "$3" "$4")
    mv "$out" "$out.$5"
}

# keep_median TARGET C D OPERATION: the round with the median requests/s (of those that did not
# fail) becomes the row's JSON, and the report names every round's requests/s.
keep_median() {
    local out file rate
    out=$(run_file "$1" "$2" "$3" "$4")
    local -a ranked=()
    for file in "$out".*; do
        rate=$(json_field requestsPerSecond <"$file")
        [[ -n $rate ]] && ranked+=("$rate $file")
    done
    if ((${#ranked[@]} == 0)); then
        : >"$out"
    else
        local middle
        middle=$(printf '%s\n' "${ranked[@]}" | sort -n | sed -n "$(((${#ranked[@]} + 1) / 2))p")
        cp "${middle#* }" "$out"
        printf '%s\n' "${ranked[@]}" | sort -n | awk '{ printf "%s%.0f", (NR > 1 ? " " : ""), $1 }' >"$out.rounds"
    fi
    rm -f "$out".[0-9]*
}

if want core; then
    # Every daemon of the bench keeps its database in the temp directory, never in the user's.
    sidecar_socket=$tmp/sidecar.sock
    "${server_cpus[@]}" "$sidecard" --socket "$sidecar_socket" --data-dir "$tmp/data" "${sidecard_args[@]}" \
        2>"$tmp/sidecard.log" &
    sidecard_pid=$!
    pids+=("$sidecard_pid")
    wait_for_socket "$sidecar_socket" "$sidecard_pid" || { cat "$tmp/sidecard.log" >&2; die "sidecard did not start"; }
    probe sidecar "$sidecar_socket" >/dev/null || { cat "$tmp/sidecard.log" >&2; die "sidecard does not answer sidecar.ping"; }
    floor_socket=$tmp/floor.sock
    "${server_cpus[@]}" "$floor" "$floor_socket" 2>"$tmp/floor.log" &
    floor_pid=$!
    pids+=("$floor_pid")
    wait_for_socket "$floor_socket" "$floor_pid" || { cat "$tmp/floor.log" >&2; die "nio-floor did not start"; }

    # MARK: - Throughput and latency

    # Each row: BENCH_ROUNDS runs of each server, taking turns (which goes first alternates by
    # row and by round, so that neither always runs on a warmer machine); each server's median
    # run is its figure.
    rows=("ping 1 1" "ping 50 1" "ping 50 16")
    # State rows: state.get/GET and state.set/SET of a 64-byte value.
    rows+=("get 50 1" "set 50 1")
    # Cache rows: cache.get of a key set once before the run (without expiry), which every reply
    # must answer from L1 (sidecar-loadgen fails the run otherwise), vs GET; cache.set vs SET; both of
    # a 64-byte value, at C=50 without and with pipelining.
    rows+=("cache-get 50 1" "cache-get 50 16" "cache-set 50 1" "cache-set 50 16")
    # The ping rows at C=50 also run nio-floor in each round, between the two servers.
    floor_rows=("ping 50 1" "ping 50 16")
    for index in "${!rows[@]}"; do
        read -r operation connections depth <<<"${rows[$index]}"
        targets=(sidecar redis)
        [[ " ${floor_rows[*]} " == *" ${rows[$index]} "* ]] && targets=(sidecar floor redis)
        for ((round = 1; round <= rounds; round++)); do
            order=("${targets[@]}")
            if (((index + round) % 2 == 0)); then
                order=()
                for ((t = ${#targets[@]} - 1; t >= 0; t--)); do order+=("${targets[$t]}"); done
            fi
            for target in "${order[@]}"; do
                case $target in
                    sidecar) socket=$sidecar_socket server_pid=$sidecard_pid ;;
                    floor) socket=$floor_socket server_pid=$floor_pid ;;
                    redis) socket=$redis_socket server_pid=$redis_pid ;;
                esac
                run "$target" "$socket" "$connections" "$depth" "$operation"
            done
            server_pid=
            for target in "${targets[@]}"; do
                keep_round "$target" "$connections" "$depth" "$operation" "$round"
            done
        done
        for target in "${targets[@]}"; do
            keep_median "$target" "$connections" "$depth" "$operation"
        done
    done
    stop "$floor_pid"

    # MARK: - The L2 path

    # A second daemon, on the same Redis, whose every cache.get misses L1 and is answered by Redis.
    # With --cache-l1-bytes 1 every entry is larger than L1's byte bound, so L1 stores nothing:
    # neither the cache.set before the run (which still writes through to Redis) nor the fill after
    # an L2 hit. (An L1 of one entry would not do: with one key the first L2 hit fills L1 and every
    # later get is an L1 hit; alternating two keys over many connections still lets two requests for
    # the same key follow each other and hit.) The operation cache-get-l2 fails the run on any reply
    # that does not say tier "l2", so the premise is checked, not assumed. Its cache keys live under
    # the daemon's prefix ("sidecar:bench:key"), apart from the GET runs' key. Per-request latency is
    # the figure: one connection, one request at a time, against GET of the same Redis at C=1 D=1.
    l2_socket=$tmp/sidecar-l2.sock
    "${server_cpus[@]}" "$sidecard" --socket "$l2_socket" --data-dir "$tmp/l2-data" \
        --redis "unix://$redis_socket" --cache-l1-bytes 1 "${sidecard_args[@]}" 2>"$tmp/sidecard-l2.log" &
    l2_pid=$!
    pids+=("$l2_pid")
    l2_rows=("cache-get-l2 1 1")
    if wait_for_socket "$l2_socket" "$l2_pid" && probe sidecar "$l2_socket" >/dev/null; then
        for row in "${l2_rows[@]}"; do
            read -r operation connections depth <<<"$row"
            run sidecar "$l2_socket" "$connections" "$depth" "$operation"
            run redis "$redis_socket" "$connections" "$depth" "$operation"
        done
    else
        cat "$tmp/sidecard-l2.log" >&2
        note "the daemon for the L2 path did not start: L2 path not measured"
        for row in "${l2_rows[@]}"; do
            read -r operation connections depth <<<"$row"
            : >"$tmp/sidecar-$operation-$connections-$depth.json"
            : >"$tmp/redis-$operation-$connections-$depth.json"
        done
    fi
    stop "$l2_pid"

    # MARK: - Notification latency

    # notify N: state.set -> state.changed latency with N subscribers; JSON in $tmp/notify-N.json.
    notify_counts=(1 100)
    notify() {
        local subscribers=$1 out=$tmp/notify-$1.json
        note "sidecar notification latency, $subscribers subscriber(s)  ($notify_writes writes, at most ${seconds}s + ${warmup}s warm-up)"
        if ! "${driver_cpus[@]}" "$loadgen" --target sidecar --socket "$sidecar_socket" --notify-latency \
            --subscribers "$subscribers" --writes "$notify_writes" --duration "$seconds" --warmup "$warmup" \
            --threads "$driver_threads" --json >"$out"; then
            note "the notification latency run with $subscribers subscriber(s) failed"
            : >"$out"
        fi
    }
    for subscribers in "${notify_counts[@]}"; do
        notify "$subscribers"
    done

    sidecard_loaded_rss=$(rss_mb "$sidecard_pid")
    redis_loaded_rss=$(rss_mb "$redis_pid")

    # MARK: - Cold start through socket activation

    cold_start_median=n/a
    cold_samples=()
    if command -v systemd-socket-activate >/dev/null; then
        for ((run_index = 1; run_index <= cold_runs; run_index++)); do
            socket=$tmp/activate-$run_index.sock
            "${server_cpus[@]}" systemd-socket-activate -l "$socket" "$sidecard" --socket "$socket" \
                --data-dir "$tmp/activate-data" "${sidecard_args[@]}" 2>>"$tmp/activate.log" &
            activator_pid=$!
            pids+=("$activator_pid")
            if wait_for_socket "$socket" "$activator_pid" && micros=$(probe sidecar "$socket") && [[ -n $micros ]]; then
                cold_samples+=("$micros")
            else
                note "cold start run $run_index failed"
            fi
            # The activator has exec'd into sidecard by now: this stops the daemon itself.
            stop "$activator_pid"
        done
        if ((${#cold_samples[@]} > 0)); then
            cold_start_median=$(printf '%s\n' "${cold_samples[@]}" | sort -n |
                awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.1f", m / 1000 }')
        fi
    else
        note "systemd-socket-activate not found: cold start not measured"
    fi

    # MARK: - Idle memory

    idle_socket=$tmp/idle.sock
    "${server_cpus[@]}" "$sidecard" --socket "$idle_socket" --data-dir "$tmp/idle-data" "${sidecard_args[@]}" \
        2>"$tmp/idle.log" &
    idle_pid=$!
    pids+=("$idle_pid")
    sidecard_idle_rss=n/a
    if wait_for_socket "$idle_socket" "$idle_pid"; then
        for _ in 1 2 3 4 5; do probe sidecar "$idle_socket" >/dev/null || true; done
        sleep 1
        sidecard_idle_rss=$(rss_mb "$idle_pid")
    fi
    stop "$idle_pid"

fi

# MARK: - Tasks

# A daemon of its own, so that its queue-latency samples (the newest 10,000 starts) and its
# database hold the task rows only. Its pool (default --workers 10) runs every sidecar.noop.
task_rows=("tasks-submit 50 1" "tasks-submit 50 16" "tasks-submit-many 4 1")
flow_rows=("sidecar 0" "sidecar $task_workers" "redis $task_workers")
if want tasks; then
    tasks_socket=$tmp/tasks.sock
    "${server_cpus[@]}" "$sidecard" --socket "$tasks_socket" --data-dir "$tmp/tasks-data" "${sidecard_args[@]}" \
        2>"$tmp/sidecard-tasks.log" &
    tasks_pid=$!
    pids+=("$tasks_pid")
    if wait_for_socket "$tasks_socket" "$tasks_pid" && probe sidecar "$tasks_socket" >/dev/null; then
        # First, while the daemon is idle and its samples are empty.
        note "sidecar queue latency, one sidecar.noop at a time  (${seconds}s + ${warmup}s warm-up)"
        if ! "${driver_cpus[@]}" "$loadgen" --target sidecar --socket "$tasks_socket" --queue-latency \
            --duration "$seconds" --warmup "$warmup" --json >"$tmp/tasks-latency.json"; then
            note "the queue latency run failed"
            : >"$tmp/tasks-latency.json"
        fi

        for index in "${!task_rows[@]}"; do
            read -r operation connections depth <<<"${task_rows[$index]}"
            if ((index % 2 == 0)); then
                run sidecar "$tasks_socket" "$connections" "$depth" "$operation" --batch "$task_batch"
                run redis "$redis_socket" "$connections" "$depth" "$operation" --batch "$task_batch"
            else
                run redis "$redis_socket" "$connections" "$depth" "$operation" --batch "$task_batch"
                run sidecar "$tasks_socket" "$connections" "$depth" "$operation" --batch "$task_batch"
            fi
        done

        # Tasks end to end, one row per "TARGET WORKERS" (WORKERS 0: the built-in pool); JSON in
        # $tmp/flow-TARGET-WORKERS.json. The producer keeps 4 batches open.
        for row in "${flow_rows[@]}"; do
            read -r target workers <<<"$row"
            socket=$tasks_socket
            if [[ $target == redis ]]; then socket=$redis_socket; fi
            out=$tmp/flow-$target-$workers.json
            note "$target end to end, $workers worker(s)  (${seconds}s + ${warmup}s warm-up, then the rest)"
            if ! "${driver_cpus[@]}" "$loadgen" --target "$target" --socket "$socket" --end-to-end \
                --workers "$workers" --batch "$task_batch" --depth 4 --claim-max 100 \
                --duration "$seconds" --warmup "$warmup" --json >"$out"; then
                note "the $target end-to-end run with $workers worker(s) failed"
                : >"$out"
            fi
        done
    else
        cat "$tmp/sidecard-tasks.log" >&2
        note "the daemon for the task rows did not start: tasks not measured"
        : >"$tmp/tasks-latency.json"
        for row in "${task_rows[@]}"; do
            read -r operation connections depth <<<"$row"
            : >"$tmp/sidecar-$operation-$connections-$depth.json"
            : >"$tmp/redis-$operation-$connections-$depth.json"
        done
        for row in "${flow_rows[@]}"; do
            read -r target workers <<<"$row"
            : >"$tmp/flow-$target-$workers.json"
        done
    fi
    stop "$tasks_pid"
    tasks_load=$(cut -d' ' -f1-3 /proc/loadavg)
fi

# MARK: - Report

report=$tmp/report.txt
{
    echo "sidecar benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || uname -m)"
    echo "each run: ${seconds}s measured after ${warmup}s warm-up; driver: sidecar-loadgen, $driver_threads thread(s);" \
        "sidecard ${SIDECARD_ARGS:-(default flags)}; CPU pinning: $pin; redis $(redis-server --version | awk '{ print $3 }' | tr -d 'v=')"
    [[ -z $only ]] || echo "rows: $only only (BENCH_ONLY=$only)"
    echo
    if want core; then
        # The µ takes two bytes and printf counts bytes: those two columns are one wider.
        printf '%-20s %14s %14s %7s %21s %21s %9s\n' \
            row "sidecar req/s" "redis req/s" ratio "sidecar p50/p99 µs" "redis p50/p99 µs" "p50 ratio"
        for row in "${rows[@]}"; do
            read -r operation connections depth <<<"$row"
            print_pair_row "$(row_label "$operation" "$connections" "$depth")" "$(row_name "$operation" "$connections" "$depth")"
            case "$operation-$connections-$depth" in
                ping-50-1) ratio_50_1=$(divide "$s_rps" "$r_rps") ;;
                ping-50-16) ratio_50_16=$(divide "$s_rps" "$r_rps") ;;
                ping-1-1) p50_ratio_1_1=$(divide "$s_p50" "$r_p50") ;;
                get-50-1) ratio_get=$(divide "$s_rps" "$r_rps") ;;
                set-50-1) ratio_set=$(divide "$s_rps" "$r_rps") ;;
                cache-get-50-1) ratio_cache_get_50_1=$(divide "$s_rps" "$r_rps") ;;
                cache-get-50-16) ratio_cache_get_50_16=$(divide "$s_rps" "$r_rps") ;;
            esac
        done
        echo "  (get: state.get vs GET; set: state.set, acknowledged after its SQLite commit, vs SET; 64-byte value)"
        echo "  (cache.get: answered from L1, vs GET; cache.set: L1 only (no --redis), vs SET; 64-byte value, no expiry)"
        echo "  (each figure is the median of $rounds runs per server, taken in turns; every run's requests/s:)"
        for row in "${rows[@]}"; do
            read -r operation connections depth <<<"$row"
            name=$(row_name "$operation" "$connections" "$depth")
            printf '    %-20s sidecar %s | redis %s\n' "$(row_label "$operation" "$connections" "$depth")" \
                "$(cat "$tmp/sidecar-$name.json.rounds" 2>/dev/null || echo failed)" \
                "$(cat "$tmp/redis-$name.json.rounds" 2>/dev/null || echo failed)"
        done
        echo "  (server CPU per request, user + system from /proc, in each median run: µs)"
        for row in "${rows[@]}"; do
            read -r operation connections depth <<<"$row"
            name=$(row_name "$operation" "$connections" "$depth")
            s_cpu=$(json_field serverCpuMicros <"$tmp/sidecar-$name.json")
            r_cpu=$(json_field serverCpuMicros <"$tmp/redis-$name.json")
            f_cpu=""
            [[ -s $tmp/floor-$name.json ]] && f_cpu=$(json_field serverCpuMicros <"$tmp/floor-$name.json")
            printf '    %-20s sidecar %s | redis %s%s\n' "$(row_label "$operation" "$connections" "$depth")" \
                "${s_cpu:-?}" "${r_cpu:-?}" "${f_cpu:+ | nio-floor $f_cpu}"
        done
        echo
        echo "SwiftNIO's ceiling: nio-floor (one event loop that counts frames and copies a canned reply, no parsing)," \
            "same driver, same rounds:"
        for row in "${floor_rows[@]}"; do
            read -r operation connections depth <<<"$row"
            name=$(row_name "$operation" "$connections" "$depth")
            f_rps=$(json_field requestsPerSecond <"$tmp/floor-$name.json")
            s_rps=$(json_field requestsPerSecond <"$tmp/sidecar-$name.json")
            r_rps=$(json_field requestsPerSecond <"$tmp/redis-$name.json")
            printf '  %-12s nio-floor %s req/s = %sx redis; sidecar reaches %sx of it  (runs: %s)\n' \
                "C=$connections D=$depth" "${f_rps:-failed}" "$(divide "$f_rps" "$r_rps")" "$(divide "$s_rps" "$f_rps")" \
                "$(cat "$tmp/floor-$name.json.rounds" 2>/dev/null || echo failed)"
        done
        echo
        for row in "${l2_rows[@]}"; do
            read -r operation connections depth <<<"$row"
            s=$tmp/sidecar-$operation-$connections-$depth.json
            r=$tmp/redis-$operation-$connections-$depth.json
            s_p50=$(json_field p50Micros <"$s")
            s_p99=$(json_field p99Micros <"$s")
            r_p50=$(json_field p50Micros <"$r")
            r_p99=$(json_field p99Micros <"$r")
            added=n/a
            [[ -n $s_p50 && -n $r_p50 ]] && added=$(awk -v s="$s_p50" -v r="$r_p50" 'BEGIN { printf "%+.1f", s - r }')
            echo "L2 path (cache.get missing L1, answered from Redis by sidecard; C=$connections D=$depth):"
            printf '  sidecar p50/p99 %s / %s µs; direct GET p50/p99 %s / %s µs; p50 %sx GET (%s µs per request)\n' \
                "${s_p50:-?}" "${s_p99:-?}" "${r_p50:-?}" "${r_p99:-?}" "$(divide "$s_p50" "$r_p50")" "$added"
        done
        echo
        echo "notification latency (state.set sent -> state.changed read; one writer, one set at a time):"
        for subscribers in "${notify_counts[@]}"; do
            n=$tmp/notify-$subscribers.json
            n_p50=$(json_field p50Micros <"$n")
            n_p99=$(json_field p99Micros <"$n")
            n_writes=$(json_field writes <"$n")
            n_deliveries=$(json_field deliveries <"$n")
            n_expected=$(json_field expectedDeliveries <"$n")
            printf '  %3s subscriber(s): p50 %s µs  p99 %s µs  (%s deliveries of %s, %s writes)\n' "$subscribers" \
                "${n_p50:-?}" "${n_p99:-?}" "${n_deliveries:-?}" "${n_expected:-?}" "${n_writes:-?}"
            if [[ $subscribers == 1 ]]; then notify_p99_1=${n_p99:-}; fi
        done
        echo
        echo "cold start (connect -> first sidecar.ping reply, socket-activated): median ${cold_start_median} ms" \
            "of ${#cold_samples[@]} runs${cold_samples[*]:+ (runs, ms: $(printf '%s\n' "${cold_samples[@]}" | awk '{ printf "%s%.1f", (NR > 1 ? " " : ""), $1 / 1000 }'))}"
        echo "idle RSS: sidecard ${sidecard_idle_rss} MB (fresh, after 5 pings); redis-server ${redis_idle_rss} MB (fresh)"
        echo "RSS after the runs: sidecard ${sidecard_loaded_rss} MB; redis-server ${redis_loaded_rss} MB"
        echo
    fi
    if want tasks; then
        echo "tasks (a daemon of its own, default --workers 10: its built-in pool runs every sidecar.noop submitted;" \
            "load average after the task rows: ${tasks_load:-?}):"
        printf '%-30s %15s %15s %7s %21s %21s %13s\n' \
            row "sidecar tasks/s" "redis tasks/s" ratio "sidecar p50/p99 µs" "redis p50/p99 µs" "daemon ran/s"
        for row in "${task_rows[@]}"; do
            read -r operation connections depth <<<"$row"
            s=$tmp/sidecar-$operation-$connections-$depth.json
            r=$tmp/redis-$operation-$connections-$depth.json
            s_tps=$(json_field itemsPerSecond <"$s")
            r_tps=$(json_field itemsPerSecond <"$r")
            s_p50=$(json_field p50Micros <"$s")
            s_p99=$(json_field p99Micros <"$s")
            r_p50=$(json_field p50Micros <"$r")
            r_p99=$(json_field p99Micros <"$r")
            s_ran=$(json_field daemonSucceededPerSecond <"$s")
            name="tasks.submit"
            if [[ $operation == tasks-submit-many ]]; then name="tasks.submitMany ×$task_batch"; fi
            printf '%-31s %15s %15s %7s %20s %20s %13s\n' "$name C=$connections D=$depth" \
                "${s_tps:-failed}" "${r_tps:-failed}" "$(divide "$s_tps" "$r_tps")x" \
                "${s_p50:-?} / ${s_p99:-?}" "${r_p50:-?} / ${r_p99:-?}" "${s_ran:-?}"
            if [[ $operation == tasks-submit-many ]]; then submit_many_tps=${s_tps:-}; fi
        done
        echo "  (sidecar: a sidecar.noop with a 64-byte payload, acknowledged after the commit that stores it; redis: LPUSH"
        echo "   of the same task JSON, one value or $task_batch in one LPUSH, not durable; daemon ran/s: sidecar.noop tasks"
        echo "   its pool ran in the same window, from tasks.metrics)"
        echo
        echo "end to end (submit -> done; one producer: tasks.submitMany / LPUSH of $task_batch, 4 batches open):"
        printf '  %-70s %11s %9s\n' "" "tasks/s" "vs redis"
        r_flow=$(json_field tasksPerSecond <"$tmp/flow-redis-$task_workers.json")
        for row in "${flow_rows[@]}"; do
            read -r target workers <<<"$row"
            f_tps=$(json_field tasksPerSecond <"$tmp/flow-$target-$workers.json")
            case "$target-$workers" in
                sidecar-0)
                    label="sidecar, built-in pool (sidecar.noop)"
                    flow_pool_tps=${f_tps:-}
                    ;;
                sidecar-*)
                    label="sidecar, $workers workers (tasks.claim max 100 wait 1, tasks.complete each)"
                    flow_workers_tps=${f_tps:-}
                    ;;
                *) label="redis list, $workers consumers (BRPOP, 100 in flight each; reference)" ;;
            esac
            printf '  %-70s %11s %9s\n' "$label" "${f_tps:-failed}" "$(divide "$f_tps" "$r_flow")x"
        done
        echo
        l=$tmp/tasks-latency.json
        echo "queue latency (idle daemon, one sidecar.noop at a time, C=1; $(json_field tasks <"$l") tasks):"
        printf '  tasks.submit acked p50/p99 %s / %s µs; tasks.submit -> tasks.wait answered p50/p99 %s / %s µs\n' \
            "$(json_field submitP50Micros <"$l")" "$(json_field submitP99Micros <"$l")" \
            "$(json_field roundTripP50Micros <"$l")" "$(json_field roundTripP99Micros <"$l")"
        latency_p50=$(json_field queueLatencyP50Ms <"$l")
        latency_p99=$(json_field queueLatencyP99Ms <"$l")
        printf '  daemon queueLatencyMs (start - max(runAt, createdAt), whole ms) p50/p99 %s / %s ms\n' \
            "${latency_p50:-?}" "${latency_p99:-?}"
        echo
    fi
    echo "targets:"
    targets=()
    if want core; then
        targets+=(
            "throughput C=50 D=1  >= 1.0x redis" "${ratio_50_1:-n/a}x" "$(verdict "${ratio_50_1:-n/a}" ">=" 1.0)"
            "throughput C=50 D=16 >= 0.5x redis" "${ratio_50_16:-n/a}x" "$(verdict "${ratio_50_16:-n/a}" ">=" 0.5)"
            "p50 latency C=1 D=1  <= 1.2x redis" "${p50_ratio_1_1:-n/a}x" "$(verdict "${p50_ratio_1_1:-n/a}" "<=" 1.2)"
            "state.get C=50 D=1   >= 1.0x redis GET" "${ratio_get:-n/a}x" "$(verdict "${ratio_get:-n/a}" ">=" 1.0)"
            "state.set C=50 D=1   >= 0.5x redis SET" "${ratio_set:-n/a}x" "$(verdict "${ratio_set:-n/a}" ">=" 0.5)"
            "cache.get L1 C=50 D=1  >= 1.0x redis GET" "${ratio_cache_get_50_1:-n/a}x" "$(verdict "${ratio_cache_get_50_1:-n/a}" ">=" 1.0)"
            "cache.get L1 C=50 D=16 >= 1.0x redis GET" "${ratio_cache_get_50_16:-n/a}x" "$(verdict "${ratio_cache_get_50_16:-n/a}" ">=" 1.0)"
            "notify p99, 1 subscriber < 1 ms" "${notify_p99_1:-n/a} µs" "$(verdict "${notify_p99_1:-n/a}" "<" 1000)"
            "cold start median    < 50 ms" "$cold_start_median ms" "$(verdict "$cold_start_median" "<" 50)"
            "idle RSS             < 20 MB" "$sidecard_idle_rss MB" "$(verdict "$sidecard_idle_rss" "<" 20)"
        )
    fi
    if want tasks; then
        targets+=(
            "tasks.submitMany ×$task_batch C=4 D=1 >= 50k tasks/s" "${submit_many_tps:-n/a}"
            "$(verdict "${submit_many_tps:-n/a}" ">=" 50000)"
            "end to end, built-in pool >= 20k tasks/s" "${flow_pool_tps:-n/a}" "$(verdict "${flow_pool_tps:-n/a}" ">=" 20000)"
            "end to end, $task_workers workers >= 20k tasks/s" "${flow_workers_tps:-n/a}"
            "$(verdict "${flow_workers_tps:-n/a}" ">=" 20000)"
        )
    fi
    printf '  %-44s %8s  %s\n' "${targets[@]}"
} >"$report"

mkdir -p bench-results
cp "$report" bench-results/latest.txt
cat "$report"
echo
echo "(also written to bench-results/latest.txt)"
