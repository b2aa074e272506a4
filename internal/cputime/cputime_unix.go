//go:build unix

// Package cputime reads the CPU time the running process has used.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time (user and system, all threads) this process
// has used so far; ok is false where the system does not tell.
func Process() (d time.Duration, ok bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
