#!/bin/bash
# A real SLURM test of deploy/slurm/intern-pilot.sbatch on this one machine (`make slurm-test`).
#
# Installs Debian's slurm-wlm and munge if missing, starts a private one-node cluster (its own
# munge key and socket, its own slurm.conf and ports, everything under $SLURM_TEST_DIR; nothing in
# /etc is changed and no system service is used), makes credentials with `intern init-auth`, then:
#   1. a pilot job (coordinator + 2 one-slot workers, tls+tcp://) runs a 6-trial campaign; every
#      trial must complete exactly once;
#   2. a pilot (tcp://) is stopped gracefully mid-trial (`scancel --batch --signal=USR1`, what its
#      --signal=B:USR1@... does before the time limit): the running attempts must be reported
#      `preempted`, nothing failed; then a coordinator started outside SLURM (asked over the
#      network with `intern status --coordinator`) and a workers-only pilot
#      (INTERN_COORDINATOR=...) finish the campaign, every trial completed exactly once;
#   3. a pilot with a 2-minute time limit and --signal=B:USR1@60 drains itself before the limit:
#      the job ends by itself (exit 75, not TIMEOUT), its running attempts `preempted`.
# It stops the daemons it started, also on failure. Runs as root (slurmd and munged need it).
#
#   deploy/slurm/test-cluster.sh            # INTERN_BIN defaults to .build/debug/intern
#   SLURM_TEST_KEEP=1 deploy/slurm/test-cluster.sh   # leave the cluster running afterwards
#   SLURM_TEST_QUICK=1 ...                  # skip part 3 (the time-limit drain, about a minute)
set -euo pipefail

started=$SECONDS
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
INTERN_BIN=${INTERN_BIN:-$repo/.build/debug/intern}
DIR=${SLURM_TEST_DIR:-/tmp/intern-slurm-test}
CTLD_PORT=${SLURM_TEST_CTLD_PORT:-16817}
SLURMD_PORT=${SLURM_TEST_SLURMD_PORT:-16818}
PILOT=$here/intern-pilot.sbatch

say() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - started)); }
dump_logs=0 # set once this run has started its own cluster: older logs would mislead
fail() {
    printf '\nFAIL: %s\n' "$*" >&2
    ((dump_logs)) && for f in "$DIR"/jobs/*.out; do [[ -e $f ]] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }; done
    ((dump_logs)) && for f in "$DIR"/log/slurmctld.log "$DIR"/log/slurmd.log "$DIR"/log/coordinator.log; do
        [[ -e $f ]] && { echo "--- $f (last lines)" >&2; tail -n 15 "$f" >&2; }
    done
    printf 'FAIL after %ds: %s\n' $((SECONDS - started)) "$*" >&2
    exit 1
}

[[ $(id -u) == 0 ]] || fail "run as root: this test starts munged, slurmctld and slurmd (in a container or a throwaway VM)"
[[ -x $INTERN_BIN ]] || fail "no intern executable at $INTERN_BIN: run \`make build\` (or set INTERN_BIN)"
INTERN_BIN=$(cd "$(dirname "$INTERN_BIN")" && pwd)/$(basename "$INTERN_BIN")

# --- Daemons: stop what a previous run left, start afresh --------------------------------------
stop_pidfile() { # NAME PIDFILE
    local pid
    [[ -s $2 ]] || return 0
    pid=$(<"$2")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && { echo "$1 (pid $pid) did not stop; SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
    rm -f "$2"
}
stop_all() {
    stop_pidfile "test coordinator" "$DIR/coordinator.pid"
    # Jobs of this private cluster still running (a failed or interrupted run): cancel them first,
    # so that no job step outlives its slurmd.
    local jobs
    if [[ -s $DIR/run/slurmctld.pid ]] && kill -0 "$(<"$DIR/run/slurmctld.pid")" 2>/dev/null; then
        jobs=$(SLURM_CONF=$DIR/slurm.conf squeue -h -o %i 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            echo "cancelling jobs left running: $jobs"
            # shellcheck disable=SC2086
            SLURM_CONF=$DIR/slurm.conf scancel $jobs || true
            for _ in $(seq 1 45); do
                [[ -z $(SLURM_CONF=$DIR/slurm.conf squeue -h -o %i 2>/dev/null) ]] && break
                sleep 1
            done
        fi
    fi
    stop_pidfile slurmd "$DIR/run/slurmd.pid"
    stop_pidfile slurmctld "$DIR/run/slurmctld.pid"
    stop_pidfile munged "$DIR/run/munged.pid"
}
cleanup() {
    local rc=$?
    if [[ ${SLURM_TEST_KEEP:-0} == 1 ]]; then
        echo "cluster left running (SLURM_TEST_KEEP=1): export SLURM_CONF=$DIR/slurm.conf; stop with: $0 --stop"
    else
        stop_all
    fi
    exit "$rc"
}
if [[ ${1:-} == --stop ]]; then stop_all; echo "stopped"; exit 0; fi

# --- Packages -----------------------------------------------------------------------------------
missing=()
for pkg in slurmctld slurmd slurm-client munge sqlite3 python3; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
fi
for tool in munged slurmctld slurmd sbatch squeue scontrol scancel sinfo; do
    command -v "$tool" >/dev/null || fail "$tool is not on PATH after installing slurm-wlm and munge"
done

say "starting a one-node cluster under $DIR"
stop_all
rm -rf "$DIR"
mkdir -p "$DIR"/{run,log,spool/ctld,spool/d,munge,jobs,campaigns,store}
chmod 755 "$DIR" "$DIR/munge"
trap cleanup EXIT
dump_logs=1

# munge: a fresh key of our own, our own socket (the system's munged, if any, is left alone).
dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$DIR/munge/munge.key"
MUNGE_SOCKET=$DIR/munge/munge.socket
munged --force --socket="$MUNGE_SOCKET" --key-file="$DIR/munge/munge.key" --log-file="$DIR/log/munged.log" \
    --pid-file="$DIR/run/munged.pid" --seed-file="$DIR/munge/munged.seed" || fail "munged did not start"
munge -S "$MUNGE_SOCKET" -n | unmunge -S "$MUNGE_SOCKET" >/dev/null || fail "munge cannot encode/decode with its own key"

NODE=$(hostname -s)
CPUS=$(nproc)
((CPUS >= 2)) || fail "the test needs 2 CPUs for 2 worker tasks (this host has $CPUS)"
getent hosts "$NODE" >/dev/null || fail "the host name $NODE does not resolve (add it to /etc/hosts)"
export SLURM_CONF=$DIR/slurm.conf
cat >"$SLURM_CONF" <<EOF
# Written by deploy/slurm/test-cluster.sh: a private one-node cluster, no cgroups, no accounting.
ClusterName=interntest
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
KillWait=30
MinJobAge=600
NodeName=$NODE CPUs=$CPUS State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start"
for _ in $(seq 1 50); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 0.2; done
scontrol ping | grep -q UP || fail "slurmctld does not answer"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"
state=""
for _ in $(seq 1 60); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.5
done
[[ $state == idle ]] || fail "node $NODE is '$state', not idle"
echo "slurm $(sinfo -V | awk '{print $2}'), node $NODE with $CPUS CPUs, idle"

# --- Helpers ---------------------------------------------------------------------------------------
export INTERN_BIN INTERN_ROOT=$DIR/store
# Credentials as in production: every pilot gets INTERN_AUTH_DIR (tls+tcp:// by default).
"$INTERN_BIN" init-auth "$DIR/auth" >/dev/null || fail "intern init-auth $DIR/auth failed"
export INTERN_AUTH_DIR=$DIR/auth
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }

# A campaign whose trials sleep SECONDS (in small steps, so a SIGTERM ends them at once) and
# report score=<trial>.
write_campaign() { # NAME TRIALS SECONDS
    cat >"$DIR/campaigns/$1.yaml" <<EOF
name: $1
command: [/usr/bin/python3, -c, "import sys, time\nfor i in range(int(float(sys.argv[2]) * 10)):\n    time.sleep(0.1)\nprint('METRIC score=%s' % sys.argv[1])", "{trial}", "{seconds}"]
space:
  seconds: [$3]
trials: $2
objective: {metric: score, direction: maximize}
metrics: {prefix: METRIC}
EOF
    echo "$DIR/campaigns/$1.yaml"
}

submit() { # sbatch arguments...
    sbatch --parsable --chdir="$DIR/campaigns" --output="$DIR/jobs/%x-%j.out" "$@" | cut -d';' -f1
}

wait_job() { # JOBID TIMEOUT_SECONDS
    local deadline=$((SECONDS + $2))
    while [[ -n $(squeue -h -j "$1" -o %i 2>/dev/null) ]]; do
        ((SECONDS < deadline)) || { scancel "$1" || true; fail "job $1 still running after $2 s"; }
        sleep 1
    done
}

job_field() { # JOBID FIELD -> e.g. JobState=COMPLETED
    scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | grep "^$2=" | head -n 1 | cut -d= -f2 || true
}

sql() { # CAMPAIGN QUERY
    sqlite3 -readonly "$INTERN_ROOT/$1/campaign.db" "$2"
}

# Every trial completed exactly once (one completed attempt each), checked through `intern trials`.
check_completed_once() { # CAMPAIGN TRIALS
    local json
    json=$("$INTERN_BIN" trials --dir "$INTERN_ROOT/$1" --json) || fail "intern trials --dir $INTERN_ROOT/$1 failed"
    python3 - "$2" "$json" <<'PY' || fail "campaign $1: not every trial completed"
import json, sys
want, trials = int(sys.argv[1]), json.loads(sys.argv[2])
bad = [t for t in trials if t["status"] != "completed"]
assert len(trials) == want, f"{len(trials)} trials, want {want}"
assert not bad, f"not completed: {[(t['trial'], t['status']) for t in bad]}"
print(f"intern trials: {len(trials)} of {want} completed")
PY
    local completed distinct
    completed=$(sql "$1" "select count(*) from attempts where status = 'succeeded'")
    distinct=$(sql "$1" "select count(distinct trial_id) from attempts where status = 'succeeded'")
    [[ $completed == "$2" && $distinct == "$2" ]] \
        || fail "campaign $1: $completed completed attempts over $distinct trials, want exactly one for each of $2"
    echo "attempts: one completed attempt per trial ($completed)"
}

# --- 1. A pilot runs a campaign -------------------------------------------------------------------
say "1. pilot job: coordinator + 2 workers, 6 trials"
spec=$(write_campaign slurm-smoke 6 1)
job=$(submit --job-name=smoke --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=10 \
    --export=ALL,INTERN_PORT="$(free_port)" "$PILOT" "$spec")
echo "submitted pilot job $job"
wait_job "$job" 180
[[ $(job_field "$job" JobState) == COMPLETED && $(job_field "$job" ExitCode) == 0:0 ]] \
    || fail "pilot job $job ended $(job_field "$job" JobState) with exit $(job_field "$job" ExitCode), want COMPLETED 0:0"
"$INTERN_BIN" status --dir "$INTERN_ROOT/slurm-smoke"
check_completed_once slurm-smoke 6
workers=$(sql slurm-smoke "select count(*) from workers where id like 'slurm-$job-%'")
[[ $workers == 2 ]] || fail "want 2 workers slurm-$job-*, the store has $workers"

# --- 2. A graceful stop mid-trial, then workers resubmitted ---------------------------------------
say "2. stop a pilot mid-trial (scancel --batch --signal=USR1), resubmit workers (tcp://)"
spec=$(write_campaign slurm-drain 4 10)
job=$(submit --job-name=drain --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=10 \
    --export=ALL,INTERN_SCHEME=tcp,INTERN_PORT="$(free_port)",INTERN_DRAIN_GRACE=2,INTERN_KILL_GRACE=2 "$PILOT" "$spec")
echo "submitted pilot job $job"
running=0
for _ in $(seq 1 120); do
    running=$(sql slurm-drain "select count(*) from attempts where status = 'running'" 2>/dev/null || echo 0)
    [[ $running == 2 ]] && break
    sleep 0.5
done
[[ $running == 2 ]] || fail "the pilot never had 2 attempts running"
sleep 1
echo "2 attempts running: scancel --batch --signal=USR1 $job"
scancel --batch --signal=USR1 "$job"
wait_job "$job" 60
[[ $(job_field "$job" ExitCode) == 75:0 ]] || fail "the stopped pilot exited $(job_field "$job" ExitCode), want 75:0 (stopped before the end)"
preempted=$(sql slurm-drain "select count(*) from attempts where status = 'preempted'")
failed=$(sql slurm-drain "select count(*) from attempts where status not in ('preempted', 'succeeded')")
[[ $preempted == 2 && $failed == 0 ]] \
    || fail "want 2 preempted attempts and no other ends; got: $(sql slurm-drain "select trial_id, status, failure_class, failure_reason from attempts")"
echo "2 attempts preempted, none failed or lost"

port=$(free_port)
"$INTERN_BIN" coordinator "$spec" --listen "tcp://0.0.0.0:$port" --root "$INTERN_ROOT" --auth "$INTERN_AUTH_DIR" \
    >"$DIR/log/coordinator.log" 2>&1 &
echo $! >"$DIR/coordinator.pid"
# The admin path over the network, with the same credentials as the workers.
remote=""
for _ in $(seq 1 20); do
    remote=$("$INTERN_BIN" status --coordinator "tcp://$NODE:$port" --auth "$INTERN_AUTH_DIR" 2>&1) && break
    sleep 0.5
done
grep -q "4 total" <<<"$remote" || fail "intern status --coordinator tcp://$NODE:$port did not answer: $remote"
echo "intern status --coordinator tcp://$NODE:$port: $(grep '^trials' <<<"$remote")"
job=$(submit --job-name=workers --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=10 \
    --export=ALL,INTERN_COORDINATOR="tcp://$NODE:$port" "$PILOT")
echo "coordinator outside SLURM on tcp://$NODE:$port, workers-only pilot job $job"
wait_job "$job" 120
[[ $(job_field "$job" ExitCode) == 0:0 ]] || fail "workers-only pilot $job exited $(job_field "$job" ExitCode)"
coordinator=$(<"$DIR/coordinator.pid")
for _ in $(seq 1 50); do kill -0 "$coordinator" 2>/dev/null || break; sleep 0.2; done
kill -0 "$coordinator" 2>/dev/null && fail "the coordinator is still running after the campaign"
wait "$coordinator" || fail "the coordinator exited with $?"
rm -f "$DIR/coordinator.pid"
"$INTERN_BIN" status --dir "$INTERN_ROOT/slurm-drain"
check_completed_once slurm-drain 4
preempted=$(sql slurm-drain "select count(*) from attempts where status = 'preempted'")
[[ $preempted == 2 ]] || fail "want the 2 preempted attempts kept, got $preempted"

# --- 3. The time limit: --signal=B:USR1@60 drains the pilot before SLURM kills it -----------------
if [[ ${SLURM_TEST_QUICK:-0} != 1 ]]; then
    say "3. a 2-minute pilot with --signal=B:USR1@60 drains itself before its time limit"
    spec=$(write_campaign slurm-walltime 4 300)
    job=$(submit --job-name=walltime --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=2 --signal=B:USR1@60 \
        --export=ALL,INTERN_PORT="$(free_port)",INTERN_DRAIN_GRACE=5,INTERN_KILL_GRACE=5,INTERN_SIGNAL_LEAD=60 "$PILOT" "$spec")
    echo "submitted pilot job $job (time limit 2 min; SLURM signals it 60-90 s before)"
    wait_job "$job" 150
    state=$(job_field "$job" JobState) code=$(job_field "$job" ExitCode)
    [[ $state != TIMEOUT && $code == 75:0 ]] || fail "the time-limited pilot ended $state with $code, want exit 75:0 before the limit"
    preempted=$(sql slurm-walltime "select count(*) from attempts where status = 'preempted'")
    other=$(sql slurm-walltime "select count(*) from attempts where status <> 'preempted'")
    [[ $preempted == 2 && $other == 0 ]] \
        || fail "want 2 preempted attempts; got: $(sql slurm-walltime "select trial_id, status, failure_class from attempts")"
    echo "job $job ended $state ($code) after $(job_field "$job" RunTime) of its 2:00, 2 attempts preempted"
    grep 'SIGUSR1' "$DIR/jobs/walltime-$job.out" | head -n 1
fi

say "PASS"
printf 'slurm-test passed in %d s\n' $((SECONDS - started))
