package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/evomerge/evomerge/internal/cli"
	"github.com/evomerge/evomerge/objectives/realmerge"
	"github.com/evomerge/evomerge/objectives/zoo"
)

// runZoo adds `zoo baselines` to the zoo package's own verbs, and to its
// usage.
func runZoo(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	usage := func(w io.Writer) {
		fmt.Fprint(w, zoo.Usage)
		fmt.Fprintln(w, "       evomerge zoo baselines [flags]        print, as markdown, the held-out accuracy every evolved merge must beat")
		fmt.Fprintln(w, zoo.UsageFooter)
	}
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("zoo: want build, eval or baselines")
	}
	switch args[0] {
	case "baselines":
		return zooBaselines(stdout, stderr, args[1:])
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return nil
	case "build", "eval":
		return zoo.RunCLI(ctx, stdout, stderr, args)
	}
	usage(stderr)
	return fmt.Errorf("zoo: unknown subcommand %q (want build, eval or baselines)", args[0])
}

// zooBaselines is `evomerge zoo baselines`: the reader-skill testbed's
// page by default, a multi-task instance's with -testbed multitask.
func zooBaselines(stdout, stderr io.Writer, args []string) error {
	fs := flag.NewFlagSet("zoo baselines", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: evomerge zoo baselines [-testbed multitask -instance N]\n\nPrints, as markdown, the held-out accuracy of each zoo model alone, of untuned merges and of hand-picked recipes: what an evolved merge must beat. With -testbed multitask: per task, with retention of the base task, and the interference of the experts' task vectors per layer.")
		fs.PrintDefaults()
	}
	testbed := fs.String("testbed", zoo.ReaderSkill, "zoo design: "+zoo.ReaderSkill+" (mnist-merge) or "+zoo.MultiTask+" (mnist-multitask)")
	instance := fs.Uint64("instance", 0, "instance of the "+zoo.MultiTask+" testbed")
	if err := cli.Parse(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("zoo baselines: unexpected argument %q", fs.Arg(0))
	}
	switch *testbed {
	case zoo.ReaderSkill:
		instanceSet := false
		fs.Visit(func(f *flag.Flag) { instanceSet = instanceSet || f.Name == "instance" })
		if instanceSet {
			return fmt.Errorf("zoo baselines: -instance applies to -testbed %s", zoo.MultiTask)
		}
		return realmerge.WriteBaselines(stdout)
	case zoo.MultiTask:
		return realmerge.WriteMultiBaselines(stdout, *instance, zoo.Config{})
	}
	return fmt.Errorf("zoo baselines: unknown testbed %q (known: %s, %s)", *testbed, zoo.ReaderSkill, zoo.MultiTask)
}
