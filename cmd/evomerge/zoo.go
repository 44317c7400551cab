package main

import (
	"context"
	"fmt"
	"io"

	"github.com/evomerge/evomerge/objectives/realmerge"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// runZoo adds `zoo baselines` to the zoo package's own verbs, and to its
// usage.
func runZoo(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	usage := func(w io.Writer) {
		fmt.Fprint(w, zoo.Usage)
		fmt.Fprintln(w, "       evomerge zoo baselines                print, as markdown, the held-out accuracy every evolved merge must beat")
		fmt.Fprintln(w, zoo.UsageFooter)
	}
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("zoo: want build, eval or baselines")
	}
	switch args[0] {
	case "baselines":
		if len(args) > 1 {
			if args[1] == "-h" || args[1] == "-help" || args[1] == "--help" {
				fmt.Fprintln(stdout, "usage: evomerge zoo baselines\n\nPrints, as markdown, the held-out accuracy of each zoo model alone, of untuned merges and of hand-picked recipes: what an evolved merge of mnist-merge must beat.")
				return nil
			}
			return fmt.Errorf("zoo baselines takes no arguments")
		}
		return realmerge.WriteBaselines(stdout)
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	case "build", "eval":
		return zoo.RunCLI(ctx, stdout, stderr, args)
	}
	usage(stderr)
	return fmt.Errorf("zoo: unknown subcommand %q (want build, eval or baselines)", args[0])
}
