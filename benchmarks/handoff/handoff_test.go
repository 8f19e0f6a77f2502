// Package handoff measures what a goroutine hand-off costs a sequential
// request/response exchange, independent of any WebSocket library: a
// loopback TCP echo read in the sending goroutine (what gorilla, gws and a
// raw gobwas/ws loop do) against the same echo read by a second goroutine
// that passes each reply over a channel (what any actor/channel design,
// wsactor's included, must do).
//
//	cd benchmarks && go test -bench . -count 6 ./handoff | benchstat -
package handoff

import (
	"net"
	"testing"
)

func echoServer(b *testing.B) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkDirect: write, then read the echo in the same goroutine.
func BenchmarkDirect(b *testing.B) {
	c := echoServer(b)
	p := make([]byte, 16)
	for b.Loop() {
		if _, err := c.Write(p); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderGoroutine: write, then receive the echo from a reader
// goroutine over a buffered channel.
func BenchmarkReaderGoroutine(b *testing.B) {
	c := echoServer(b)
	ch := make(chan []byte, 32)
	go func() {
		defer close(ch)
		buf := make([]byte, 64)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			ch <- buf[:n]
		}
	}()
	p := make([]byte, 16)
	for b.Loop() {
		if _, err := c.Write(p); err != nil {
			b.Fatal(err)
		}
		<-ch
	}
	c.Close()
	for range ch {
	}
}
