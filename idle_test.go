package wsactor_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
)

// Idle detach (WithIdleDetach): an idle actor's goroutine exits and the
// shared poller resumes it. These tests park actors at once (0) and check
// every way back: data, Close, Abort, the peer going away, keepalive and
// close deadlines. The whole suite also runs with WSACTOR_IDLE_DETACH=0 in
// .ci/run.

func needDetach(t *testing.T) {
	t.Helper()
	if !wsactor.IdleDetachSupported {
		t.Skip("idle detach needs epoll (Linux)")
	}
}

func dialParked(t *testing.T, url string, opts ...wsactor.Option) *wsactor.Conn {
	t.Helper()
	c, err := wsactor.Dial(ctxT(t), url, append([]wsactor.Option{wsactor.WithIdleDetach(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	mustOpen(t, c)
	awaitParked(t, c)
	return c
}

func awaitParked(t *testing.T, c *wsactor.Conn) {
	t.Helper()
	pollUntil(t, func() string { return "actor not parked" }, func() bool { return wsactor.Parked(c) })
}

// The server replies to each message while the client's actor is parked:
// each reply resumes it.
func TestIdleDetachEcho(t *testing.T) {
	needDetach(t)
	c := dialParked(t, echoURL(t))
	for i := range 50 {
		awaitParked(t, c)
		msg := fmt.Sprint("hi ", i)
		if err := c.SendText(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		ev := next(t, c)
		if m, ok := ev.(*wsactor.Message); !ok || string(m.Data) != msg {
			t.Fatalf("round %d: got %#v", i, ev)
		}
	}
	awaitParked(t, c)
	if err := c.Close(wsactor.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	if cl := mustClose(t, next(t, c)); !cl.Clean || cl.Code != wsactor.StatusNormalClosure {
		t.Fatalf("close: %+v", cl)
	}
}

// A message and a close frame from the server, each arriving while the
// actor is parked.
func TestIdleDetachServerPushAndClose(t *testing.T) {
	needDetach(t)
	step := make(chan struct{})
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		<-step
		if _, err := nc.Write(frame(ws.OpText, true, []byte("pushed"))); err != nil {
			return err
		}
		<-step
		if _, err := nc.Write(closeFrame(ws.StatusGoingAway, "moving")); err != nil {
			return err
		}
		return expectClose(br, ws.StatusGoingAway)
	})
	c := dialParked(t, url)
	step <- struct{}{}
	if m, ok := next(t, c).(*wsactor.Message); !ok || string(m.Data) != "pushed" {
		t.Fatalf("want the pushed message")
	}
	awaitParked(t, c)
	step <- struct{}{}
	cl := mustClose(t, next(t, c))
	if cl.Code != wsactor.StatusGoingAway || cl.Reason != "moving" || !cl.Clean {
		t.Fatalf("close: %+v", cl)
	}
	<-c.Done()
}

// Abort, and the server dropping TCP, end a parked connection at once.
func TestIdleDetachAbortAndPeerGone(t *testing.T) {
	needDetach(t)
	t.Run("abort", func(t *testing.T) {
		hold := make(chan struct{})
		defer close(hold)
		c := dialParked(t, scripted(t, func(nc net.Conn, br *bufio.Reader) error { <-hold; return nil }))
		c.Abort()
		if cl := mustClose(t, next(t, c)); !errors.Is(cl.Err, wsactor.ErrAborted) || cl.Code != wsactor.StatusAbnormalClosure {
			t.Fatalf("close: %+v", cl)
		}
	})
	t.Run("peer gone", func(t *testing.T) {
		step := make(chan struct{})
		c := dialParked(t, scripted(t, func(nc net.Conn, br *bufio.Reader) error { <-step; return nil }))
		close(step) // the handler returns and the server closes TCP
		if cl := mustClose(t, next(t, c)); cl.Err == nil || cl.Code != wsactor.StatusAbnormalClosure {
			t.Fatalf("close: %+v", cl)
		}
	})
}

// Keepalive deadlines wake a parked actor: pings go out while the server
// answers, and a server that stops answering fails the connection with
// 1008 and ErrPongTimeout.
func TestIdleDetachKeepalive(t *testing.T) {
	needDetach(t)
	const answered = 3
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		for i := 0; ; i++ {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			switch f.Header.OpCode {
			case ws.OpPing:
				if i < answered {
					if _, err := nc.Write(frame(ws.OpPong, true, f.Payload)); err != nil {
						return err
					}
				}
			case ws.OpClose:
				code, _ := ws.ParseCloseFrameData(f.Payload)
				if code != ws.StatusPolicyViolation {
					return fmt.Errorf("close %d, want 1008", code)
				}
				return nil
			default:
				return fmt.Errorf("unexpected %v frame", f.Header.OpCode)
			}
		}
	})
	c := dialParked(t, url, wsactor.WithKeepalive(5e6, 50e6)) // 5 ms, 50 ms
	cl := mustClose(t, next(t, c))
	if !errors.Is(cl.Err, wsactor.ErrPongTimeout) || cl.Sent != wsactor.StatusPolicyViolation {
		t.Fatalf("close: %+v", cl)
	}
}

// Close on a parked connection whose server never answers ends with
// ErrCloseTimeout: the close deadline wakes the actor.
func TestIdleDetachCloseTimeout(t *testing.T) {
	needDetach(t)
	hold := make(chan struct{})
	defer close(hold)
	c := dialParked(t, scripted(t, func(nc net.Conn, br *bufio.Reader) error { <-hold; return nil }), wsactor.WithCloseTimeout(30e6))
	if err := c.Close(wsactor.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if cl := mustClose(t, next(t, c)); !errors.Is(cl.Err, wsactor.ErrCloseTimeout) {
		t.Fatalf("close: %+v", cl)
	}
}

// Many parked connections hold no actor goroutine; all of them still work.
func TestIdleDetachManyConns(t *testing.T) {
	needDetach(t)
	const n = 200
	url := echoURL(t)
	conns := make([]*wsactor.Conn, n)
	for i := range conns {
		conns[i] = dialParked(t, url)
	}
	pollUntil(t, func() string {
		return fmt.Sprintf("%d actor goroutines with %d connections parked", connGoroutines(), n)
	},
		func() bool { return connGoroutines() == 0 })
	for i, c := range conns {
		if err := c.SendText(context.Background(), "x"); err != nil {
			t.Fatal(i, err)
		}
	}
	for i, c := range conns {
		if m, ok := next(t, c).(*wsactor.Message); !ok || string(m.Data) != "x" {
			t.Fatalf("conn %d: no echo", i)
		}
	}
	for _, c := range conns {
		_ = c.Close(wsactor.StatusNormalClosure, "")
	}
	for i, c := range conns {
		if cl := mustClose(t, next(t, c)); !cl.Clean {
			t.Fatalf("conn %d: %+v", i, cl)
		}
	}
}

// connGoroutines counts goroutines running a connection's actor or
// callback dispatcher.
func connGoroutines() int {
	buf := make([]byte, 1<<22)
	st := string(buf[:runtime.Stack(buf, true)])
	return strings.Count(st, "wsactor.(*actor).readSide") + strings.Count(st, "wsactor.(*Conn).dispatch")
}

// Connections used through callbacks hold no goroutine at all while idle:
// the actor is parked and the dispatcher runs only while events wait. Each
// message restarts both, in order.
func TestIdleDetachCallbacksNoGoroutines(t *testing.T) {
	needDetach(t)
	const n, rounds = 100, 3
	url := echoURL(t)
	got := make(chan string, n*rounds)
	closed := make(chan *wsactor.Close, n)
	conns := make([]*wsactor.Conn, n)
	for i := range conns {
		c, err := wsactor.New(url, wsactor.WithIdleDetach(0))
		if err != nil {
			t.Fatal(err)
		}
		opened := make(chan struct{})
		c.OnOpen(func(*wsactor.Open) { close(opened) })
		c.OnMessage(func(m *wsactor.Message) { got <- fmt.Sprint(i, ":", string(m.Data)) })
		c.OnClose(func(cl *wsactor.Close) { closed <- cl })
		if err := c.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Abort)
		<-opened
		conns[i] = c
	}
	for r := range rounds {
		pollUntil(t, func() string {
			return fmt.Sprintf("%d connection goroutines for %d idle connections", connGoroutines(), n)
		},
			func() bool { return connGoroutines() == 0 })
		for _, c := range conns {
			if err := c.SendText(context.Background(), fmt.Sprint(r)); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		for range n {
			select {
			case s := <-got:
				seen[s] = true
			case <-ctxT(t).Done():
				t.Fatalf("round %d: %d of %d callbacks ran", r, len(seen), n)
			}
		}
		for i := range n {
			if !seen[fmt.Sprint(i, ":", r)] {
				t.Fatalf("round %d: conn %d: no callback", r, i)
			}
		}
	}
	for _, c := range conns {
		_ = c.Close(wsactor.StatusNormalClosure, "")
	}
	for range n {
		if cl := <-closed; !cl.Clean {
			t.Fatalf("close: %+v", cl)
		}
	}
	for _, c := range conns {
		<-c.Done()
	}
}

// The dispatcher stops whenever the channel is empty and restarts with the
// next event; handlers still see every message once, in order, and the
// Close after them.
func TestCallbacksOrderAcrossRestarts(t *testing.T) {
	const chunks, per = 40, 50
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		for k := range chunks {
			var b []byte
			for j := range per {
				b = append(b, frame(ws.OpText, true, []byte(fmt.Sprint(k*per+j)))...)
			}
			if _, err := nc.Write(b); err != nil {
				return err
			}
		}
		if _, err := nc.Write(closeFrame(ws.StatusNormalClosure, "")); err != nil {
			return err
		}
		return expectClose(br, ws.StatusNormalClosure)
	})
	for _, opts := range [][]wsactor.Option{nil, {wsactor.WithBatchDelivery()}, {wsactor.WithIdleDetach(0)}} {
		c, err := wsactor.New(url, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var seq []string
		done := make(chan *wsactor.Close, 1)
		c.OnMessage(func(m *wsactor.Message) { seq = append(seq, m.Text()) })
		c.OnClose(func(cl *wsactor.Close) { done <- cl })
		if err := c.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		var cl *wsactor.Close
		select {
		case cl = <-done:
		case <-ctxT(t).Done():
			t.Fatal("no close")
		}
		<-c.Done()
		if !cl.Clean || len(seq) != chunks*per {
			t.Fatalf("%d messages, close %+v", len(seq), cl)
		}
		for i, s := range seq {
			if s != fmt.Sprint(i) {
				t.Fatalf("message %d is %q", i, s)
			}
		}
	}
}

// Large messages that are already waiting in the socket are batched (the
// actor peeks after each one); whatever ends the stream after them, a clean
// close or EOF, arrives after every message, and a reset seen by a
// non-blocking read is reported, not lost.
func TestLargeMessagesBatchedThenEnd(t *testing.T) {
	const n, size = 12, 20 << 10
	for _, end := range []string{"close", "eof", "reset"} {
		t.Run(end, func(t *testing.T) {
			url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
				var b []byte
				for i := range n {
					p := make([]byte, size)
					p[0] = byte(i)
					b = append(b, frame(ws.OpBinary, true, p)...)
				}
				if end == "close" {
					b = append(b, closeFrame(ws.StatusNormalClosure, "")...)
				}
				if _, err := nc.Write(b); err != nil {
					return err
				}
				switch end {
				case "close":
					return expectClose(br, ws.StatusNormalClosure)
				case "reset":
					_ = nc.(*net.TCPConn).SetLinger(0) // Close sends RST
				}
				return nil
			})
			for _, opts := range [][]wsactor.Option{nil, {wsactor.WithBatchDelivery()}} {
				c, err := wsactor.Dial(ctxT(t), url, opts...)
				if err != nil {
					t.Fatal(err)
				}
				mustOpen(t, c)
				var got []byte
				var cl *wsactor.Close
				for cl == nil {
					switch e := next(t, c).(type) {
					case *wsactor.Message:
						got = append(got, e.Data[0])
					case *wsactor.Batch:
						for _, m := range e.Messages {
							got = append(got, m.Data[0])
						}
					case *wsactor.Close:
						cl = e
					}
				}
				for i, v := range got {
					if int(v) != i {
						t.Fatalf("message %d carries %d", i, v)
					}
				}
				switch end {
				case "close":
					if len(got) != n || !cl.Clean {
						t.Fatalf("%d messages (want %d), close %+v", len(got), n, cl)
					}
				case "eof":
					if len(got) != n || cl.Code != wsactor.StatusAbnormalClosure || !errors.Is(cl.Err, io.ErrUnexpectedEOF) {
						t.Fatalf("%d messages (want %d), close %+v", len(got), n, cl)
					}
				case "reset":
					// The kernel drops unread data when the RST arrives: a
					// prefix of the messages, then the reset itself.
					if cl.Code != wsactor.StatusAbnormalClosure || !errors.Is(cl.Err, syscall.ECONNRESET) {
						t.Fatalf("%d messages, close %+v (want ECONNRESET)", len(got), cl)
					}
				}
			}
		})
	}
}

// If waiting on the shared poller ever fails, the parked actors are resumed
// (nothing is stranded) and connections stop parking but keep working.
func TestIdleDetachPollerFailure(t *testing.T) {
	needDetach(t)
	t.Cleanup(wsactor.ResetPoller)
	step := make(chan struct{})
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		<-step
		if _, err := nc.Write(frame(ws.OpText, true, []byte("wake"))); err != nil {
			return err
		}
		for {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			if f.Header.OpCode == ws.OpClose {
				_, err := nc.Write(closeFrame(ws.StatusNormalClosure, ""))
				return err
			}
			if _, err := nc.Write(frame(f.Header.OpCode, true, f.Payload)); err != nil {
				return err
			}
		}
	})
	c := dialParked(t, url)
	wsactor.FailPollerWait()
	step <- struct{}{} // the poller wakes, "fails", resumes every parked actor
	if m, ok := next(t, c).(*wsactor.Message); !ok || m.Text() != "wake" {
		t.Fatal("want the message that woke the poller")
	}
	if !wsactor.PollerBroken() {
		t.Fatal("poller not switched off after a failed wait")
	}
	for i := range 5 { // works on without parking
		if err := c.SendText(context.Background(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		if m, ok := next(t, c).(*wsactor.Message); !ok || m.Text() != fmt.Sprint(i) {
			t.Fatalf("echo %d", i)
		}
		if wsactor.Parked(c) {
			t.Fatal("parked after the poller was switched off")
		}
	}
	if err := c.Close(wsactor.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if cl := mustClose(t, next(t, c)); !cl.Clean {
		t.Fatalf("close: %+v", cl)
	}
}

// A parked actor keeps nothing it holds only for speed while messages flow
// (in-flight ring, batch array, released messages taken for reuse), nor
// its reading state (frame reader, raw socket helper: back to a pool), and
// makes or takes them again for the next burst. An actor that parks while its last
// events still wait in the channel keeps the ring (it accounts for them)
// until its next wake-up: here a ping, sent once every event is consumed.
func TestIdleDetachDropsBurstState(t *testing.T) {
	needDetach(t)
	step := make(chan struct{})
	ponged := make(chan error)
	// The second burst is shorter: its messages come from the first one's
	// released ones, and the actor is left holding part of a stock.
	bursts := []int{300, 100}
	burstFrames := func(n int) (b []byte) {
		for i := range n {
			b = append(b, frame(ws.OpText, true, []byte(fmt.Sprintf("m%03d", i)))...)
		}
		return b
	}
	quit := make(chan struct{})
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		for _, n := range bursts {
			for _, out := range [][]byte{burstFrames(n), frame(ws.OpPing, true, []byte("p"))} {
				select {
				case <-step:
				case <-quit:
					return nil
				}
				if _, err := nc.Write(out); err != nil {
					return err
				}
			}
			f, err := readClientFrame(br)
			if err == nil && (f.Header.OpCode != ws.OpPong || string(f.Payload) != "p") {
				err = fmt.Errorf("want the pong, got %v %q", f.Header.OpCode, f.Payload)
			}
			select {
			case ponged <- err:
			case <-quit:
				return nil
			}
		}
		<-quit
		return nil
	})
	t.Cleanup(func() { close(quit) }) // runs before scripted's wait
	c := dialParked(t, url, wsactor.WithBatchDelivery())
	for round, burst := range bursts {
		step <- struct{}{}
		got := 0
		check := func(m *wsactor.Message) {
			if want := fmt.Sprintf("m%03d", got); string(m.Data) != want {
				t.Fatalf("round %d: message %q, want %q", round, m.Data, want)
			}
			got++
		}
		for got < burst {
			switch e := next(t, c).(type) {
			case *wsactor.Message:
				check(e)
				e.Release()
			case *wsactor.Batch:
				for _, m := range e.Messages {
					check(m)
				}
				e.Release()
			default:
				t.Fatalf("round %d: got %#v", round, e)
			}
		}
		step <- struct{}{} // the ping: the actor wakes with nothing in the channel
		if err := <-ponged; err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		awaitParked(t, c)
		if ring, batch, stocks := wsactor.ParkedKeeps(c); ring != 0 || batch != 0 || stocks != 0 {
			t.Fatalf("round %d: parked actor keeps a %d-slot ring, a %d-slot batch array, %d stocks", round, ring, batch, stocks)
		}
		if wsactor.ParkedHot(c) {
			t.Fatalf("round %d: parked actor keeps its reading state or raw writer", round)
		}
	}
}
