#!/bin/sh
# Regenerates results/README.md: every algorithm on every scenario of
# `evomerge bench --list-scenarios`, 25 seeds each, from scratch. About 5
# minutes on 2 cores. The raw records go to results/suite/runs.jsonl as runs
# finish; if interrupted, rerun with RESUME=1 to keep what is there. The
# page goes into results/, which holds other pages too: hence --force (the
# report writes README.md, index.html, plots/ and report-files.txt, nothing else).
set -eu
cd "$(dirname "$0")/../.."
J=results/suite/runs.jsonl
[ "${RESUME:-0}" = 1 ] || rm -f "$J"
go run ./cmd/evomerge bench --suite --seeds 25 --journal "$J" --resume --format markdown > /dev/null
go run ./cmd/evomerge report --out results --force --title "evomerge: every algorithm on every scenario" \
  --preface results/preface.md --command "results/suite/run.sh" "$J"
