#!/usr/bin/env bash
# Time nkululeko on EmoDB, eGeMAPSv02 functionals + SVM, leave-one-speaker-out.
#
# usage: run_nkululeko.sh [NKULULEKO_PYTHON] [WORK_DIR]
#   NKULULEKO_PYTHON  python of the venv with nkululeko (default ../nkvenv/bin/python beside the repo)
#   WORK_DIR          scratch folder for csv, ini, logs and the nkululeko
#                     experiment folder (default: a new /tmp/nkbench.XXXXXX);
#                     must be outside the repo and outside its ../shared
#   EMODB (env)       EmoDB root with wav/ (default ../shared/data/emodb beside the repo)
#
# Runs nkululeko twice on the same ini:
#   cold   - experiment folder deleted first, so openSMILE extracts features
#   cached - same experiment folder, nkululeko reuses <exp>/store/emodb_os_all.pkl
# and prints `nkululeko cold_s=..`, `nkululeko cached_s=..` (wall clock of the
# whole `python -m nkululeko.nkululeko` process) and the LOGO UAR / accuracy.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SHARED=$(cd "$REPO/.." && pwd)/shared
PY=${1:-$(cd "$REPO/.." && pwd)/nkvenv/bin/python}
WORK=${2:-$(mktemp -d)}
EMODB=${EMODB:-$SHARED/data/emodb}

mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd -P)
case "$WORK/" in
  "$(cd "$REPO" && pwd -P)"/*|"$SHARED"/*)
    echo "WORK_DIR must be outside the repo and $SHARED: $WORK" >&2; exit 2;;
esac
[ -x "$PY" ] || { echo "no python at $PY" >&2; exit 2; }

EXP_ROOT="$WORK/exp"
EXP_DIR="$EXP_ROOT/emodb_egemaps_svm"   # EXP.name in the template
INI="$WORK/emodb_egemaps_svm.ini"

"$PY" "$HERE/make_csv.py" "$WORK" --emodb "$EMODB"
sed -e "s#@EXP_ROOT@#$EXP_ROOT#g" -e "s#@DATA_CSV@#$WORK/emodb.csv#g" \
    "$HERE/emodb_egemaps_svm.ini.template" > "$INI"
echo "nkululeko $("$PY" -c 'from nkululeko.constants import VERSION; print(VERSION)')," \
     "python $PY, work dir $WORK"

run_once() {  # $1 = label; prints "<label>_s=<seconds>" and the metrics
  local label=$1 log="$WORK/$1.log" t0 t1 rc=0
  echo "load before $label: $(uptime)"
  t0=$(date +%s.%N)
  ( cd "$WORK" && "$PY" -m nkululeko.nkululeko --config "$INI" ) > "$log" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  if [ "$rc" -ne 0 ] || ! grep -q '^DONE' "$log"; then
    echo "nkululeko $label run failed (rc=$rc), see $log:" >&2
    tail -30 "$log" >&2; exit 1
  fi
  if grep -q 'Reusing extracted OpenSMILE features' "$log"; then feats=reused
  elif grep -q 'Extracting OpenSMILE' "$log"; then feats=extracted
  else feats=unknown; fi
  echo "nkululeko ${label}_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') features=$feats"
  echo "load after $label: $(uptime)"
  # metrics from nkululeko's own result files
  "$PY" - "$EXP_DIR/results/run_0" "$label" <<'PYEOF'
import glob, json, os, re, sys
res, label = sys.argv[1], sys.argv[2]
rep = [p for p in glob.glob(os.path.join(res, "*_last_0_000.txt"))]
rep.sort(key=os.path.getmtime)
with open(rep[-1]) as f:
    d = json.loads(f.readline())
logo = open(os.path.join(res, "logo_results.txt")).read()
m = re.search(r"mean ([0-9.]+),\s*std: ([0-9.]+)", logo)
print(f"nkululeko {label} UAR={d['macro avg']['recall']:.4f} "
      f"WAR(accuracy)={d['accuracy']:.4f} "
      f"logo_fold_mean_UAR={m.group(1)} logo_fold_std={m.group(2)} "
      "(UAR/WAR pooled over all 535 LOSO predictions)")
PYEOF
}

rm -rf "$EXP_ROOT"        # empty experiment folder => features get extracted
run_once cold
[ -f "$EXP_DIR/store/emodb_os_all.pkl" ] || echo "warning: no stored features found" >&2
run_once cached           # same folder => stored features + split are reused
echo "logs: $WORK/cold.log $WORK/cached.log; features: $EXP_DIR/store/emodb_os_all.pkl"
