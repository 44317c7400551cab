package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func newFlags() (*flag.FlagSet, *bool, *string) {
	fs := flag.NewFlagSet("verb", flag.ContinueOnError)
	force := fs.Bool("force", false, "replace the output")
	seed := fs.String("seed", "", "seed")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: verb [flags] A B") }
	return fs, force, seed
}

// TestParseHelpIsOutput: help a user asked for goes to stdout with
// flag.ErrHelp; a bad flag goes to stderr with its error, whether the flag
// comes before or after the arguments.
func TestParseHelpIsOutput(t *testing.T) {
	for _, interspersed := range []bool{false, true} {
		for _, c := range []struct {
			args            []string
			help            bool
			stdout, stderr  string
			wantErrContains string
		}{
			{args: []string{"-h"}, help: true, stdout: "usage: verb"},
			{args: []string{"--help"}, help: true, stdout: "usage: verb"},
			{args: []string{"--bogus"}, stderr: "flag provided but not defined: -bogus", wantErrContains: "bogus"},
			{args: []string{"--seed"}, stderr: "flag needs an argument", wantErrContains: "seed"},
		} {
			if interspersed {
				c.args = append([]string{"a"}, c.args...)
			}
			fs, _, _ := newFlags()
			var out, errb bytes.Buffer
			var err error
			if interspersed {
				_, err = ParseInterspersed(fs, c.args, &out, &errb)
			} else {
				err = Parse(fs, c.args, &out, &errb)
			}
			if c.help != errors.Is(err, flag.ErrHelp) || (!c.help && (err == nil || !strings.Contains(err.Error(), c.wantErrContains))) {
				t.Errorf("%v: error %v", c.args, err)
			}
			if c.help && (!strings.Contains(out.String(), c.stdout) || errb.Len() != 0) {
				t.Errorf("%v: help on stdout %q, stderr %q", c.args, out.String(), errb.String())
			}
			if !c.help && (out.Len() != 0 || !strings.Contains(errb.String(), c.stderr) || !strings.Contains(errb.String(), "usage: verb")) {
				t.Errorf("%v: bad flag: stdout %q, stderr %q", c.args, out.String(), errb.String())
			}
			if fs.Output() != &errb {
				t.Errorf("%v: the flag set's output is not stderr afterwards", c.args)
			}
		}
	}
}

// TestParseInterspersed takes flags before, between and after the
// arguments; "--" makes the next argument positional.
func TestParseInterspersed(t *testing.T) {
	for _, c := range []struct {
		args  []string
		pos   []string
		force bool
		seed  string
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, false, ""},
		{[]string{"--force", "a", "b"}, []string{"a", "b"}, true, ""},
		{[]string{"a", "--seed", "3", "b", "--force"}, []string{"a", "b"}, true, "3"},
		{[]string{"a", "--", "-b", "--force"}, []string{"a", "-b"}, true, ""},
		{nil, nil, false, ""},
	} {
		fs, force, seed := newFlags()
		var out, errb bytes.Buffer
		pos, err := ParseInterspersed(fs, c.args, &out, &errb)
		if err != nil || !slices.Equal(pos, c.pos) || *force != c.force || *seed != c.seed {
			t.Errorf("%q: positional %q, force %v, seed %q, error %v; want %q, %v, %q", c.args, pos, *force, *seed, err, c.pos, c.force, c.seed)
		}
		if out.Len()+errb.Len() != 0 {
			t.Errorf("%q: printed %q %q", c.args, out.String(), errb.String())
		}
	}
}

// FuzzParseInterspersed: any command line either fails with an error or
// returns positional arguments that are, in order, arguments it was given;
// it never panics or loops.
func FuzzParseInterspersed(f *testing.F) {
	for _, s := range []string{"a b", "--force a --seed 3 b", "a -- -b", "-h", "--seed", "--=x", "- -- --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		fs, _, _ := newFlags()
		var out, errb bytes.Buffer
		pos, err := ParseInterspersed(fs, args, &out, &errb)
		if err != nil {
			return
		}
		i := 0
		for _, p := range pos {
			for i < len(args) && args[i] != p {
				i++
			}
			if i == len(args) {
				t.Fatalf("%q: positional %q are not a subsequence of the arguments", args, pos)
			}
			i++
		}
	})
}
