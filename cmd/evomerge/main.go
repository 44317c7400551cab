// Command evomerge runs evolutionary model merging: with no arguments it
// replays the original simulator (a search for four secret merge ratios);
// its subcommands compare optimisers (bench) and merge models (merge).
//
// Usage:
//
//	evomerge [flags]                 replay the simulator
//	evomerge bench [flags]           compare optimisers on one objective
//	evomerge merge RECIPE.yml OUT    merge models like mergekit-yaml
//	evomerge tune [flags]            sweep one optimiser's hyperparameters
//	evomerge report RUNS.jsonl       rebuild a results page from run records
//	evomerge evolve CONFIG.yml       one journaled, resumable evolutionary merge
//	evomerge slurm bench [flags]     a bench suite as a Slurm job array of shards
//
// Run "evomerge help", "evomerge help CMD" or "evomerge CMD -h" for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/evomerge/evomerge/algorithms"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	_ "github.com/evomerge/evomerge/objectives/realmerge" // registers the mnist-merge objective
)

// command is one verb of evomerge.
type command struct {
	summary string
	run     func(ctx context.Context, stdout, stderr io.Writer, args []string) error
}

// commands holds the verbs; files add theirs in init functions.
var commands = map[string]command{
	"merge": {"merge models like mergekit-yaml: evomerge merge RECIPE.yml OUT_DIR", runMerge},
	"zoo":   {"build the MNIST model zoo, score one of its models, or print the real-merge baselines (zoo build | zoo eval MODEL_DIR | zoo baselines)", runZoo},
}

func main() {
	// SIGTERM (what scancel, systemd and kill send) stops a command as
	// Ctrl-C does: evolve cancels its Slurm jobs and says how to resume.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Stderr, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "evomerge:", err)
		}
		os.Exit(2)
	}
}

// run dispatches to a verb; with no verb (or only flags) it replays the
// simulator. It never exits, so tests call it directly.
func run(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	err := dispatch(ctx, stdout, stderr, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil // help was asked for and printed: not a failure
	}
	return err
}

func dispatch(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if args[0] == "help" {
			if len(args) == 1 {
				usage(stdout)
				return nil
			}
			// "evomerge help bench" is "evomerge bench -h".
			c, ok := commands[args[1]]
			if !ok || len(args) > 2 {
				usage(stderr)
				return fmt.Errorf("help: want one command name, e.g. evomerge help bench (got %q)", strings.Join(args[1:], " "))
			}
			return c.run(ctx, stdout, stderr, []string{"-h"})
		}
		c, ok := commands[args[0]]
		if !ok {
			usage(stderr)
			return fmt.Errorf("unknown command %q", args[0])
		}
		return c.run(ctx, stdout, stderr, args[1:])
	}
	return runSimulate(ctx, stdout, stderr, args)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: evomerge [flags]          replay the original simulator (flags below with evomerge -h)")
	fmt.Fprintln(w, "       evomerge COMMAND [args]   (evomerge help COMMAND, or evomerge COMMAND -h, for its flags)")
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
}

// writeAlgorithms lists every registered optimiser with what it hands
// over and how it fills several evaluation slots (Entry.Batch), for the
// help texts of the commands that select one.
func writeAlgorithms(w io.Writer) {
	fmt.Fprintln(w, "\nAlgorithms (recommends; on several slots):")
	for _, n := range algorithms.Names() {
		e, _ := algorithms.Lookup(n)
		fmt.Fprintf(w, "  %-16s %s\n  %-16s   recommends: %s; slots: %s\n", n, e.Summary, "", e.Recommends, batchMeaning(e.Batch))
	}
	fmt.Fprintln(w, "\nFidelity strategies, STRATEGY:ALGORITHM (e.g. sh:cmaes), with --budget-items; their settings with --set sh:cmaes.eta=4, the algorithm's with --set sh:cmaes.base.popsize=12:")
	for _, n := range algorithms.StrategyNames() {
		fmt.Fprintf(w, "  %-16s %s\n", n+":", algorithms.StrategySummary(n))
	}
}

// batchMeaning says in words what an Entry.Batch value means for a user
// with several GPUs.
func batchMeaning(b string) string {
	switch b {
	case algorithms.BatchAsync:
		return "asynchronous, a free slot gets a new candidate at once"
	case algorithms.BatchGeneration:
		return "a generation at a time, slots wait for its last results"
	case algorithms.BatchOneSlot:
		return "ONE SLOT: one candidate at a time, other slots stay idle"
	}
	return b
}
