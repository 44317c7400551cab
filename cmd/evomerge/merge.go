package main

import (
	"context"
	"io"

	"github.com/evomerge/evomerge/objectives/merge"
)

// runMerge implements `evomerge merge RECIPE.yml OUT_DIR`; all logic lives in
// package merge so it can be tested and reused in process.
func runMerge(ctx context.Context, stdout, stderr io.Writer, args []string) error {
	return merge.RunCLI(ctx, stdout, stderr, args)
}
