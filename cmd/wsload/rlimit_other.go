//go:build !unix

package main

// raiseNoFile is a no-op where RLIMIT_NOFILE does not exist.
func raiseNoFile() (uint64, error) { return 0, nil }
