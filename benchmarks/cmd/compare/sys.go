package main

import (
	"bufio"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuTime returns user+system CPU time consumed by this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// vmRSS returns VmRSS from /proc/self/status in bytes (0 if unavailable).
func vmRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) >= 1 {
				kb, _ := strconv.ParseInt(fields[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

type memSnap struct {
	RSS        int64
	HeapAlloc  int64
	HeapInuse  int64
	StackInuse int64
	Sys        int64
	Goroutines int
}

// snapshot collects garbage, returns freed memory to the OS (so VmRSS
// reflects what is retained, not transient handshake garbage) and samples.
func snapshot() memSnap {
	runtime.GC()
	debug.FreeOSMemory() // includes another GC
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{
		RSS:        vmRSS(),
		HeapAlloc:  int64(ms.HeapAlloc),
		HeapInuse:  int64(ms.HeapInuse),
		StackInuse: int64(ms.StackInuse),
		Sys:        int64(ms.Sys),
		Goroutines: runtime.NumGoroutine(),
	}
}
