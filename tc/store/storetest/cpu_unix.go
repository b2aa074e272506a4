//go:build unix

package storetest

import "syscall"

// cpuNanos returns the CPU time (user and system) this process has used,
// or -1 if the system does not tell.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
