// Command pushprof measures wsactor alone on the push scenario (the echo
// server's /push path), many repetitions in one process, optionally with a
// CPU profile: a quicker loop than cmd/compare for work on the receive path.
//
//	go build -o /tmp/echoserver ./cmd/echoserver && /tmp/echoserver -addr 127.0.0.1:9001 &
//	go run ./cmd/pushprof -url ws://127.0.0.1:9001 -size 16 -reps 30 -prof /tmp/push.prof
package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"time"

	"github.com/wsactor/wsactor"
	"github.com/wsactor/wsactor/benchmarks/internal/cpuprof"
)

func main() {
	url := flag.String("url", "", "echo server URL (ws://host:port)")
	n := flag.Int("n", 200000, "messages per repetition")
	size := flag.Int("size", 16, "message size")
	reps := flag.Int("reps", 30, "repetitions (a fresh connection each)")
	prof := flag.String("prof", "", "write a CPU profile here")
	cb := flag.Bool("cb", false, "receive through OnMessage instead of Events()")
	flag.Parse()
	defer cpuprof.Start(*prof)()
	var rates []float64
	var batches, singles int
	for r := 0; r < *reps; r++ {
		start := time.Now()
		c, err := wsactor.Dial(context.Background(), fmt.Sprintf("%s/push?n=%d&size=%d", *url, *n, *size), wsactor.WithMaxMessageSize(16<<20), wsactor.WithBatchDelivery())
		if err != nil {
			panic(err)
		}
		recv := 0
		var end time.Time
		if *cb {
			done := make(chan struct{})
			c.OnMessage(func(m *wsactor.Message) {
				recv++
				m.Release()
				if recv == *n {
					end = time.Now()
					close(done)
				}
			})
			<-done
			c.Abort()
			<-c.Done()
			rates = append(rates, float64(recv)/end.Sub(start).Seconds())
			continue
		}
	loop:
		for ev := range c.Events() {
			switch e := ev.(type) {
			case *wsactor.Message:
				recv++
				singles++
				e.Release()
			case *wsactor.Batch:
				recv += len(e.Messages)
				batches++
				e.Release()
			}
			if recv >= *n {
				end = time.Now()
				break loop
			}
		}
		c.Abort()
		for range c.Events() {
		}
		rates = append(rates, float64(recv)/end.Sub(start).Seconds())
	}
	sort.Float64s(rates)
	fmt.Printf("median %.0f msgs/s (min %.0f max %.0f); %d batch events, %d single messages\n", rates[len(rates)/2], rates[0], rates[len(rates)-1], batches, singles)
}
