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
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/wsactor/wsactor"
)

func main() {
	url := flag.String("url", "", "")
	n := flag.Int("n", 2000, "")
	evbuf := flag.Int("eventbuf", 0, "WithEventBuffer (0: the default)")
	timeout := flag.Duration("timeout", 0, "dial with a context.WithTimeout of this (as compare does); 0: context.Background()")
	cb := flag.Bool("cb", false, "consume through callbacks (no goroutine per connection)")
	bySize := flag.Bool("bysize", false, "print live and freed objects per size class (per connection)")
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
		opts := []wsactor.Option{wsactor.WithMaxMessageSize(16 << 20), wsactor.WithBatchDelivery()}
		if *evbuf > 0 {
			opts = append(opts, wsactor.WithEventBuffer(*evbuf))
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if *timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, *timeout)
		}
		c, err := wsactor.Dial(ctx, *url, opts...)
		cancel()
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
	ss := []metrics.Sample{{Name: "/gc/stack/starting-size:bytes"}}
	metrics.Read(ss)
	fmt.Printf("starting stack %d B\n", ss[0].Value.Uint64())
	fmt.Printf("heap/conn %.0f B stack/conn %.0f B goroutines %d\n", float64(ms1.HeapAlloc-ms0.HeapAlloc)/float64(*n), float64(ms1.StackInuse-ms0.StackInuse)/float64(*n), runtime.NumGoroutine())
	if *bySize {
		fmt.Printf("%6s %8s %8s %8s\n", "class", "live", "freed", "liveB")
		for i := range ms1.BySize {
			a, b := ms0.BySize[i], ms1.BySize[i]
			live := float64((b.Mallocs-b.Frees)-(a.Mallocs-a.Frees)) / float64(*n)
			freed := float64(b.Frees-a.Frees) / float64(*n)
			if live > 0.05 || freed > 0.05 {
				fmt.Printf("%6d %8.2f %8.2f %8.0f\n", b.Size, live, freed, live*float64(b.Size))
			}
		}
	}
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
