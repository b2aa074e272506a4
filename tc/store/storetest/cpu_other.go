//go:build !unix

package storetest

func cpuNanos() int64 { return -1 }
