#!/bin/sh
# Regenerates results/validity/README.md: the protocol of protocol.md run as
# written. Every stage appends to a journal and resumes, so an interrupted
# run continues where it stopped; the page is rebuilt from the journals and
# is byte-identical on every run, at any --parallel.
#
#   1. the eight methods on the six real cells × five zoo instances
#      (real.jsonl), and two 1,000-evaluation CMA-ES runs per instance for
#      the difficulty check (long.jsonl);
#   2. `evomerge calibrate` on each cell × instance (calibrate/CELL-I/);
#   3. the eight methods on each fitted scenario (mock.jsonl);
#   4. each calibration's recommendation on its real cell (advice.jsonl);
#   5. the page: results/validity/analyse (go run), from the records.
#
# About 80 minutes on 2 cores shared with other jobs (measured); the zoo
# instances are trained once (about 30 CPU-seconds each) and cached.
set -eu
cd "$(dirname "$0")/../.."
E=${EVOMERGE:-/tmp/evomerge-validity}
[ -n "${EVOMERGE:-}" ] || go build -o "$E" ./cmd/evomerge
A=/tmp/evomerge-validity-analyse
go build -o $A ./results/validity/analyse
D=results/validity
ALGS=cmaes,sep-cmaes,tpe,gp-bo,one-plus-one-es,de,pso,random
CELLS="g4-100 g1-100 g4-50 g1-50 g4-300 g1-300"
INSTANCES="0 1 2 3 4"
groups() { echo "${1%-*}" | tr -d g; }
budget() { echo "${1#*-}"; }

# Stage 1: the real cells.
for c in $CELLS; do
	for i in $INSTANCES; do
		$E bench --objective mnist-multitask --items 100 --opt groups="$(groups "$c")" --opt instance="$i" \
			--algs $ALGS --budget "$(budget "$c")" --seeds 4 --seed 1 \
			--journal $D/real.jsonl --resume --format csv > /dev/null
	done
done
for i in $INSTANCES; do
	$E bench --objective mnist-multitask --items 100 --opt groups=4 --opt instance="$i" \
		--algs cmaes --budget 1000 --seeds 2 --seed 1 \
		--journal $D/long.jsonl --resume --format csv > /dev/null
done

# Stage 2: calibrate on each cell × instance, with its defaults. A folder
# that holds a finished calibration (calibration.json is written last) is
# kept; calibrate is deterministic, so redoing it gives the same files.
mkdir -p $D/calibrate
for c in $CELLS; do
	for i in $INSTANCES; do
		out=$D/calibrate/$c-$i
		[ -f "$out/calibration.json" ] && continue
		cfg=$D/calibrate/$c-$i.yml
		cat > "$cfg" <<YAML
# The real cell $c on zoo instance $i, as an evomerge evolve config.
algorithm: cmaes
budget: $(budget "$c")
seed: 1
objective:
  kind: mnist
  mnist:
    testbed: multitask
    items: 100
    options: {groups: "$(groups "$c")", instance: "$i"}
YAML
		$E calibrate --quiet --force --out "$out" "$cfg" > /dev/null
	done
done

# Stage 3: the eight methods on every fitted scenario.
for c in $CELLS; do
	for i in $INSTANCES; do
		$E bench --scenario-file $D/calibrate/$c-$i/scenario.yml --algs $ALGS --seeds 10 --seed 1 \
			--journal $D/mock.jsonl --resume --format csv > /dev/null
	done
done

# Stage 4: each recommendation on its real cell, from scratch at the
# cell's full budget.
for c in $CELLS; do
	for i in $INSTANCES; do
		# shellcheck disable=SC2046 # the advice is flags, meant to split
		$E bench --objective mnist-multitask --items 100 --opt groups="$(groups "$c")" --opt instance="$i" \
			$($A -advice $D/calibrate/$c-$i) --budget "$(budget "$c")" --seeds 4 --seed 1 \
			--journal $D/advice.jsonl --resume --format csv > /dev/null
	done
done

# Stage 5: the page.
$A -dir $D -suite results/suite/runs.jsonl
