//go:build !race

package realmerge

const raceEnabled = false
