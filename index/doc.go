// Package index is chronik's real-time search.
package index
