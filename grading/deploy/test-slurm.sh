#!/usr/bin/env bash
# End-to-end test of the Slurm recipe on one machine: starts a private single-node Slurm (munged,
# slurmctld and slurmd on localhost, its own config, ports and state under $WORK), grades a small
# class (the reference solutions as a folder, the skeleton as an archive) through slurm-submit.sh
# (a job array of N shards and the merge), grades the same class unsharded with the same seed, and
# checks that both wrote the same results. Stops the daemons at the end. Needs root (slurmd runs jobs as their user) and installs slurm-wlm and munge with
# apt-get where they are missing (Debian 12 ships Slurm 22.05).
#
#   grading/deploy/test-slurm.sh            # from anywhere; 5-10 minutes on 2 cores
#
# Settings: WORK (scratch, [/tmp/raftlab-slurm-test]; its target/ holds the grader's builds and
# is kept for the next run), PARTS [2a], RUNS [2], N [3], SEED [7], PORT [16817: slurmctld; slurmd
# uses PORT+1], TIMEOUT [3600 s for the jobs], GRADER_ARGS (e.g. --no-sandbox where user namespaces are missing).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
WORK=${WORK:-/tmp/raftlab-slurm-test}
PARTS=${PARTS:-2a} RUNS=${RUNS:-2} N=${N:-3} SEED=${SEED:-7} PORT=${PORT:-16817}
GRADER_ARGS=${GRADER_ARGS:-}
START=$(date +%s)
say() { echo "test-slurm [$(($(date +%s) - START)) s]: $*"; }
fail() { echo "test-slurm: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root: slurmd starts jobs as their user"

# --- Slurm and munge ---------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends slurm-wlm munge >/dev/null; } \
    || fail "cannot install slurm-wlm and munge with apt-get"
fi

# --- the grader --------------------------------------------------------------------------------
say "building the grader (release)"
(cd "$REPO" && nice -n 10 cargo build --release -q -p grading)
GRADER=$REPO/target/release/grading

# --- the class: the reference solutions and the skeleton, as submission folders ----------------
rm -rf "$WORK/class" "$WORK/sharded" "$WORK/sharded-shards" "$WORK/unsharded" "$WORK/slurm"
mkdir -p "$WORK/class"
student_files=$(sed -n '/student_files:/,/\]/p' "$REPO/labspec/src/parts.rs" | grep -o '"[^"]*"' | tr -d '"')
[ -n "$student_files" ] || fail "no student files found in labspec/src/parts.rs"
# The skeleton comes as an archive with a top folder, as GitHub exports a repository.
rm -rf "$WORK/skeleton-main"
for f in $student_files; do
  mkdir -p "$WORK/class/reference/$(dirname "$f")" "$WORK/skeleton-main/$(dirname "$f")"
  # A student file x/src/f.rs has its reference solution in x/src/reference/f.rs.
  cp "$REPO/$(dirname "$f")/reference/$(basename "$f")" "$WORK/class/reference/$f"
  cp "$REPO/$f" "$WORK/skeleton-main/$f"
done
tar -czf "$WORK/class/skeleton.tar.gz" -C "$WORK" skeleton-main

# --- a private single-node Slurm ---------------------------------------------------------------
S=$WORK/slurm
mkdir -p "$S/munge" "$S/state" "$S/spool" "$S/log"
chmod 711 "$S/munge"
head -c 1024 /dev/urandom >"$S/munge/key"
chmod 400 "$S/munge/key"
node=$(hostname -s)
cat >"$S/slurm.conf" <<CONF
ClusterName=raftlab-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/socket
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=3600
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$S/slurm.conf

# Stops the three daemons this script started (by their pid files) and waits for them to end.
stop_daemons() {
  local pids=() f p
  for f in "$S/slurmd.pid" "$S/slurmctld.pid" "$S/munge/pid"; do
    if [ -s "$f" ]; then pids+=("$(cat "$f")"); fi
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 30); do
    local alive=0
    for p in "${pids[@]}"; do
      # A daemon that ended may stay a zombie until init reaps it.
      if grep -qs '^State:[[:space:]]*[^Z]' "/proc/$p/status"; then alive=1; fi
    done
    [ "$alive" = 1 ] || return 0
    sleep 1
  done
}
trap stop_daemons EXIT

say "starting munged, slurmctld and slurmd (config $SLURM_CONF)"
munged --force --key-file="$S/munge/key" --socket="$S/munge/socket" --pid-file="$S/munge/pid" \
  --log-file="$S/munge/log" --seed-file="$S/munge/seed"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 30); do
  if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then break; fi
  sleep 1
done
[ "$(sinfo -h -o %T)" = idle ] || fail "the node did not come up; see $S/log/"
[ "$(srun -N1 hostname)" = "$(hostname)" ] || fail "srun hostname did not run; see $S/log/"

# --- the recipe: a job array of N shards, then the merge ---------------------------------------
submit_time=$(date +%s)
say "submitting: $N shards of parts $PARTS, $RUNS runs, seed $SEED"
submitted=$(cd "$WORK" && DIR=class OUT=sharded PARTS=$PARTS RUNS=$RUNS N=$N SEED=$SEED \
  GRADING_TARGET=$WORK/target GRADER_ARGS=$GRADER_ARGS "$HERE/slurm-submit.sh")
echo "$submitted"
merge=$(echo "$submitted" | sed -n 's/^array=[0-9]* merge=\([0-9]*\)$/\1/p')
[ -n "$merge" ] || fail "slurm-submit.sh printed no job ids"
# Every job of this private cluster is ours: wait until the queue is empty.
while [ -n "$(squeue -h)" ]; do
  [ $(($(date +%s) - submit_time)) -lt "${TIMEOUT:-3600}" ] || fail "still queued after ${TIMEOUT:-3600} s"
  sleep 5
done
state=$(scontrol show job "$merge" | grep -o 'JobState=[A-Z_]*' || true)
say "the merge job $merge ended: $state"
sharded_s=$(($(date +%s) - submit_time))
if [ "$state" != JobState=COMPLETED ]; then
  tail -n 20 "$WORK"/sharded-shards/slurm-*.out >&2 || true
  fail "the merge did not complete"
fi

# --- the same grading, unsharded, outside Slurm ------------------------------------------------
say "grading the class unsharded"
# shellcheck disable=SC2086
CARGO_TARGET_DIR=$WORK/target nice -n 10 "$GRADER" grade-class "$WORK/class" --parts "$PARTS" \
  --runs "$RUNS" --seed "$SEED" --out "$WORK/unsharded" $GRADER_ARGS >"$WORK/unsharded.log" 2>&1 \
  || { tail -n 20 "$WORK/unsharded.log" >&2; fail "the unsharded grading failed"; }

# --- same results ------------------------------------------------------------------------------
# results.json without its timings (execution_time), per submission; the class files as they are.
without_timings() {
  python3 -c '
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "execution_time"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
print(json.dumps(strip(json.load(open(sys.argv[1]))), indent=1, sort_keys=True))' "$1"
}
subs=$(cd "$WORK/unsharded" && find . -mindepth 2 -maxdepth 2 -name results.json | sort)
[ "$(echo "$subs" | grep -c .)" = 2 ] || fail "expected 2 submissions graded unsharded, found: $subs"
[ "$subs" = "$(cd "$WORK/sharded" && find . -mindepth 2 -maxdepth 2 -name results.json | sort)" ] \
  || fail "the sharded and the unsharded grading graded different submissions"
for r in $subs; do
  diff <(without_timings "$WORK/unsharded/$r") <(without_timings "$WORK/sharded/$r") \
    || fail "$r differs between the sharded and the unsharded grading"
done
for f in class.csv class.json class-report.txt; do
  diff "$WORK/unsharded/$f" "$WORK/sharded/$f" || fail "$f differs"
done
grep -q '^reference,graded,' "$WORK/sharded/class.csv" || fail "no row for the reference"
grep -q '^skeleton,graded,0,' "$WORK/sharded/class.csv" || fail "the skeleton did not score 0"

say "PASS: $N Slurm shards + merge == one grading (results.json per submission; class.csv, .json, -report.txt)"
say "Slurm part took ${sharded_s} s; outputs in $WORK/sharded, $WORK/unsharded; Slurm logs in $S/log"
cat "$WORK/sharded/class.csv"
