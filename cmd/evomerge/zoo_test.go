package main

import (
	"strings"
	"testing"
)

// TestZooBaselinesFlags: bad flags of `zoo baselines` are named, never
// ignored.
func TestZooBaselinesFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"zoo", "baselines", "-testbed", "triple"}, `unknown testbed "triple"`},
		{[]string{"zoo", "baselines", "-instance", "2"}, "-instance applies to -testbed multitask"},
		{[]string{"zoo", "baselines", "extra"}, `unexpected argument "extra"`},
	} {
		_, _, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
