package mergekitcheck

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/evomerge/evomerge/objectives/merge"
)

// StandIn plays `mergekit-yaml CONFIG OUT [--random-seed N] [--cuda …]`
// for tests, in a test binary run as a separate process: it refuses a
// recipe that Check refuses (exit status 2, the reason on stderr), keeps
// a copy of every recipe it accepts (and its arguments, one a line) in the
// folder $EVOMERGE_STANDIN_LOG if set, and merges it into OUT with the
// native engine. It returns the exit status.
func StandIn(args []string, stderr io.Writer) int {
	var pos []string
	var seed uint64
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--random-seed" && i+1 < len(args):
			s, err := strconv.ParseUint(args[i+1], 10, 64)
			if err != nil {
				fmt.Fprintf(stderr, "mergekit-yaml: --random-seed %q: %v\n", args[i+1], err)
				return 2
			}
			seed = s
			i++
		case strings.HasPrefix(a, "--"):
			// --cuda, --lazy-unpickle, …: no effect on what is merged.
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "usage: mergekit-yaml CONFIG OUT (got %q)\n", args)
		return 2
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, "mergekit-yaml:", err)
		return 2
	}
	if err := Check(data); err != nil {
		fmt.Fprintf(stderr, "mergekit-yaml: %s: %v\n", pos[0], err)
		return 2
	}
	if dir := os.Getenv("EVOMERGE_STANDIN_LOG"); dir != "" {
		f, err := os.CreateTemp(dir, "recipe-*.yml")
		if err == nil {
			f.Write(data)
			f.Close()
			err = os.WriteFile(strings.TrimSuffix(f.Name(), ".yml")+".args", []byte(strings.Join(args, "\n")+"\n"), 0o644)
		}
		if err != nil {
			fmt.Fprintln(stderr, "mergekit-yaml stand-in log:", err)
			return 1
		}
	}
	if err := merge.Run(context.Background(), merge.RunOptions{Recipe: pos[0], OutDir: pos[1], Seed: seed}); err != nil {
		fmt.Fprintln(stderr, "mergekit-yaml:", err)
		return 1
	}
	return 0
}
