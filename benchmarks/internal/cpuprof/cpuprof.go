// Package cpuprof starts a CPU profile for the single-process benchmark
// tools (cmd/echoprof, cmd/pushprof).
package cpuprof

import (
	"os"
	"runtime/pprof"
)

// Start writes a CPU profile to path until the returned stop is called; an
// empty path profiles nothing. Errors end the program: these are tools.
func Start(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
