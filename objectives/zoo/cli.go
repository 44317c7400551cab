package zoo

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/evomerge/evomerge/internal/cli"
)

// maxItems bounds an item list parsed from the command line (the MNIST test
// set has 10,000 images; repeats are allowed but not unbounded).
const maxItems = 1 << 20

// ParseItems reads a list of MNIST test items such as "1000:10000" (a
// half-open range), "0:500,900,950:1000" or "7". Items must lie in
// 0..9999; order and repeats are kept.
func ParseItems(s string) ([]int, error) {
	var items []int
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("items: empty list")
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := parseItem(lo)
		if err != nil {
			return nil, fmt.Errorf("items: %q: %v", part, err)
		}
		if !isRange {
			items = append(items, a)
		} else {
			b, err := strconv.Atoi(strings.TrimSpace(hi))
			if err != nil || b < a || b > 10000 {
				return nil, fmt.Errorf("items: %q: range end must be a number from %d to 10000", part, a)
			}
			if len(items)+b-a > maxItems {
				return nil, fmt.Errorf("items: more than %d items", maxItems)
			}
			for i := a; i < b; i++ {
				items = append(items, i)
			}
		}
		if len(items) > maxItems {
			return nil, fmt.Errorf("items: more than %d items", maxItems)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("items: %q selects no items", s)
	}
	return items, nil
}

func parseItem(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || v < 0 || v > 9999 {
		return 0, fmt.Errorf("%q is not a test item (0 to 9999)", s)
	}
	return v, nil
}

// RunCLI implements `evomerge zoo build [flags]` and
// `evomerge zoo eval [flags] MODEL_DIR`. eval prints the accuracy in
// percent as the last number on stdout, the form the external evaluator
// (objectives/external, score: stdout) reads.
func RunCLI(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	usage := func(w io.Writer) { fmt.Fprint(w, Usage+UsageFooter+"\n") }
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("zoo: want build or eval")
	}
	switch args[0] {
	case "build":
		return cliBuild(stdout, stderr, args[1:])
	case "eval":
		return cliEval(stdout, stderr, args[1:])
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("zoo: unknown subcommand %q (want build or eval)", args[0])
}

// Usage lists the verbs RunCLI implements, one line each; a front end
// that adds verbs prints its own lines after it, then UsageFooter.
const Usage = `usage: evomerge zoo build [flags]            train (or find cached) an MNIST model zoo; prints its folders
       evomerge zoo eval [flags] MODEL_DIR   accuracy (%) of a model folder on a task
`

// UsageFooter closes Usage.
const UsageFooter = `Run "evomerge zoo build -h" or "evomerge zoo eval -h" for the flags.`

func cliBuild(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("zoo build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 0, "seed of the zoo")
	testbed := fs.String("testbed", ReaderSkill, "zoo design: "+ReaderSkill+" (base, reader, skill, optional distractors) or "+MultiTask+" (eight-layer base, six experts on conflicting tasks)")
	instance := fs.Uint64("instance", 0, "instance of the "+MultiTask+" testbed (its seed; the same as -seed)")
	distractors := fs.String("distractors", "", "comma-separated distractor experts (rot90, flip)")
	init := fs.String("init", "", "weight initialisation: pytorch (default) or he (harder merges)")
	cache := fs.String("cache", "", "cache folder (default $EVOMERGE_ZOO_CACHE or the user cache)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	if err := cli.Parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("zoo build: unexpected argument %q", fs.Arg(0))
	}
	cfg := Config{Testbed: *testbed, Seed: *seed, Init: *init, CacheDir: *cache}
	instanceSet := false
	fs.Visit(func(f *flag.Flag) { instanceSet = instanceSet || f.Name == "instance" })
	if instanceSet {
		if cfg.Testbed != MultiTask {
			return fmt.Errorf("zoo build: -instance applies to -testbed %s; use -seed for the %s testbed", MultiTask, ReaderSkill)
		}
		if *seed != 0 && *seed != *instance {
			return fmt.Errorf("zoo build: -instance %d and -seed %d disagree (they are the same setting)", *instance, *seed)
		}
		cfg.Seed = *instance
	}
	if *distractors != "" {
		cfg.Distractors = strings.Split(*distractors, ",")
	}
	if !*quiet {
		cfg.Logf = func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	}
	start := time.Now()
	z, err := Build(cfg)
	if err != nil {
		return err
	}
	sum, err := z.Checksum()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "zoo %s (sha256 %s, %.1f s)\n", z.Dir, sum, time.Since(start).Seconds())
	for _, m := range z.Models {
		fmt.Fprintf(stdout, "%s\t%s\n", m, z.Path(m))
	}
	return nil
}

func cliEval(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("zoo eval", flag.ContinueOnError)
	fs.SetOutput(stderr)
	task := fs.String("task", "target", "task: "+strings.Join(Tasks(), ", "))
	itemList := fs.String("items", "1000:10000", "MNIST test items: ranges lo:hi (hi excluded) and single items, comma-separated")
	pos, err := cli.ParseInterspersed(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("zoo eval: want one MODEL_DIR, got %d arguments", len(pos))
	}
	items, err := ParseItems(*itemList)
	if err != nil {
		return fmt.Errorf("zoo eval: %w", err)
	}
	acc, err := EvaluateFolder(pos[0], *task, items)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%.4f\n", 100*acc)
	return nil
}
