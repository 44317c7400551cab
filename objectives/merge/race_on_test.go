//go:build race

package merge

// raceEnabled: the race detector's shadow memory inflates resident memory,
// so resident-memory checks are skipped.
const raceEnabled = true
