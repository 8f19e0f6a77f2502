package wsactor_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
)

// Benchmarks report allocations per message: the targets are none per sent
// message in steady state and at most one per received message (its
// payload). Compare runs with benchstat:
//
//	go test -run '^$' -bench 'Send|Receive|Echo' -count 6 > new.txt && benchstat old.txt new.txt
//
// The in-process peers below do not allocate per message, so allocs/op is
// the client's.

// benchConn starts a peer that runs serve after the opening handshake,
// dials it and consumes Open. The connection is aborted and drained at the
// end of the benchmark.
func benchConn(b *testing.B, serve func(nc net.Conn) error, opts ...wsactor.Option) *wsactor.Conn {
	b.Helper()
	url := scripted(b, func(nc net.Conn, _ *bufio.Reader) error { return serve(nc) })
	c, err := wsactor.Dial(context.Background(), url, opts...)
	if err != nil {
		b.Fatal(err)
	}
	<-c.Events() // Open
	b.Cleanup(func() {
		c.Abort()
		for range c.Events() {
		}
	})
	return c
}

// BenchmarkSend measures Send into a server that only reads.
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			c := benchConn(b, func(nc net.Conn) error {
				_, _ = io.Copy(io.Discard, nc)
				return nil
			})
			p := bytes.Repeat([]byte("x"), size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.SendBinary(ctx, p); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			st := c.Stats()
			b.ReportMetric(float64(st.MessagesOut)/float64(max(st.WriteCalls, 1)), "msgs/write")
		})
	}
}

// BenchmarkReceive measures server push: a peer writes pre-encoded frames
// as fast as the client takes them; the consumer ranges over Events() and
// releases what it gets. With /batch the connection delivers backlogs as
// *Batch events (WithBatchDelivery). One op is one message.
func BenchmarkReceive(b *testing.B) {
	for _, batched := range []bool{false, true} {
		for _, size := range []int{16, 1024, 64 << 10} {
			name := strconv.Itoa(size)
			var opts []wsactor.Option
			if batched {
				name += "/batch"
				opts = append(opts, wsactor.WithBatchDelivery())
			}
			b.Run(name, func(b *testing.B) { benchReceive(b, size, false, opts...) })
		}
	}
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(strconv.Itoa(size)+"/receive", func(b *testing.B) { benchReceive(b, size, true) })
	}
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(strconv.Itoa(size)+"/callbacks", func(b *testing.B) { benchReceiveCallbacks(b, size) })
	}
}

// benchReceiveCallbacks is server push through OnMessage, releasing each
// message in the handler, with batches (as wsactor-cb in benchmarks/).
func benchReceiveCallbacks(b *testing.B, size int) {
	frames := pushFrames(size)
	url := scripted(b, func(nc net.Conn, _ *bufio.Reader) error {
		for {
			if _, err := nc.Write(frames); err != nil {
				return nil
			}
		}
	})
	c, err := wsactor.New(url, wsactor.WithBatchDelivery())
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	n := 0
	c.OnMessage(func(m *wsactor.Message) {
		m.Release()
		if n++; n == b.N {
			close(done)
		}
	})
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	if err := c.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-done
	b.StopTimer()
	c.Abort()
	c.Wait()
}

// pushFrames is about 64 KiB of pre-encoded frames of size bytes each.
func pushFrames(size int) []byte {
	var out []byte
	for range max(1, (64<<10)/(size+10)) {
		out = append(out, frame(ws.OpBinary, true, bytes.Repeat([]byte("y"), size))...)
	}
	return out
}

// benchNext returns the next event through Events() or, with pull, Receive.
func benchNext(b *testing.B, c *wsactor.Conn, pull bool) wsactor.Event {
	if !pull {
		return <-c.Events()
	}
	ev, err := c.Receive(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return ev
}

func benchReceive(b *testing.B, size int, pull bool, opts ...wsactor.Option) {
	batch := pushFrames(size)
	c := benchConn(b, func(nc net.Conn) error {
		for {
			if _, err := nc.Write(batch); err != nil {
				return nil
			}
		}
	}, opts...)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; {
		switch e := benchNext(b, c, pull).(type) {
		case *wsactor.Message:
			e.Release() // the struct and the payload go back to the pool
			n++
		case *wsactor.Batch:
			n += len(e.Messages)
			e.Release() // the batch, its messages and payloads in one step
		default:
			b.Fatalf("%T event", e)
		}
	}
	b.StopTimer()
}

// BenchmarkEcho measures sequential round trips against an in-process echo
// peer (latency-bound: one message in flight), receiving through Events()
// or, with /receive, through Receive.
func BenchmarkEcho(b *testing.B) {
	for _, pull := range []bool{false, true} {
		for _, size := range []int{16, 1024, 64 << 10} {
			name := strconv.Itoa(size)
			if pull {
				name += "/receive"
			}
			b.Run(name, func(b *testing.B) { benchEcho(b, size, pull) })
		}
	}
}

func benchEcho(b *testing.B, size int, pull bool) {
	{
		{
			c := benchConn(b, func(nc net.Conn) error {
				br := bufio.NewReaderSize(nc, 128<<10)
				payload := make([]byte, 0, 64<<10)
				var out []byte
				for {
					h, err := ws.ReadHeader(br)
					if err != nil {
						return nil
					}
					payload = payload[:h.Length]
					if _, err := io.ReadFull(br, payload); err != nil {
						return nil
					}
					if h.OpCode == ws.OpClose {
						return nil
					}
					ws.Cipher(payload, h.Mask, 0)
					out = append(out[:0], 0x80|byte(h.OpCode))
					switch n := len(payload); {
					case n <= 125:
						out = append(out, byte(n))
					case n <= 0xffff:
						out = append(out, 126, byte(n>>8), byte(n))
					default:
						out = append(out, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
					}
					out = append(out, payload...)
					if _, err := nc.Write(out); err != nil {
						return nil
					}
				}
			})
			p := bytes.Repeat([]byte("z"), size)
			ctx := context.Background()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := c.SendBinary(ctx, p); err != nil {
					b.Fatal(err)
				}
				m, ok := benchNext(b, c, pull).(*wsactor.Message)
				if !ok {
					b.Fatal("not a message")
				}
				m.Release()
			}
			b.StopTimer()
		}
	}
}
