// Command echoserver is the WebSocket echo/push server used by the comparison
// benchmarks (see ../../README.md). It listens on a loopback address, prints
// the address it listens on as the first line of stdout and serves until it is
// killed.
//
//	echoserver [-addr 127.0.0.1:0] [-watch-stdin] [-max-life 30m]
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/wsactor/wsactor/benchmarks/internal/echoserver"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	watch := flag.Bool("watch-stdin", false, "exit when stdin reaches EOF (parent closed the pipe)")
	maxLife := flag.Duration("max-life", 30*time.Minute, "exit after this long (0: never)")
	flag.Parse()
	if err := echoserver.Main(*addr, *watch, *maxLife); err != nil {
		fmt.Fprintln(os.Stderr, "echoserver:", err)
		os.Exit(1)
	}
}
