#!/usr/bin/env bash
# The class-grading bar and benchmarks of issue 16 (grading/README.md, "Grading a class"):
#   1. a class of 30 generated submissions (make-class.py) graded with grade-class;
#   2. the same 30 graded one `grade --submission` each: every row's score and results.json must
#      equal the class grading's;
#   3. the class graded in 3 shards, one after another, and merged: class.csv, class.json and every
#      results.json (apart from execution_time) must equal the unsharded grading's.
# Prints the wall time of each. Usage: grading/bench/class.sh [PART] [RUNS]   (default 2a 10)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
part=${1:-2a}
runs=${2:-10}
work=${BENCH_DIR:-/tmp/raftlab-class-bench}
rm -rf "$work" && mkdir -p "$work"
cd "$repo"
cargo build --release -q -p grading
g="$repo/target/release/grading"
python3 "$repo/grading/bench/make-class.py" "$repo" "$work/class"
opts=(--parts "$part" --runs "$runs" --seed 1)
# Warm the dependency build, so that no pass pays for it.
"$g" grade --parts "$part" --runs 1 --seed 1 --out "$work/warm" > /dev/null
strip() { grep -v '"execution_time"' "$1"; }
t0=$(date +%s)
"$g" grade-class "$work/class" "${opts[@]}" --out "$work/as-class" > "$work/as-class.log"
t1=$(date +%s)
for sub in "$work"/class/*; do
    name=$(basename "$sub"); name=${name%.tar.gz}; name=${name%.zip}
    "$g" grade --submission "$sub" "${opts[@]}" --out "$work/separate/$name" > "$work/separate-$name.log"
done
t2=$(date +%s)
for k in 1 2 3; do
    "$g" grade-class "$work/class" "${opts[@]}" --shard "$k/3" --out "$work/shard$k" > "$work/shard$k.log"
done
"$g" merge --out "$work/merged" "$work/shard1" "$work/shard2" "$work/shard3" > "$work/merge.log"
t3=$(date +%s)
bad=0
rows=$(($(wc -l < "$work/as-class/class.csv") - 1))
[ "$rows" = 30 ] || { echo "class.csv has $rows rows, not 30"; bad=1; }
for d in "$work"/separate/*; do
    name=$(basename "$d")
    a=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["score"])' "$d/summary.json")
    b=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["score"])' "$work/as-class/$name/summary.json")
    [ "$a" = "$b" ] || { echo "$name: $a separately, $b in the class"; bad=1; }
    # The submission's name differs (a path vs the row's name): compare the tests only.
    python3 - "$d/results.json" "$work/as-class/$name/results.json" <<'PY' || bad=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
if a["tests"] != b["tests"] or a["score"] != b["score"]:
    sys.exit(f"{sys.argv[1]}: results differ from the class grading's")
PY
    cmp -s <(strip "$work/as-class/$name/results.json") <(strip "$work/merged/$name/results.json") \
        || { echo "$name: merged results.json differs"; bad=1; }
done
for f in class.csv class.json; do
    cmp -s "$work/as-class/$f" "$work/merged/$f" || { echo "merged $f differs"; bad=1; }
done
cat "$work/as-class/class-report.txt"
echo
echo "part $part, $runs runs per test, 30 submissions, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "grade-class:                 $((t1 - t0)) s ($(( (t1 - t0) * 10 / 30 )) ds per submission)"
echo "30 separate gradings:        $((t2 - t1)) s ($(( (t2 - t1) * 10 / 30 )) ds per submission)"
echo "3 shards in a row + merge:   $((t3 - t2)) s"
[ "$bad" = 0 ] && echo "ALL ROWS AGREE" || { echo "MISMATCHES"; exit 1; }
