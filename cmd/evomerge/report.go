package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/internal/cli"
)

func init() {
	commands["report"] = command{"rebuild a results page (tables, statistics, plots) from raw run records", runReport}
}

func runReport(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder that receives README.md and plots/ (required); it must be new, empty or written by an earlier report")
	force := fs.Bool("force", false, "write into --out even if it holds files no report wrote (they are left as they are)")
	title := fs.String("title", "evomerge comparison", "page title")
	command := fs.String("command", "", "the command that produced the records, printed on the page (default: this report command)")
	seed := fs.Uint64("seed", 1, "seed of the bootstrap intervals")
	noPlots := fs.Bool("no-plots", false, "skip the figures")
	preface := fs.String("preface", "", "a markdown file whose text goes under the title")
	rankAgainst := fs.String("rank-against", "", "run records of other cells (the mock scenarios): say how well each predicted the rankings here")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge report --out FOLDER [flags] RUNS.jsonl...\n\nRebuilds a results page from the run records written by evomerge bench --journal or --format jsonl.")
		fs.PrintDefaults()
	}
	// Flags may follow the file names, as in evomerge evolve.
	files, err := cli.ParseInterspersed(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return fmt.Errorf("report: name at least one file of run records")
	}
	if *out == "" {
		return fmt.Errorf("report: --out FOLDER is required (a new folder, or one an earlier report wrote)")
	}
	if err := bench.CheckReportDir(*out, *force); err != nil {
		return err
	}
	var runs []*bench.Run
	for _, path := range files {
		rs, err := bench.ReadRuns(path)
		if err != nil {
			return err
		}
		runs = append(runs, rs...)
	}
	runs, err = bench.Resolve(runs) // as the page counts them
	if err != nil {
		return fmt.Errorf("report: %v (the same records given twice?)", err)
	}
	var pre []byte
	if *preface != "" {
		var err error
		if pre, err = os.ReadFile(*preface); err != nil {
			return err
		}
	}
	var against []*bench.Run
	if *rankAgainst != "" {
		var err error
		if against, err = bench.ReadRuns(*rankAgainst); err != nil {
			return err
		}
	}
	cmd := *command
	if cmd == "" {
		cmd = "evomerge report " + strings.Join(args, " ")
	}
	if err := bench.BuildReport(runs, bench.ReportOptions{Dir: *out, Title: *title, Command: cmd, Seed: *seed, Plots: !*noPlots, Preface: string(pre), RankAgainst: against, Force: *force}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/README.md from %d runs\n", *out, len(runs))
	return nil
}
