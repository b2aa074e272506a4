//go:build !unix

// Package cputime reads the CPU time the running process has used.
package cputime

import "time"

// Process returns the CPU time this process has used so far; ok is false
// where the system does not tell (here).
func Process() (d time.Duration, ok bool) { return 0, false }
