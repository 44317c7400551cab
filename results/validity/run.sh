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
#   5. the page: `evomerge validity`.
#
# About an hour on 2 idle cores; the zoo instances are trained once (about
# 30 CPU-seconds each) and cached.
set -eu
cd "$(dirname "$0")/../.."
E=${EVOMERGE:-/tmp/evomerge-validity}
[ -n "${EVOMERGE:-}" ] || go build -o "$E" ./cmd/evomerge
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
