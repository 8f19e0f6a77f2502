// Command echoprof runs sequential 16-byte echo round trips against a
// running echo server with wsactor (or, with -raw, a bare gobwas/ws loop)
// and prints the mean round trip, optionally with a CPU profile. Run under
// taskset with the server pinned to see what placement does:
//
//	taskset -c 1 /tmp/echoserver -addr 127.0.0.1:9001 &
//	taskset -c 0 go run ./cmd/echoprof -url ws://127.0.0.1:9001/          # apart
//	taskset -c 1 go run ./cmd/echoprof -url ws://127.0.0.1:9001/ -raw     # together
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/wsactor/wsactor"
	"github.com/wsactor/wsactor/benchmarks/internal/cpuprof"
)

func main() {
	url := flag.String("url", "", "echo server URL (ws://host:port)")
	n := flag.Int("n", 50000, "round trips")
	prof := flag.String("prof", "", "write a CPU profile here")
	raw := flag.Bool("raw", false, "a bare gobwas/ws loop instead of wsactor")
	flag.Parse()
	if *raw {
		rawEcho(*url, *n)
		return
	}
	c, err := wsactor.Dial(context.Background(), *url, wsactor.WithBatchDelivery())
	if err != nil {
		panic(err)
	}
	<-c.Events()
	defer cpuprof.Start(*prof)()
	p := make([]byte, 16)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < *n; i++ {
		if err := c.Send(ctx, wsactor.Binary, p); err != nil {
			panic(err)
		}
		switch e := (<-c.Events()).(type) {
		case *wsactor.Message:
			e.Release()
		case *wsactor.Batch:
			e.Release()
		default:
			panic(fmt.Sprintf("%T", e))
		}
	}
	d := time.Since(start)
	fmt.Printf("%.1f us/rt\n", float64(d.Microseconds())/float64(*n))
	c.Abort()
}

func rawEcho(url string, n int) {
	nc, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		panic(err)
	}
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	rd := bufio.NewReaderSize(r, 4096)
	p := make([]byte, 16)
	buf := make([]byte, 64)
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := wsutil.WriteClientBinary(nc, p); err != nil {
			panic(err)
		}
		h, err := ws.ReadHeader(rd)
		if err != nil {
			panic(err)
		}
		if _, err := io.ReadFull(rd, buf[:h.Length]); err != nil {
			panic(err)
		}
	}
	d := time.Since(start)
	fmt.Printf("raw %.1f us/rt\n", float64(d.Microseconds())/float64(n))
}
