#!/bin/sh
# Regenerates results/fidelity: at equal item budgets, which allocation of
# benchmark items reaches the best merge (every candidate on all items,
# fewer items for all, successive halving, Hyperband, racing, paired
# racing, a final re-scoring of the top candidates). Base methods cmaes,
# de and random, each plain and wrapped by every strategy, 25 seeds, on
# the mergekit-evolve and consumer-gpu objectives scored on a fixed list of
# 1,000 items, at 100,000 and 300,000 items, on one slot and on a
# simulated cluster of 8; and on the real multi-task testbed
# (mnist-multitask, 100 fixed items per task) at the same budgets scaled
# to 100 items per full evaluation, 10,000 and 30,000 items, with cmaes
# alone, one slot and 10 seeds (the real merges cost). The protocol
# is preface.md, written before the runs. The scenarios fix 100 and 20
# sampled items, so the objectives are spelled out with flags. The kept
# records are sorted, with wall times zeroed, so the script regenerates
# every file byte for byte. About 10 minutes on 2 cores for the mocks:
# nothing sleeps, the clock is simulated. The real testbed's cell adds
# minutes: each evaluation is a real merge, whatever its items, and lim:
# makes ten times as many as a plain method.
set -eu
cd "$(dirname "$0")/../.."
go build -o /tmp/evomerge-fidelity ./cmd/evomerge
E=/tmp/evomerge-fidelity
J=results/fidelity/runs.jsonl
T=$(mktemp)
trap 'rm -f "$T"' EXIT
MERGEKIT="--objective mock --dim 24 --items 1000 --item-model fixed --landscape ill --width 0.5 --noise 0"
CONSUMER="--objective mock --dim 16 --items 1000 --item-model fixed --landscape rotated --width 0.5 --noise 0"
ALGS=""
for base in cmaes de random; do
	for s in "" lim: top: sh: hb: race: prace:; do
		ALGS="$ALGS${ALGS:+,}$s$base"
	done
done
for obj in "$MERGEKIT" "$CONSUMER"; do
	for items in 100000 300000; do
		for cluster in "" "--slots 8 --eval-time lognormal:median=5m,sigma=0.5"; do
			# shellcheck disable=SC2086 # the flag lists are meant to split
			$E bench $obj --budget-items "$items" --target 90 $cluster --algs "$ALGS" --seeds 25 \
				--journal "$T" --resume --format csv --progress=false > /dev/null
		done
	done
done
# The real multi-task testbed (objectives/realmerge, docs/multitask-testbed.md):
# mnist-multitask instance 0 at its defaults (TIES over 4 layer groups, 24
# genes), every target task scored on a fixed subset of 100 items (a
# candidate's first n items are a prefix, as lm-eval --limit), so a full
# evaluation is 100 items and the mock's budgets scale to 10,000 and
# 30,000 items. Its figures are held-out scores (9,700 images per task the
# search never sees). Target 45, the objective's default (above every model
# alone and every untuned merge on instance 0, below the best merges found).
REAL="--objective mnist-multitask --opt instance=0 --items 100 --target 45"
# One base method on one slot, 10 seeds (preface.md): cmaes on all items at
# both budgets, each strategy at the smaller one.
# shellcheck disable=SC2086 # the flag lists are meant to split
$E bench $REAL --budget-items 30000 --algs cmaes --seeds 10 \
	--journal "$T" --resume --format csv --progress=false > /dev/null
# shellcheck disable=SC2086
$E bench $REAL --budget-items 10000 --algs cmaes,lim:cmaes,sh:cmaes,race:cmaes,prace:cmaes --seeds 10 \
	--journal "$T" --resume --format csv --progress=false > /dev/null
# Runs finish in any order: sorted, with wall times zeroed, the records
# are the same file at every regeneration.
sed -E 's/"wall_ms":[-0-9.e+]+/"wall_ms":0/' "$T" | LC_ALL=C sort > "$J"
# The folder holds this script, its preface and the records too: --force
# (the report writes README.md, plots/ and report-files.txt; --no-html: an
# HTML page of these thousands of runs would be about 30 MB).
$E report --out results/fidelity --force --no-html --title "evomerge: spending benchmark items where they matter, at equal compute" \
	--preface results/fidelity/preface.md --command "results/fidelity/run.sh" "$J"
