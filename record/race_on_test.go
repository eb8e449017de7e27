//go:build race

package record

// raceEnabled skips allocation counts, which the race detector disturbs.
const raceEnabled = true
