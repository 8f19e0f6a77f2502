// Command idleprof dials N idle wsactor connections (each with a
// `range Events()` goroutine, like the wsactor adapter) against a running
// echo server and prints what one costs: RSS, live heap, heap in use,
// stacks and off-heap runtime memory per connection. With PROF=1 it also
// records every allocation and writes a heap profile to /tmp/idle.heap:
//
//	go build -o /tmp/echoserver ./cmd/echoserver && /tmp/echoserver -addr 127.0.0.1:9001 &
//	PROF=1 go run ./cmd/idleprof -url ws://127.0.0.1:9001/ -n 5000
//	go tool pprof -sample_index=inuse_space -top /tmp/idle.heap
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/wsactor/wsactor"
)

func main() {
	url := flag.String("url", "", "")
	n := flag.Int("n", 2000, "")
	evbuf := flag.Int("eventbuf", wsactor.DefaultEventBuffer, "WithEventBuffer")
	cb := flag.Bool("cb", false, "consume through callbacks (no goroutine per connection)")
	msgs := flag.Int("msgs", 0, "round trips of 16 B messages on each connection before it goes idle (the consumer releases what it receives)")
	flag.Parse()
	if os.Getenv("PROF") != "" {
		runtime.MemProfileRate = 1
	}
	var conns []*wsactor.Conn
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms0)
	rss0 := rss()
	for i := 0; i < *n; i++ {
		c, err := wsactor.Dial(context.Background(), *url, wsactor.WithMaxMessageSize(16<<20), wsactor.WithBatchDelivery(), wsactor.WithEventBuffer(*evbuf))
		if err != nil {
			panic(err)
		}
		got := make(chan struct{}, 1)
		release := func(m *wsactor.Message) {
			m.Release()
			select {
			case got <- struct{}{}:
			default:
			}
		}
		if *cb {
			c.OnMessage(release)
		} else {
			go func() {
				for ev := range c.Events() {
					switch e := ev.(type) {
					case *wsactor.Message:
						release(e)
					case *wsactor.Batch:
						e.Release()
						select {
						case got <- struct{}{}:
						default:
						}
					}
				}
			}()
		}
		for j := 0; j < *msgs; j++ {
			if err := c.Send(context.Background(), wsactor.Text, []byte("0123456789abcdef")); err != nil {
				panic(err)
			}
			<-got
		}
		conns = append(conns, c)
	}
	time.Sleep(time.Second)
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms1)
	rss1 := rss()
	d := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(*n) }
	fmt.Printf("rss/conn %.0f heapAlloc %.0f heapInuse %.0f stackInuse %.0f mspan %.0f gcsys %.0f other %.0f buckhash %.0f\n",
		(rss1-rss0)/float64(*n), d(ms0.HeapAlloc, ms1.HeapAlloc), d(ms0.HeapInuse, ms1.HeapInuse), d(ms0.StackInuse, ms1.StackInuse),
		d(ms0.MSpanInuse, ms1.MSpanInuse), d(ms0.GCSys, ms1.GCSys), d(ms0.OtherSys, ms1.OtherSys), d(ms0.BuckHashSys, ms1.BuckHashSys))
	fmt.Printf("heap/conn %.0f B stack/conn %.0f B goroutines %d\n", float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(*n), float64(ms1.StackInuse-ms0.StackInuse)/float64(*n), runtime.NumGoroutine())
	if os.Getenv("PROF") != "" {
		f, err := os.Create("/tmp/idle.heap")
		if err != nil {
			panic(err)
		}
		_ = pprof.Lookup("heap").WriteTo(f, 0)
		_ = f.Close()
	}
	for _, c := range conns {
		c.Close(1000, "")
	}
	for _, c := range conns {
		<-c.Done()
	}
}

func rss() float64 {
	b, _ := os.ReadFile("/proc/self/statm")
	f := strings.Fields(string(b))
	v, _ := strconv.Atoi(f[1])
	return float64(v * os.Getpagesize())
}
