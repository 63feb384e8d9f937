#!/bin/bash
# A 10,000-change delta on a store and on one 4x its size, alternating rounds (issue 14).
#
#   benchmarks/bench_delta_scale.sh EXTRACT WORK [ROUNDS]
#
# EXTRACT is a synthetic extract of 2M people or more (`lookup synth`); WORK gets a store of its
# first 500,000 people, one of its first 2,000,000, and a delta renaming the first 10,000. Each
# round applies the delta to the base of each store, then rolls back to that base, so every
# round starts alike. Prints the apply's own seconds per round (Python start-up excluded).
set -euo pipefail
extract=$1 work=$2 rounds=${3:-7}
py=${PYTHON:-python}
mkdir -p "$work"
head -500001 "$extract" > "$work/e500k.csv"
head -2000001 "$extract" > "$work/e2m.csv"
"$py" - "$extract" "$work/d10k.csv" <<'PY'
import csv, sys
rows = csv.reader(open(sys.argv[1], encoding="utf-8"))
header = next(rows)
out = csv.writer(open(sys.argv[2], "w", encoding="utf-8", newline=""))
out.writerow(["op", *header])
name = header.index("full_name")
for n, row in enumerate(rows):
    if n == 10000:
        break
    row[name] += " Anh"
    out.writerow(["upsert", *row])
PY
for size in 500k 2m; do
  rm -rf "$work/d$size"
  "$py" -m lookup build "$work/e$size.csv" --data "$work/d$size" > /dev/null
  "$py" -m lookup snapshots --data "$work/d$size" --json | "$py" -c "import json,sys; print(json.load(sys.stdin)[0]['id'])" > "$work/d$size.base"
done
steal() { awk 'NR==1 {print $9}' /proc/stat; }
before=$(steal)
for round in $(seq "$rounds"); do
  for size in 500k 2m; do
    seconds=$("$py" -m lookup apply "$work/d10k.csv" --data "$work/d$size" --json | "$py" -c "import json,sys; print(json.load(sys.stdin)['seconds'])")
    echo "$round $size $seconds"
    "$py" -m lookup rollback "$(cat "$work/d$size.base")" --data "$work/d$size" > /dev/null
  done
done
echo "steal ticks: $(( $(steal) - before ))"
