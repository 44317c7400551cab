//go:build !unix

package realmerge

import "time"

func cpuTime() time.Duration { return 0 }
