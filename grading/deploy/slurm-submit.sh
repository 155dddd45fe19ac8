#!/usr/bin/env bash
# Queues a class grading on Slurm: a job array of N shards (slurm.sbatch), and the merge, which
# runs once every shard has succeeded. Prints the two job ids.
#
#   SEED=42 DIR=/shared/class OUT=/shared/grades-2a PARTS=2a,2b RUNS=30 N=8 \
#     grading/deploy/slurm-submit.sh [more sbatch options, e.g. --partition=short]
#
# Before: build the grader once, on a file system every node sees, and fetch the crates:
#   cargo build --release -p grading && cargo fetch --locked
# The settings are those of slurm.sbatch; SEED defaults to a fresh one (printed: it replays the
# grading), N to 4. Relative paths are taken from the current directory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
export REPO=${REPO:-$(cd "$HERE/../.." && pwd)}
export GRADER=${GRADER:-$REPO/target/release/grading}
export N=${N:-4}
export SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
absolute() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
export DIR; DIR=$(absolute "${DIR:-submissions}")
export OUT; OUT=$(absolute "${OUT:-grades}")
export SHARD_DIR; SHARD_DIR=$(absolute "${SHARD_DIR:-$OUT-shards}")
export PARTS=${PARTS:-} RUNS=${RUNS:-} GRADER_ARGS=${GRADER_ARGS:-} GRADING_TARGET=${GRADING_TARGET:-}

if [ ! -x "$GRADER" ]; then
  echo "no grader at $GRADER: build it first (cd $REPO && cargo build --release -p grading)" >&2
  exit 1
fi
if [ ! -d "$DIR" ]; then
  echo "no class folder $DIR (set DIR)" >&2
  exit 1
fi
case $N in '' | *[!0-9]* | 0) echo "N must be a positive number, not '$N'" >&2; exit 1 ;; esac
mkdir -p "$SHARD_DIR"

array=$(sbatch --parsable --export=ALL --array="1-$N" \
  --output="$SHARD_DIR/slurm-%A_%a.out" "$@" "$HERE/slurm.sbatch")
array=${array%%;*}

shards=()
for k in $(seq 1 "$N"); do shards+=("$SHARD_DIR/$k"); done
merge_cmd=$(printf '%q ' "$GRADER" merge --out "$OUT" "${shards[@]}")
merge=$(sbatch --parsable --export=ALL --job-name=raftlab-merge \
  --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$SHARD_DIR/slurm-merge-%j.out" "$@" --wrap="$merge_cmd")
merge=${merge%%;*}

echo "seed $SEED: shards in job array $array ($N tasks), merge in job $merge"
echo "merged grading: $OUT (logs: $SHARD_DIR/slurm-*.out)"
echo "array=$array merge=$merge"
