#!/usr/bin/env bash
# The kill -9 bar of issue 18, rerunnable: `strata train --time 10m` is killed with kill -9 after 3 minutes;
# `runs list` must show it interrupted (process gone) at once; `--resume` must continue from a checkpoint no
# older than --checkpoint-every; and the resumed losses must equal those of an uninterrupted continuation
# from the same checkpoint (a copy of the store taken before the resume, resumed and stopped with SIGTERM
# after REF_SECONDS; the train_loss rows both runs cover are compared exactly). A time-budget run resumes to
# the step total planned at its checkpoint, so both continuations follow the same schedule.
#
# Usage (from the repository root, after `swift build -c release`):
#   bench/kill9_resume.sh                       # 10m budget, kill at 180 s, checkpoint every 1m
#   BUDGET=2m KILL_AFTER=40 CHECKPOINT_EVERY=15s REF_SECONDS=20 bench/kill9_resume.sh   # a quick check
# Needs sqlite3 and python3. Prints the figures; exits non-zero if a check fails.
set -euo pipefail
STRATA=${STRATA:-.build/release/strata}
BUDGET=${BUDGET:-10m}
KILL_AFTER=${KILL_AFTER:-180}
CHECKPOINT_EVERY=${CHECKPOINT_EVERY:-1m}
REF_SECONDS=${REF_SECONDS:-60}
WORK=$(mktemp -d /tmp/strata-kill9.XXXXXX)
echo "work directory $WORK"

"$STRATA" train --time "$BUDGET" --checkpoint-every "$CHECKPOINT_EVERY" --runs "$WORK/A" --json >"$WORK/a.json" 2>"$WORK/a.log" &
PID=$!
sleep "$KILL_AFTER"
kill -9 "$PID"
wait "$PID" || true
KILLED_AT=$(date +%s.%N)
ID=$(ls "$WORK/A" | grep -v '^strata.sqlite' | head -1)
CKPT="$WORK/A/$ID/checkpoints/latest.safetensors"

LIST=$("$STRATA" runs list --runs "$WORK/A")
echo "$LIST"
echo "$LIST" | grep -q "interrupted (process gone)" || { echo "FAIL: runs list does not show the run as interrupted (process gone)"; exit 1; }

read -r CKPT_STEP CKPT_AGE < <(python3 - "$CKPT" "$KILLED_AT" <<'PY'
import json, os, struct, sys
path, killed = sys.argv[1], float(sys.argv[2])
with open(path, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n))["__metadata__"]
print(meta["step"], round(killed - os.path.getmtime(path), 1))
PY
)
LAST_LOGGED=$(sqlite3 "$WORK/A/strata.sqlite" "SELECT max(step) FROM metrics WHERE run_id = '$ID'")
INTERVAL=$(python3 -c "import re,sys; t=sys.argv[1]; m={'s':1,'m':60,'h':3600}; print(sum(float(v)*m[u] for v,u in re.findall(r'([0-9.]+)([smh])', t)) if re.search('[smh]', t) else float(t))" "$CHECKPOINT_EVERY")
echo "killed at step ~$LAST_LOGGED (last logged row); checkpoint at step $CKPT_STEP, ${CKPT_AGE} s old (interval ${INTERVAL} s)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)" "$CKPT_AGE" "$INTERVAL" \
    || { echo "FAIL: the checkpoint is older than --checkpoint-every"; exit 1; }

cp -r "$WORK/A" "$WORK/R"
START=$(date +%s)
"$STRATA" train --resume "$ID" --runs "$WORK/A" --json >"$WORK/resumed.json" 2>"$WORK/resumed.log"
echo "resumed run: $(cat "$WORK/resumed.json") ($(( $(date +%s) - START )) s)"
DUP=$(sqlite3 "$WORK/A/strata.sqlite" "SELECT count(*) - count(DISTINCT step) FROM metrics WHERE run_id = '$ID' AND name = 'train_loss'")
echo "duplicate train_loss rows: $DUP"
[ "$DUP" = 0 ] || { echo "FAIL: duplicate metric rows"; exit 1; }

"$STRATA" train --resume "$ID" --runs "$WORK/R" --json >"$WORK/reference.json" 2>"$WORK/reference.log" &
REF=$!
sleep "$REF_SECONDS"
kill -TERM "$REF"
set +e; wait "$REF"; REF_RC=$?; set -e
echo "reference continuation stopped by SIGTERM: exit $REF_RC"

python3 - "$WORK/A/strata.sqlite" "$WORK/R/strata.sqlite" "$ID" "$CKPT_STEP" <<'PY'
import sqlite3, sys
a, r, run, ckpt = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def rows(path):
    q = "SELECT step, value FROM metrics WHERE run_id = ? AND name = 'train_loss' AND step > ? ORDER BY step"
    return dict(sqlite3.connect(path).execute(q, (run, ckpt + 10)).fetchall())  # first row after the checkpoint is partial
ra, rr = rows(a), rows(r)
common = sorted(set(ra) & set(rr))
diff = [s for s in common if ra[s] != rr[s]]
print(f"compared {len(common)} train_loss rows (steps {common[0] if common else '-'}…{common[-1] if common else '-'}); "
      f"{len(diff)} differ" + (f", max |Δ| {max(abs(ra[s] - rr[s]) for s in diff):.3g}" if diff else " (bit-exact)"))
sys.exit(1 if diff or not common else 0)
PY
echo "PASS"
