// Package cli is the flag parsing every evomerge verb shares — the ones in
// cmd/evomerge and the ones packages implement (merge, zoo) — so that help,
// bad flags and flags after arguments behave alike in all of them.
package cli

import (
	"bytes"
	"errors"
	"flag"
	"io"
)

// Parse parses args into fs. Asked for help (-h, --help), it prints
// fs.Usage to stdout — help a user requested is output, not an error — and
// returns flag.ErrHelp, which the caller turns into success; a bad flag
// prints its error and the usage to stderr and returns the error. fs.Usage
// must write to fs.Output(), which is stderr afterwards. As with
// flag.FlagSet.Parse, parsing stops at the first argument that is not a
// flag; fs.Args() holds the rest.
func Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(stderr)
	if errors.Is(err, flag.ErrHelp) {
		stdout.Write(buf.Bytes())
		return err
	}
	stderr.Write(buf.Bytes())
	return err
}

// ParseInterspersed parses args as Parse does, but lets flags come before,
// between and after the positional arguments (evomerge merge RECIPE.yml
// OUT --force), and returns those arguments in order. A "--" makes the one
// argument after it positional even if it starts with "-".
func ParseInterspersed(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := Parse(fs, args, stdout, stderr); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
