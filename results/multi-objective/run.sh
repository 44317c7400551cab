#!/bin/sh
# Regenerates results/multi-objective/README.md: the protocol of
# protocol.md run as written. Three suites of `evomerge mobench` (the 2-task
# and the 3-task mock, and the real multi-task testbed mnist-multitask with
# held-out scores: 5 methods × budgets 100 and 300 × 25 seeds each on the
# mocks, 10 on the testbed), their
# records in mock2/, mock3/ and real/runs.jsonl, then one page of all with
# `evomerge mobench report`, so that Holm's correction covers all 24
# comparisons; answer.md follows the results. The records, the page and
# its figures are byte-identical on every run, at any --parallel. About a
# minute on 2 cores for the mocks, plus about 10 CPU-minutes for the real
# testbed (measured: about 10 minutes beside other jobs on a
# shared 2-core machine).
set -eu
cd "$(dirname "$0")/../.."
go build -o /tmp/evomerge-mo ./cmd/evomerge
E=/tmp/evomerge-mo
D=results/multi-objective
COMMON="--algs all --dim 6 --items 200 --width 0.5 --opt conflict=0.3 --floor retention=70 --budgets 100,300 --seeds 25 --seed 1 --vary-objective --records-only --quiet"
# shellcheck disable=SC2086 # COMMON is meant to split
$E mobench $COMMON --opt names=retention,math --out $D/mock2
# shellcheck disable=SC2086
$E mobench $COMMON --opt names=retention,math,code --out $D/mock3
# The real multi-task testbed (objectives/realmerge, docs/multitask-testbed.md):
# mnist-multitask instance 0 at its defaults (TIES over 4 layer groups, 24
# genes), four tasks — shift, rot90-p, flip-q and retention (the base's
# digits) — each scored during the search on a fixed subset of 100 pool
# images, the floor retention ≥ 50 and the mocks' budgets (protocol rule 6). Every run's final front is
# re-scored on the 9,700 held-out images per task after the run, and its
# metrics are on those scores.
# shellcheck disable=SC2086 # the flag lists are meant to split
$E mobench --objective mnist-multitask --opt instance=0 --algs all --floor retention=50 --budgets 100,300 \
	--seeds 10 --seed 1 --records-only --quiet --out $D/real
answer=""
if [ -f $D/answer.md ]; then
	answer="-epilogue $D/answer.md"
fi
# shellcheck disable=SC2086 # answer is empty or two words
$E mobench report -out $D -title "Multi-objective merges: a front of recipes against weighted-sum CMA-ES" \
	-preface $D/protocol.md $answer $D/mock2/runs.jsonl $D/mock3/runs.jsonl $D/real/runs.jsonl
