#!/bin/sh
# Regenerates results/real-merge: every algorithm on the MNIST real-merge
# objective at realistic budgets (50, 100, 1,000 evaluations), the
# baselines, and the page. About 25 minutes on 2 cores; the zoo is trained
# once (~15 s) and cached.
set -eu
cd "$(dirname "$0")/../.."
go build -o /tmp/evomerge-results ./cmd/evomerge
E=/tmp/evomerge-results
J=results/real-merge/runs.jsonl
rm -f "$J"
# Per-layer task arithmetic of the reader and skill experts: 6 genes.
$E bench --objective mnist-merge --algs all --budget 50 --seeds 15 --journal "$J" --resume --format csv > /dev/null
$E bench --objective mnist-merge --algs all --budget 100 --seeds 15 --journal "$J" --resume --format csv > /dev/null
$E bench --objective mnist-merge --algs all --budget 1000 --seeds 6 --journal "$J" --resume --format csv > /dev/null
# Harder: TIES with a density gene per expert and layer, and a distractor
# expert (digits rotated 90°): 18 genes.
$E bench --objective mnist-merge --opt method=ties --opt densities=true --opt distractors=rot90 --algs all --budget 100 --seeds 15 --journal "$J" --resume --format csv > /dev/null
$E zoo baselines > results/real-merge/baselines.md
# The folder holds this script, the records and the baselines too: --force
# (the report writes README.md, index.html, plots/ and report-files.txt, nothing else).
$E report --out results/real-merge --force --title "evomerge on real merges of real networks (MNIST zoo)" \
  --preface results/real-merge/baselines.md --rank-against results/suite/runs.jsonl \
  --command "results/real-merge/run.sh" "$J"
