//go:build !race

package reliability

// raceEnabled reports whether this test binary has the race detector.
const raceEnabled = false
