#!/bin/sh
# A claim run under mpirun writes the same report as in one process (issue 18).
#   claim_same_report.sh OUT CLAIM BNLAB MPIRUN...
# Runs `BNLAB claims run CLAIM --quick --threads 1` in one process (OUT/single) and under
# MPIRUN (OUT/ranks), checks that rank 1 trained some of the runs, and that report.md and
# summary.json agree but for wall times (the claim's, and runs' seconds in tables such as
# "62 (0.4 s, 2/2)"), the date and the --out folder.
set -eu
out=$1 claim=$2 bnlab=$3
shift 3
rm -rf "$out"
mkdir -p "$out"
"$bnlab" claims run "$claim" --quick --threads 1 --out "$out/single" > "$out/single.log" 2>&1 ||
    { cat "$out/single.log"; exit 1; }
"$@" "$bnlab" claims run "$claim" --quick --threads 1 --out "$out/ranks" > "$out/ranks.log" 2>&1 ||
    { cat "$out/ranks.log"; exit 1; }
grep -q '^rank 1/2:   .*after .* steps' "$out/ranks.log" || { echo "rank 1 trained no run:"; cat "$out/ranks.log"; exit 1; }
strip() {
    grep -v -e 'wall time' -e '- date:' -e '"date"' -e '"wall_seconds"' -e '"ranks"' -e "claims run $claim" "$1" |
        sed 's/[0-9.]* s, /T s, /g'
}
for f in report.md summary.json; do
    strip "$out/single/$claim/$f" > "$out/single.$f"
    strip "$out/ranks/$claim/$f" > "$out/ranks.$f"
    diff "$out/single.$f" "$out/ranks.$f" || { echo "$claim/$f differs between one process and 2 ranks"; exit 1; }
done
echo "$claim: the same report from one process and from 2 ranks"
