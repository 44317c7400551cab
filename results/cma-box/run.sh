#!/bin/sh
# Regenerates results/cma-box/README.md: the protocol of preface.md run as
# written. 19 cells (every built-in scenario at its own budget; the bounded,
# noise-free mock of width 0.25 at n = 8, 16, 32, 64 × budgets 100, 300,
# 1000), each an `evomerge tune` of cmaes over bound × sigma0frac on 25
# seeds; then the mean rank of every setting over the cells, which chooses
# the default (rules 3–4 of the protocol). About 1–2 minutes on 2 cores.
set -eu
cd "$(dirname "$0")/../.."
go build -o /tmp/evomerge-cmabox ./cmd/evomerge
E=/tmp/evomerge-cmabox
D=results/cma-box
GRID="--grid bound=transform,resample,mirror,penalty --grid sigma0frac=0.1,1/6,0.2,0.3"
cells=$(mktemp)
trap 'rm -f "$cells" "$cells.page"' EXIT

cell() { # name, tune flags...
	name=$1
	shift
	echo "### $name"
	echo
	# shellcheck disable=SC2086 # GRID is meant to split
	$E tune --alg cmaes $GRID --seeds 25 --format markdown "$@"
	echo
}
{
	for s in sakana-ps mergekit-evolve consumer-gpu layerwise sd-block-merge crashy-merge pruned-boundary; do
		cell "$s" --scenario "$s"
	done
	for n in 8 16 32 64; do
		for b in 100 300 1000; do
			cell "mock n=$n budget=$b" --scenario "" --objective mock --dim "$n" --width 0.25 --noise 0 --budget "$b"
		done
	done
} > "$cells"

# Rules 3–4: rank the settings in each cell by median recommended true
# score (average ranks for equal medians), mean rank over the cells, ties
# (within 0.5 of the lowest mean rank) broken by the worst-cell rank, then
# by the fixed preference order.
summary() {
	awk -F'|' '
	/^### / { cell = substr($0, 5); ncell++; cells[ncell] = cell; next }
	/^\| *[0-9]+ *\|/ {
		label = $3; gsub(/^ +| +$/, "", label)
		med = $4; sub(/^ +/, "", med); split(med, m, " "); v = m[1] + 0
		sub(/^\(defaults\) = /, "", label)
		k = split(label, same, / = /)
		for (i = 1; i <= k; i++) { set[same[i]] = 1; val[ncell, same[i]] = v }
	}
	END {
		ns = 0
		for (s in set) names[++ns] = s
		for (c = 1; c <= ncell; c++) for (i = 1; i <= ns; i++) {
			a = names[i]; r = 1
			for (j = 1; j <= ns; j++) if (j != i) {
				b = names[j]
				if (val[c, b] > val[c, a]) r += 1
				else if (val[c, b] == val[c, a]) r += 0.5
			}
			rank[c, a] = r; sum[a] += r; if (r > worst[a]) worst[a] = r
		}
		for (i = 1; i <= ns; i++) printf "%s\t%.4f\t%g\n", names[i], sum[names[i]] / ncell, worst[names[i]]
	}' "$cells" | awk -F'\t' '
	function pref(s,   b, f, p) {
		split(s, kv, " "); b = kv[1]; f = kv[2]; sub(/bound=/, "", b); sub(/sigma0frac=/, "", f)
		p = (b == "resample" ? 0 : b == "mirror" ? 1 : b == "transform" ? 2 : 3) * 10
		if (f == "1/6") return p; if (f == "0.2") return p + 1; if (f == "0.1") return p + 2; return p + 3
	}
	{ name[NR] = $1; mean[NR] = $2; worst[NR] = $3; if (NR == 1 || $2 < best) best = $2 }
	END {
		for (i = 1; i <= NR; i++) {
			tied = mean[i] <= best + 0.5
			printf "%s\t%.2f\t%g\t%d\t%s\t%d\n", name[i], mean[i], worst[i], (tied ? 0 : 1), (tied ? worst[i] : mean[i]), (tied ? pref(name[i]) : 0)
		}
	}' | sort -t'	' -k4,4n -k5,5g -k6,6n | awk -F'\t' '
	BEGIN { print "| order | setting | mean rank over 19 cells (1 = best of 16) | worst-cell rank | tied with the lowest mean rank (within 0.5) |"; print "|---:|---|---:|---:|---|" }
	{ printf "| %d | %s%s%s | %.2f | %g | %s |\n", NR, (NR == 1 ? "**" : ""), $1, (NR == 1 ? "**" : ""), $2, $3, ($4 == 0 ? "yes" : "no") }'
}

{
	cat $D/preface.md
	echo
	echo "## Outcome"
	echo
	echo "Made by \`results/cma-box/run.sh\` with \`evomerge tune\` (one run per cell below). Settings in the order the protocol chooses: tied settings (rule 4) first, by worst-cell rank and then by the preference order; the others by mean rank. The first row is the default."
	echo
	summary
	echo
	echo "## Guard (rule 5): the defaults against Optuna's CmaEsSampler"
	echo
	echo "\`go test ./algorithms -run TestOptunaCMAES -v\` with the defaults of this binary: best true score within 300 evaluations on the noise-free bounded mock (width 0.25), 25 seeds, the optimum drawn from each seed, medians with 95% intervals, two-sided Mann–Whitney p. Optuna 3.1.0 with cmaes 0.9.1, raw runs in \`testdata/optuna\` (see its README)."
	echo
	go test ./algorithms -run 'TestOptunaCMAES$' -count=1 -v | sed -n 's/^ *\(|.*|\)$/\1/p' | awk '!seen[$0]++'
	echo
	echo "## The cells"
	echo
	echo "Each table is \`evomerge tune\`'s own output: the median true score of the recommended point with its 95% interval, the runs that reached the cell's target, and a Holm-corrected Mann–Whitney test against the defaults of the binary that ran."
	echo
	cat "$cells"
} > "$cells.page"
mv "$cells.page" $D/README.md
