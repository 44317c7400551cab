package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evomerge/evomerge/algorithms"
	"github.com/evomerge/evomerge/bench"
	"github.com/evomerge/evomerge/internal/cli"
)

func init() {
	commands["report"] = command{"rebuild a results page (tables, statistics, plots) from raw run records", runReport}
}

func runReport(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("evomerge report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "folder that receives README.md, plots/ and the HTML page index.html; it must be new, empty or written by an earlier report")
	htmlDir := fs.String("html", "", "folder that receives the HTML page alone (index.html: one self-contained file, open it in a browser); with --out the page goes there too")
	highlightFlag := fs.String("highlight", "", "comma-separated methods to draw in colour in every figure, besides each cell's top three and random search (the rest are grey when a cell has more than 6)")
	force := fs.Bool("force", false, "write into --out even if it holds files no report wrote (they are left as they are)")
	title := fs.String("title", "evomerge comparison", "page title")
	command := fs.String("command", "", "the command that produced the records, printed on the page (default: this report command)")
	seed := fs.Uint64("seed", 1, "seed of the bootstrap intervals")
	noPlots := fs.Bool("no-plots", false, "skip the figures")
	noHTML := fs.Bool("no-html", false, "with --out: write README.md and its figures only, no index.html (a page of thousands of runs makes an HTML file of tens of MB, since it embeds every run's record)")
	preface := fs.String("preface", "", "a markdown file whose text goes under the title")
	rankAgainst := fs.String("rank-against", "", "run records of other cells (the mock scenarios): say how well each predicted the rankings here")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge report (--out FOLDER | --html FOLDER) [flags] RUNS.jsonl...\n\nRebuilds a results page from the run records written by evomerge bench --journal or --format jsonl:\nREADME.md with its figures, and the same page as FOLDER/index.html, which opens offline in a browser.")
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
	if *out == "" && *htmlDir == "" {
		return fmt.Errorf("report: --out FOLDER or --html FOLDER is required (a new folder, or one an earlier report wrote)")
	}
	if *noHTML && (*htmlDir != "" || *out == "") {
		return fmt.Errorf("report: --no-html goes with --out alone (--html asks for the HTML page)")
	}
	separate := *htmlDir != "" && (*out == "" || !sameDir(*out, *htmlDir))
	if *out != "" {
		if err := bench.CheckReportDir(*out, *force); err != nil {
			return err
		}
	}
	if separate {
		if err := bench.CheckReportDir(*htmlDir, *force); err != nil {
			return fmt.Errorf("--html: %v", err)
		}
	}
	var highlight []string
	if *highlightFlag != "" {
		var err error
		if highlight, err = nameList("highlight", *highlightFlag); err != nil {
			return err
		}
	}
	for _, h := range highlight {
		if _, err := algorithms.Lookup(h); err != nil {
			return fmt.Errorf("--highlight: %v", err)
		}
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
	o := bench.ReportOptions{Dir: *out, Title: *title, Command: cmd, Seed: *seed, Plots: !*noPlots, Preface: string(pre), RankAgainst: against, Force: *force, HTML: !*noHTML, Highlight: highlight}
	if *out != "" {
		if err := bench.BuildReport(runs, o); err != nil {
			return err
		}
		if *noHTML {
			fmt.Fprintf(stdout, "wrote %s from %d runs\n", filepath.Join(*out, "README.md"), len(runs))
		} else {
			fmt.Fprintf(stdout, "wrote %s and %s from %d runs\n", filepath.Join(*out, "README.md"), filepath.Join(*out, bench.HTMLName), len(runs))
		}
	}
	if separate {
		o.Dir = *htmlDir
		if err := bench.BuildHTMLReport(runs, o); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s from %d runs\n", filepath.Join(*htmlDir, bench.HTMLName), len(runs))
	}
	return nil
}

// sameDir reports whether two folder names name one folder.
func sameDir(a, b string) bool {
	x, err1 := filepath.Abs(a)
	y, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && x == y
}
