#!/bin/sh
# Regenerates results/multi-objective/README.md: the protocol of
# protocol.md run as written. Two suites of `evomerge mobench` (the 2-task
# and the 3-task mock: 5 methods × budgets 100 and 300 × 25 seeds each),
# their records in mock2/ and mock3/runs.jsonl, then one page of both with
# `evomerge mobench report`, so that Holm's correction covers all 16
# comparisons; answer.md follows the results. The records, the page and
# its figures are byte-identical on every run, at any --parallel. About a
# minute on 2 cores.
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
answer=""
if [ -f $D/answer.md ]; then
	answer="-epilogue $D/answer.md"
fi
# shellcheck disable=SC2086 # answer is empty or two words
$E mobench report -out $D -title "Multi-objective merges: a front of recipes against weighted-sum CMA-ES" \
	-preface $D/protocol.md $answer $D/mock2/runs.jsonl $D/mock3/runs.jsonl
