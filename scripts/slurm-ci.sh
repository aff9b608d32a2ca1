#!/usr/bin/env bash
# End-to-end test of examples/slurm/depth_sweep.sbatch on a real Slurm: installs Debian's
# slurm-wlm and munge if they are missing, starts munged, slurmctld and slurmd for one node
# on this machine (configuration, state and logs in a temporary folder), submits the
# example from a fresh copy of the working tree exactly as docs/clusters.md says, and checks:
#   - it runs with no preparation (no logs/ folder) and writes results-slurm/, leaving the
#     committed results/ untouched;
#   - overrides given once on the sbatch line reach every step: the summary shows every
#     run `done`, and the runs equal an unsharded run with the same overrides bit for bit;
#   - with the lowest task cancelled while held, the summary job is still queued;
#   - a task resubmitted alone (--array=2, then --array=0) runs only its own shard;
#   - a step array (--array=0-8:2) trains the whole sweep;
#   - a list array and an array that disagrees with the shard count are refused (exit 2)
#     before anything is trained or queued;
#   - a halving search (experiments/halving.toml, made tiny) as the array, two tasks at a
#     time, gives the summary of one process.
# Stops the daemons by their process ids at the end, also on failure. Run by .ci/run;
# needs root (slurmd runs jobs as their user, and apt-get installs).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
STARTED=$SECONDS
log() { echo "slurm-ci: $*"; }
fail() {
    echo "slurm-ci: FAILED: $*" >&2
    exit 1
}

# ---- Packages -------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    [[ $(id -u) == 0 ]] || fail "slurm-wlm and munge are not installed and this is not root; install them with: apt-get install slurm-wlm munge"
    log "installing Debian's slurm-wlm and munge"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends slurm-wlm munge; } >/tmp/slurm-ci-apt.log 2>&1; then
        tail -20 /tmp/slurm-ci-apt.log >&2
        fail "could not install slurm-wlm and munge with apt-get (log above, full log in /tmp/slurm-ci-apt.log); the Slurm example is untested"
    fi
fi
[[ $(id -u) == 0 ]] || fail "must run as root: slurmd has to start jobs"

# ---- A one-node cluster ---------------------------------------------------------------
T=$(mktemp -d /tmp/slurm-ci.XXXXXX)
chmod 711 "$T" # munged wants its socket's folder searchable by all
mkdir -p "$T/state" "$T/spool"
export SLURM_CONF=$T/slurm.conf

PIDS=()
stop_cluster() {
    local status=$?
    if [[ -e "$T/slurmctld.pid" ]]; then
        scancel --quiet --full --signal=KILL --user=root 2>/dev/null || true
    fi
    if ((status != 0)); then
        echo "---- squeue / jobs / daemon logs ----" >&2
        squeue 2>&1 | tail -20 >&2 || true
        scontrol -o show jobs 2>&1 | awk '{ line = ""
            for (i = 1; i <= NF; i++) if ($i ~ /^(JobId|ArrayTaskId|JobName|JobState|ExitCode)=/) line = line $i " "
            print line }' | tail -30 >&2 || true
        tail -n 25 "$T"/slurmctld.log "$T"/slurmd.log "$T"/munged.log >&2 2>/dev/null || true
        tail -n 15 "$T"/clone/slurm-*.out >&2 2>/dev/null || true
    fi
    for name in slurmd slurmctld munged; do
        [[ -s "$T/$name.pid" ]] && kill "$(cat "$T/$name.pid")" 2>/dev/null || true
    done
    for name in slurmd slurmctld munged; do
        if [[ -s "$T/$name.pid" ]]; then
            local pid
            # The daemon removes its pid file as it exits: gone since the test above.
            pid=$(cat "$T/$name.pid" 2>/dev/null) || continue
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    log "cluster stopped; $((SECONDS - STARTED)) s in all"
    rm -rf "$T"
    exit "$status"
}
trap stop_cluster EXIT

free_port() {
    local port
    for port in "$@"; do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    fail "no free port among $*"
}
CTLD_PORT=$(free_port 16817 26817 36817)
SLURMD_PORT=$(free_port 16818 26818 36818)

mungekey --create --keyfile="$T/munge.key" >/dev/null
munged --force --socket="$T/munge.sock" --key-file="$T/munge.key" --pid-file="$T/munged.pid" \
    --log-file="$T/munged.log" --seed-file="$T/munged.seed"

HOST=$(hostname -s)
NODE=$(slurmd -C | sed -n 1p) # NodeName=<host> CPUs=... RealMemory=...
cat >"$SLURM_CONF" <<EOF
ClusterName=runnerci
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$T/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=3600
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -i
slurmd
for _ in $(seq 100); do
    [[ $(sinfo -h -o %t 2>/dev/null) == idle ]] && break
    sleep 0.3
done
[[ $(sinfo -h -o %t) == idle ]] || fail "the node did not come up: $(sinfo 2>&1)"
log "one-node Slurm $(sinfo --version | cut -d' ' -f2) up after $((SECONDS - STARTED)) s"

# ---- The sweep and its reference -------------------------------------------------------
# The example from a fresh copy of the working tree: tracked and new files, no logs/, no
# data/, no results-slurm/; only the built runner added, as `cargo build --release` would.
cargo build --release --quiet
CLONE=$T/clone
mkdir "$CLONE"
git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - | tar -xf - -C "$CLONE"
mkdir -p "$CLONE/target/release"
cp target/release/runner "$CLONE/target/release/"
[[ ! -e "$CLONE/logs" && ! -e "$CLONE/results-slurm" ]] || fail "the copy is not fresh"
# The jobs inherit the submitting environment (sbatch's default): MNIST from the checkout's
# data folder, fetched by the reference run below if it is not there yet.
export RUNNER_DATA_DIR=${RUNNER_DATA_DIR:-$REPO/data}
SCRIPT=examples/slurm/depth_sweep.sbatch
SHARDS=$(sed -n 's/^export RUNNER_SHARD_COUNT=\([0-9]*\)$/\1/p' "$CLONE/$SCRIPT")
[[ $SHARDS == 5 ]] || fail "expected RUNNER_SHARD_COUNT=5 in $SCRIPT, found '$SHARDS'"
# Six tiny runs (so shard 0 has two of them and shard 5 none).
ARGS=(experiments/smoke.toml --set data.train_examples=400 --set train.epochs=2
    --set 'sweep.seed=[1,2,3]')
cd "$CLONE"
RUNNER=target/release/runner
"$RUNNER" --out "$T/reference" -q "${ARGS[@]}"
ids_of() { "$RUNNER" --dry-run "$@" "${ARGS[@]}" | sed '1,2d' | sed '/^[0-9,]* runs\{0,1\}$/,$d' | awk '{print $1}'; }
ALL_IDS=$(ids_of)
SHARD0_IDS=$(ids_of --shard "0/$SHARDS")
SHARD2_IDS=$(ids_of --shard "2/$SHARDS")
[[ $(wc -l <<<"$ALL_IDS") == 6 && $(wc -l <<<"$SHARD0_IDS") == 2 ]] || fail "unexpected sweep: $ALL_IDS"

wait_for_queue() {
    local deadline=$((SECONDS + $1))
    while [[ -n $(squeue -h -o %i) ]]; do
        ((SECONDS < deadline)) || fail "jobs still queued after $1 s: $(squeue)"
        sleep 0.5
    done
}
# "STATE EXITCODE" of array task $2 of job $1 (or of job $1 itself).
job_state() {
    scontrol -o show job "$1" | awk -v task="${2:-}" '
        !done && (task == "" || $0 ~ ("ArrayTaskId=" task " ")) {
            for (i = 1; i <= NF; i++) if ($i ~ /^(JobState|ExitCode)=/) { split($i, kv, "="); out = out kv[2] " " }
            print out; done = 1
        }'
}
expect_state() { # JOB TASK "STATE EXIT"
    local got
    got=$(job_state "$1" "$2")
    [[ $got == "$3 " ]] || fail "job $1 task $2: expected '$3', got '$got'"
}
# Status of each run in a summary, as "id status" lines.
statuses() {
    awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) {if ($i == "run_id") r = i; if ($i == "status") s = i}}
        NR > 1 {print $r, $s}' "$1/smoke/summary.csv" | sort
}
# Prints the summary without its `seconds` column (timings differ run to run).
summary_without_seconds() {
    awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "seconds") s = i}
        {line = ""; for (i = 1; i <= NF; i++) if (i != s) line = line $i ","; print line}' "$1"
}
same_as_reference() {
    local out=$1 id
    for id in $ALL_IDS; do
        cmp -s "$T/reference/smoke/$id/config.toml" "$out/smoke/$id/config.toml" ||
            fail "$out/smoke/$id/config.toml differs from the unsharded run's"
        cmp -s <(cut -d, -f1-3 "$T/reference/smoke/$id/metrics.csv") \
            <(cut -d, -f1-3 "$out/smoke/$id/metrics.csv") ||
            fail "$out/smoke/$id: costs differ from the unsharded run's"
    done
    cmp -s <(summary_without_seconds "$T/reference/smoke/summary.csv") \
        <(summary_without_seconds "$out/smoke/summary.csv") ||
        fail "$out/smoke/summary.csv differs from the unsharded run's: $(cat "$out/smoke/summary.csv")"
}

# ---- 1. As shipped, held, with the lowest task cancelled before it starts --------------
JOB=$(sbatch --parsable --hold "$SCRIPT" "${ARGS[@]}")
scancel "${JOB}_0"
scontrol release "$JOB"
wait_for_queue 120
# Slurm drops the record of a task cancelled before it started, or keeps it CANCELLED.
[[ $(job_state "$JOB" 0) == "" || $(job_state "$JOB" 0) == CANCELLED* ]] ||
    fail "task 0 should be cancelled: $(job_state "$JOB" 0)"
[[ ! -e "slurm-depth_sweep-${JOB}_0.out" ]] || fail "the cancelled task 0 ran"
for task in 1 2 3 4; do expect_state "$JOB" "$task" "COMPLETED 0:0"; done
SUMMARY_JOB=$(scontrol -o show jobs | awk '/JobName=depth_sweep_summary/ {sub("JobId=", "", $1); print $1}')
[[ $(wc -w <<<"$SUMMARY_JOB") == 1 ]] || fail "expected one summary job, got '$SUMMARY_JOB'"
expect_state "$SUMMARY_JOB" "" "COMPLETED 0:0"
[[ -e "slurm-depth_sweep-${JOB}_1.out" ]] || fail "no log slurm-depth_sweep-${JOB}_1.out"
[[ ! -e logs && ! -e results-slurm/.summary-queued-$JOB ]] || fail "left logs/ or the summary marker"
diff -r "$REPO/results" results >/dev/null || fail "the committed results/ changed"
want=$(for id in $ALL_IDS; do
    if grep -qx "$id" <<<"$SHARD0_IDS"; then echo "$id pending"; else echo "$id done"; fi
done | sort)
[[ $(statuses results-slurm) == "$want" ]] ||
    fail "after cancelling task 0 the summary should show its runs pending, the rest done: $(statuses results-slurm)"
log "case 1, 2, 5, 6: shipped script ran; summary queued although task 0 was cancelled ($((SECONDS - STARTED)) s)"

# ---- 2. Task 2 resubmitted alone runs shard 2 only; task 0 alone completes the sweep ----
RERUN=$(sbatch --parsable --array=2 "$SCRIPT" "${ARGS[@]}")
wait_for_queue 60
expect_state "$RERUN" 2 "COMPLETED 0:0"
shown=$(sed -n '/^id /,/ runs\?$/p' "slurm-depth_sweep-${RERUN}_2.out" | sed '1d;$d' | awk '{print $1}')
[[ "$shown" == "$SHARD2_IDS" ]] || fail "task 2 alone took '$shown', not shard 2's '$SHARD2_IDS'"
[[ $(statuses results-slurm) == "$want" ]] || fail "task 2 alone trained other shards' runs"
RERUN=$(sbatch --parsable --array=0 "$SCRIPT" "${ARGS[@]}")
wait_for_queue 60
expect_state "$RERUN" 0 "COMPLETED 0:0"
same_as_reference results-slurm
log "case 3: tasks 2 and 0 resubmitted alone ran their own shards; sweep done and equal to the unsharded run ($((SECONDS - STARTED)) s)"

# ---- 3. A step array; a list and a disagreeing count are refused -----------------------
STEP=$(OUT=$T/step sbatch --parsable --array=0-8:2 "$SCRIPT" "${ARGS[@]}")
# (One core each, so that two of the refused tasks start at a time.)
LIST=$(OUT=$T/list sbatch --parsable --cpus-per-task=1 --array=0-2,5,9 "$SCRIPT" "${ARGS[@]}")
SIX=$(OUT=$T/six sbatch --parsable --cpus-per-task=1 --array=0-5 "$SCRIPT" "${ARGS[@]}")
wait_for_queue 120
for task in 0 2 4 6 8; do expect_state "$STEP" "$task" "COMPLETED 0:0"; done
same_as_reference "$T/step"
for task in 0 1 2 5 9; do
    expect_state "$LIST" "$task" "FAILED 2:0"
    grep -q "Slurm runs a list of 5 task ids" "slurm-depth_sweep-${LIST}_$task.out" ||
        fail "task $task of --array=0-2,5,9 did not say why: $(cat "slurm-depth_sweep-${LIST}_$task.out")"
done
for task in 0 1 2 3 4 5; do
    expect_state "$SIX" "$task" "FAILED 2:0"
    grep -q "Slurm runs 6 array tasks (0-5) but the shard count is 5" "slurm-depth_sweep-${SIX}_$task.out" ||
        fail "task $task of --array=0-5 did not say why: $(cat "slurm-depth_sweep-${SIX}_$task.out")"
done
[[ ! -e "$T/list" && ! -e "$T/six" ]] || fail "a refused array wrote results or queued a summary"
log "case 4: step array done and equal to the unsharded run; list and 6-task arrays refused with exit 2 ($((SECONDS - STARTED)) s)"
# ---- 5. A halving search as an array: the cuts of one process -------------------------
# One core a task, so that two run at a time and the others queue: the first tasks finish
# each rung with the queued tasks' runs rather than wait for them at the barrier.
HALVING=(experiments/halving.toml --set data.train_examples=400 --set train.epochs=3
    --set search.trials=9 --set 'search.space.hidden={ choice = [[32], [64]] }'
    --set 'search.space.batch_size={ log_int = [64, 128] }')
"$RUNNER" --out "$T/halving-reference" -q "${HALVING[@]}"
HALF=$(OUT=$T/halving sbatch --parsable --cpus-per-task=1 "$SCRIPT" "${HALVING[@]}")
wait_for_queue 300
for task in 0 1 2 3 4; do expect_state "$HALF" "$task" "COMPLETED 0:0"; done
cmp -s <(summary_without_seconds "$T/halving-reference/halving/summary.csv") \
    <(summary_without_seconds "$T/halving/halving/summary.csv") ||
    fail "the array's halving summary differs from one process's: $(cat "$T/halving/halving/summary.csv")"
pruned=$(grep -c ',pruned,' "$T/halving/halving/summary.csv" || true)
done_runs=$(grep -c ',done,' "$T/halving/halving/summary.csv" || true)
[[ $pruned == 12 && $done_runs == 6 ]] ||
    fail "expected 3 of 9 trials (2 seeds each) promoted, got $done_runs runs done and $pruned pruned"
log "case 7: a halving search as a 5-task array made the cuts of one process ($((SECONDS - STARTED)) s)"
log "passed"
