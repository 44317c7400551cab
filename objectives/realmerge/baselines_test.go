package realmerge

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestBaselinesPage: WriteBaselines makes results/real-merge/baselines.md
// byte for byte, so the page the README cites is what the definitions
// here compute.
func TestBaselinesPage(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("trains two zoos when the cache is cold (about 25 s)")
	}
	if runtime.GOARCH != "amd64" {
		// Go fuses multiply-adds on other architectures, so their zoos
		// train to slightly different weights than the page's.
		t.Skip("the page was made on amd64")
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "results", "real-merge", "baselines.md"))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteBaselines(&got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("WriteBaselines differs from results/real-merge/baselines.md (regenerate it with evomerge zoo baselines); got:\n%s", got.String())
	}
}
