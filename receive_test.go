package wsactor_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
)

// receive calls c.Receive, failing the test after waitFor.
func receive(t testing.TB, c *wsactor.Conn) wsactor.Event {
	t.Helper()
	ev, err := c.Receive(ctxT(t))
	if err != nil {
		t.Fatal("Receive:", err)
	}
	return ev
}

// A request/response client on Receive: each reply is read by the caller's
// goroutine (the actor is held between calls, not run by its goroutine).
func TestReceiveEcho(t *testing.T) {
	c, err := wsactor.Dial(ctxT(t), echoURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	if _, ok := receive(t, c).(*wsactor.Open); !ok {
		t.Fatal("first event is not Open")
	}
	const n = 200
	for i := range n {
		want := fmt.Appendf(nil, "message %d %s", i, bytes.Repeat([]byte{'x'}, i*37))
		if err := c.Send(context.Background(), wsactor.Binary, want); err != nil {
			t.Fatal(err)
		}
		m, ok := receive(t, c).(*wsactor.Message)
		if !ok || !bytes.Equal(m.Data, want) {
			t.Fatalf("reply %d: got %v", i, m)
		}
		m.Release()
	}
	if p := wsactor.Pulls(c); p < n/2 {
		t.Errorf("only %d of %d replies were read by Receive's goroutine", p, n)
	}
	if err := c.Close(wsactor.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	cl, ok := receive(t, c).(*wsactor.Close)
	if !ok || !cl.Clean || cl.Code != wsactor.StatusNormalClosure {
		t.Fatalf("terminal: %+v", cl)
	}
	if _, err := c.Receive(ctxT(t)); !errors.Is(err, wsactor.ErrClosed) {
		t.Fatalf("Receive after the terminal event: %v, want ErrClosed", err)
	}
	<-c.Done()
}

// receiveAsync calls Receive in a goroutine; the event arrives on the
// returned channel (nil when Receive failed).
func receiveAsync(c *wsactor.Conn) <-chan wsactor.Event {
	got := make(chan wsactor.Event, 1)
	go func() {
		ev, _ := c.Receive(context.Background())
		got <- ev
	}()
	return got
}

// awaitEvent waits for what receiveAsync returns, failing after waitFor.
func awaitEvent(t *testing.T, got <-chan wsactor.Event) wsactor.Event {
	t.Helper()
	select {
	case ev := <-got:
		return ev
	case <-time.After(waitFor):
		t.Fatal("Receive did not return")
	}
	return nil
}

// expectText fails the test unless ev is a message with text want.
func expectText(t *testing.T, ev wsactor.Event, want string) {
	t.Helper()
	if m, ok := ev.(*wsactor.Message); !ok || string(m.Data) != want {
		t.Fatalf("got %+v, want the message %q", ev, want)
	}
}

// openReceive dials url, checks that Receive returns Open first, and aborts
// the connection at the end of the test.
func openReceive(t *testing.T, url string, opts ...wsactor.Option) *wsactor.Conn {
	t.Helper()
	c, err := wsactor.Dial(ctxT(t), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	if _, ok := receive(t, c).(*wsactor.Open); !ok {
		t.Fatal("first event is not Open")
	}
	return c
}

// receiveTerminal receives until the terminal event, which it returns, and
// checks that Receive then reports ErrClosed and Done is closed.
func receiveTerminal(t *testing.T, c *wsactor.Conn) wsactor.Event {
	t.Helper()
	for {
		ev := receive(t, c)
		switch ev.(type) {
		case *wsactor.Close, *wsactor.Error:
			if _, err := c.Receive(ctxT(t)); !errors.Is(err, wsactor.ErrClosed) {
				t.Fatalf("Receive after the terminal event: %v, want ErrClosed", err)
			}
			select {
			case <-c.Done():
			case <-time.After(waitFor):
				t.Fatal("Done not closed after the terminal event")
			}
			return ev
		}
	}
}

// pseudo returns n deterministic pseudo-random bytes.
func pseudo(seed, n int) []byte {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// A Receive whose context ends while it reads stops wherever the read is
// (inside a header, a control frame's payload, a 200 KiB payload, a UTF-8
// sequence) and the next Receive goes on from there: the server writes a
// stream of frames in small chunks and cancels the running Receive after
// each chunk. Every message arrives whole, in order, and every ping is
// answered with its payload.
func TestReceiveStopsAnywhere(t *testing.T) {
	text := strings.Repeat("héllo wörld ✓ ", 6000) // multi-byte runes across chunk edges
	type msg struct {
		op ws.OpCode
		p  []byte
	}
	var want []msg
	var stream []byte
	var pings [][]byte
	for i, n := range []int{0, 1, 125, 126, 4095, 4096, 4097, 65535, 65536, 200 << 10} {
		p := pseudo(i, n)
		want = append(want, msg{ws.OpBinary, p})
		stream = append(stream, frame(ws.OpBinary, true, p)...)
		if i%3 == 1 {
			ping := pseudo(100+i, 5+i*10)
			pings = append(pings, ping)
			stream = append(stream, frame(ws.OpPing, true, ping)...)
		}
	}
	// A text message in three fragments with a ping between them.
	want = append(want, msg{ws.OpText, []byte(text)})
	stream = append(stream, frame(ws.OpText, false, []byte(text[:1001]))...)
	pings = append(pings, []byte("mid"))
	stream = append(stream, frame(ws.OpPing, true, []byte("mid"))...)
	stream = append(stream, frame(ws.OpContinuation, false, []byte(text[1001:40003]))...)
	stream = append(stream, frame(ws.OpContinuation, true, []byte(text[40003:]))...)

	var (
		mu      sync.Mutex
		cancel  context.CancelFunc = func() {}
		started                    = make(chan struct{}, 1) // a Receive with a fresh context is running
		c       *wsactor.Conn                               // set before the first started
	)
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		r := rand.New(rand.NewPCG(1, 2))
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		waitPull := true
		for k, off := 0, 0; off < len(stream); k++ {
			<-started
			if k%4 == 0 && waitPull {
				// Let this Receive take the actor and wait in the socket
				// (bounded, and only until a wait fails): the chunk and
				// the cancel then hit a Receive that reads itself, which
				// writing at once may never do on a loaded machine (the
				// cancel always came first).
				dl := time.Now().Add(time.Second)
				for !wsactor.Pulling(c) && waitPull {
					<-tick.C
					waitPull = time.Now().Before(dl)
				}
			}
			n := min(1+r.IntN(3000), len(stream)-off)
			if _, err := nc.Write(stream[off : off+n]); err != nil {
				return err
			}
			off += n
			mu.Lock()
			cancel()
			mu.Unlock()
		}
		for i, p := range pings {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			if f.Header.OpCode != ws.OpPong || !bytes.Equal(f.Payload, p) {
				return fmt.Errorf("pong %d: %v %q, want %q", i, f.Header.OpCode, f.Payload, p)
			}
		}
		if _, err := nc.Write(closeFrame(ws.StatusNormalClosure, "done")); err != nil {
			return err
		}
		return expectClose(br, ws.StatusNormalClosure)
	})
	c = openReceive(t, url)
	var got []*wsactor.Message
	stops := 0
	deadline := time.Now().Add(waitFor)
	for len(got) < len(want) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages within %v", len(got), len(want), waitFor)
		}
		ctx, cc := context.WithCancel(context.Background())
		mu.Lock()
		cancel = cc
		mu.Unlock()
		select {
		case started <- struct{}{}:
		default:
		}
		wsactor.ExpectReply(c) // the Receive reads the socket itself
		ev, err := c.Receive(ctx)
		cc()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			stops++
			continue
		}
		m, ok := ev.(*wsactor.Message)
		if !ok {
			t.Fatalf("event %d is %T %+v", len(got), ev, ev)
		}
		got = append(got, m)
	}
	for i, w := range want {
		if got[i].Type != wsactor.MessageType(w.op) || !bytes.Equal(got[i].Data, w.p) {
			t.Fatalf("message %d: %v of %d bytes, want %v of %d", i, got[i].Type, len(got[i].Data), w.op, len(w.p))
		}
	}
	cl := mustClose(t, receiveTerminal(t, c))
	if !cl.Clean || cl.Reason != "done" {
		t.Fatalf("close: %+v", cl)
	}
	if stops == 0 {
		t.Error("no Receive was stopped by its context")
	}
	t.Logf("%d Receive calls stopped by their context, %d read the socket", stops, wsactor.Pulls(c))
	if wsactor.Pulls(c) == 0 {
		t.Fatal("no Receive read the socket itself")
	}
}

// When the consumer stops calling Receive, the actor's goroutine takes the
// connection back within a hold period: pings are answered and messages
// flow to Events() again.
func TestReceiveHandsBack(t *testing.T) {
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		if _, err := readClientFrame(br); err != nil { // "go"
			return err
		}
		if _, err := nc.Write(frame(ws.OpText, true, []byte("first"))); err != nil {
			return err
		}
		if _, err := readClientFrame(br); err != nil { // "again": Receive is no longer called
			return err
		}
		for _, p := range []string{"a", "b", "c"} {
			if _, err := nc.Write(frame(ws.OpText, true, []byte(p))); err != nil {
				return err
			}
		}
		if _, err := nc.Write(frame(ws.OpPing, true, []byte("p"))); err != nil {
			return err
		}
		f, err := readClientFrame(br)
		if err != nil {
			return err
		}
		if f.Header.OpCode != ws.OpPong {
			return fmt.Errorf("got %v, want the pong", f.Header.OpCode)
		}
		if _, err := nc.Write(closeFrame(ws.StatusNormalClosure, "")); err != nil {
			return err
		}
		return expectClose(br, ws.StatusNormalClosure)
	})
	c := openReceive(t, url)
	if err := c.SendText(context.Background(), "go"); err != nil {
		t.Fatal(err)
	}
	if m, ok := receive(t, c).(*wsactor.Message); !ok || string(m.Data) != "first" {
		t.Fatalf("got %v", m)
	}
	if err := c.SendText(context.Background(), "again"); err != nil {
		t.Fatal(err)
	}
	ev, msgs := terminal(t, c) // Events() from here on
	if len(msgs) != 3 || string(msgs[0].Data) != "a" || string(msgs[2].Data) != "c" {
		t.Fatalf("messages %v", msgs)
	}
	if cl := mustClose(t, ev); !cl.Clean {
		t.Fatalf("close: %+v", cl)
	}
}

// Close and Abort end a connection whose Receive waits, reading itself
// (pulling) or on the event channel after it parked the actor (parked),
// and one that is held between Receive calls.
func TestReceiveEnds(t *testing.T) {
	closeOK := func(t *testing.T, cl *wsactor.Close) {
		if !cl.Clean || cl.Sent != wsactor.StatusNormalClosure {
			t.Fatalf("close: %+v", cl)
		}
	}
	abortOK := func(t *testing.T, cl *wsactor.Close) {
		if !errors.Is(cl.Err, wsactor.ErrAborted) {
			t.Fatalf("close: %+v", cl)
		}
	}
	ends := []struct {
		name  string
		end   func(c *wsactor.Conn)
		check func(t *testing.T, cl *wsactor.Close)
	}{
		{"Close", func(c *wsactor.Conn) { _ = c.Close(wsactor.StatusNormalClosure, "bye") }, closeOK},
		{"Abort", (*wsactor.Conn).Abort, abortOK},
	}
	for _, e := range ends {
		for _, wait := range []string{"pulling", "parked", "held"} {
			t.Run(e.name+"/"+wait, func(t *testing.T) {
				var opts []wsactor.Option
				switch wait {
				case "pulling":
					opts = append(opts, wsactor.WithIdleDetach(-1)) // the Receive reads until the end
					// No hand-back between the reply and the next Receive
					// (with detach off the goroutine would keep the socket
					// until a frame came).
					opts = append(opts, wsactor.WithHoldPeriod(time.Hour))
					// The actor's goroutine gives the connection to Receive
					// at its next wait once a Receive has waited for a reply
					// (pull mode): a first request that is not answered
					// puts the connection in pull mode before the reply to
					// the second one comes.
				case "parked":
					needDetach(t)
					opts = append(opts, wsactor.WithIdleDetach(time.Millisecond))
				}
				c := openReceive(t, quietEchoURL(t), opts...)
				var first <-chan wsactor.Event
				if wait == "pulling" {
					if err := c.SendText(context.Background(), "quiet"); err != nil {
						t.Fatal(err)
					}
					first = receiveAsync(c)
					pollUntil(t, func() string { return "Receive did not wait for the reply" },
						func() bool { return wsactor.PullMode(c) })
				}
				if err := c.SendText(context.Background(), "x"); err != nil {
					t.Fatal(err)
				}
				if first != nil {
					expectText(t, awaitEvent(t, first), "x")
				} else {
					receive(t, c) // the reply: the connection is now held
				}
				if wait == "pulling" {
					// A request without a reply yet: the next Receive
					// waits for it in the socket.
					if err := c.SendText(context.Background(), "quiet"); err != nil {
						t.Fatal(err)
					}
				}
				if wait == "held" {
					// (The hand-back timer may have taken the connection
					// back by now: ending it must work either way.)
					e.end(c)
					// Nobody calls Receive: the connection still ends.
					select {
					case <-c.Done():
					case <-time.After(waitFor):
						t.Fatal("the connection did not end")
					}
					e.check(t, mustClose(t, receiveTerminal(t, c)))
					return
				}
				got := receiveAsync(c)
				if wait == "pulling" {
					pollUntil(t, func() string {
						return fmt.Sprintf("no Receive runs the actor (held %v, parked %v, pulls %d)", wsactor.Held(c), wsactor.Parked(c), wsactor.Pulls(c))
					}, func() bool { return wsactor.Pulling(c) })
				} else {
					pollUntil(t, func() string { return "the actor did not park while Receive waited" }, func() bool { return wsactor.Parked(c) })
				}
				e.end(c)
				e.check(t, mustClose(t, awaitEvent(t, got)))
				if _, err := c.Receive(ctxT(t)); !errors.Is(err, wsactor.ErrClosed) {
					t.Fatalf("Receive after the terminal event: %v", err)
				}
			})
		}
	}
}

// Receive's context bounds a wait with nothing arriving, including a peer
// that sends half a frame and stalls; the connection is unharmed.
func TestReceiveContext(t *testing.T) {
	half := frame(ws.OpBinary, true, []byte("0123456789"))
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		for {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			switch string(f.Payload) {
			case "half":
				_, err = nc.Write(half[:6])
			case "rest":
				_, err = nc.Write(half[6:])
			default:
				if f.Header.OpCode != ws.OpClose {
					return fmt.Errorf("unexpected %v frame", f.Header.OpCode)
				}
				_, err := nc.Write(closeFrame(ws.StatusNormalClosure, ""))
				return err
			}
			if err != nil {
				return err
			}
		}
	})
	c := openReceive(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer func() {
		if cl := mustClose(t, receiveTerminal(t, c)); !cl.Clean {
			t.Errorf("close: %+v", cl)
		}
	}()
	defer cancel()
	if ev, err := c.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive with nothing to read: %v %v", ev, err)
	}
	if err := c.SendText(context.Background(), "half"); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if ev, err := c.Receive(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive with half a frame: %v %v", ev, err)
	}
	if err := c.SendText(context.Background(), "rest"); err != nil {
		t.Fatal(err)
	}
	if m, ok := receive(t, c).(*wsactor.Message); !ok || string(m.Data) != "0123456789" {
		t.Fatalf("got %v", m)
	}
	if err := c.Close(wsactor.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
}

// Receive and callbacks do not mix.
func TestReceiveWithCallbacks(t *testing.T) {
	c, err := wsactor.New(echoURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Abort()
	c.OnMessage(func(*wsactor.Message) {})
	if _, err := c.Receive(context.Background()); !errors.Is(err, wsactor.ErrCallbacks) {
		t.Fatalf("Receive with callbacks: %v", err)
	}
}

// Keepalive runs in a Receive that waits: a peer that stops answering
// pings is detected.
func TestReceiveKeepalive(t *testing.T) {
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		pings := 0
		for {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			switch f.Header.OpCode {
			case ws.OpPing:
				if pings++; pings <= 3 {
					if _, err := nc.Write(frame(ws.OpPong, true, f.Payload)); err != nil {
						return err
					}
				}
			case ws.OpClose:
				return nil
			}
		}
	})
	c := openReceive(t, url, wsactor.WithKeepalive(5*time.Millisecond, 50*time.Millisecond))
	cl := mustClose(t, receiveTerminal(t, c))
	if !errors.Is(cl.Err, wsactor.ErrPongTimeout) || cl.Sent != wsactor.StatusPolicyViolation {
		t.Fatalf("close: %+v", cl)
	}
}

// A hostile frame read by a Receive fails the connection as the actor
// would: 1002 and a *ProtocolError.
func TestReceiveProtocolError(t *testing.T) {
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		if _, err := nc.Write([]byte{0x83, 0x00}); err != nil { // reserved opcode 3
			return err
		}
		return expectClose(br, ws.StatusProtocolError)
	})
	c := openReceive(t, url)
	cl := mustClose(t, receiveTerminal(t, c))
	var pe *wsactor.ProtocolError
	if !errors.As(cl.Err, &pe) || cl.Sent != wsactor.StatusProtocolError {
		t.Fatalf("close: %+v", cl)
	}
}

// quietEchoURL serves an echo server that does not answer text messages
// that say "quiet": a client can then make Receive wait for a reply that
// does not come yet.
func quietEchoURL(t *testing.T) string {
	return scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		for {
			f, err := readClientFrame(br)
			if err != nil {
				return nil // the client went away (the tests abort it)
			}
			switch {
			case f.Header.OpCode == ws.OpClose:
				_, err = nc.Write(closeFrame(ws.StatusNormalClosure, ""))
				return err
			case string(f.Payload) != "quiet":
				if _, err := nc.Write(frame(ws.OpText, true, f.Payload)); err != nil {
					return err
				}
			}
		}
	})
}

// expectPulledReply checks that got, a Receive waiting for a reply after
// an unanswered "quiet" request, runs the actor (why: the message if it
// never does), and that the reply to the next request is read by it.
func expectPulledReply(t *testing.T, c *wsactor.Conn, got <-chan wsactor.Event, why string) {
	t.Helper()
	pollUntil(t, func() string { return why }, func() bool { return wsactor.Pulling(c) })
	if wsactor.Parked(c) {
		t.Fatal("the actor is both parked and run by Receive")
	}
	if err := c.SendText(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	expectText(t, awaitEvent(t, got), "x")
	if wsactor.Pulls(c) == 0 {
		t.Fatal("the reply was not read by Receive")
	}
}

// A Receive that waits for a reply takes an actor parked in the shared
// poller and reads itself (until the hold timer tells it to park the actor
// again).
func TestReceiveTakesParked(t *testing.T) {
	needDetach(t)
	c := openReceive(t, quietEchoURL(t), wsactor.WithIdleDetach(300*time.Millisecond))
	awaitParked(t, c)
	if err := c.SendText(context.Background(), "quiet"); err != nil {
		t.Fatal(err) // a request: the next Receive waits for a reply
	}
	expectPulledReply(t, c, receiveAsync(c), "Receive did not take the parked actor")
}

// Several goroutines may call Receive on one connection: each message goes
// to exactly one of them.
func TestReceiveConcurrent(t *testing.T) {
	const n = 3000
	url := pushThenClose(t, n, 97, func(i int) []byte { return frame(ws.OpText, true, []byte(strconv.Itoa(i))) })
	c := openReceive(t, url)
	var (
		mu   sync.Mutex
		seen = make([]int, n)
		wg   sync.WaitGroup
	)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ev, err := c.Receive(context.Background())
				if err != nil {
					return // ErrClosed
				}
				if m, ok := ev.(*wsactor.Message); ok {
					i, _ := strconv.Atoi(string(m.Data))
					mu.Lock()
					seen[i]++
					mu.Unlock()
					m.Release()
				}
			}
		}()
	}
	wg.Wait()
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("message %d received %d times", i, k)
		}
	}
	<-c.Done()
}

// A connection that parked after its linger, was resumed by data while
// Receive was in use and went straight to held: the Receive that takes it
// reads the data. (Found by 2000 connections echoing through Receive: the
// expired linger deadline stayed on the socket and the taker's read failed
// on it. Parking now puts the real deadline back; a Receive's idle wait
// also arms its own linger, so this guards the scenario end to end.)
func TestReceiveAfterParkedAndHeld(t *testing.T) {
	needDetach(t)
	c := openReceive(t, quietEchoURL(t), wsactor.WithIdleDetach(time.Millisecond))
	awaitParked(t, c) // after a linger: the socket's deadline has expired
	if err := c.SendText(context.Background(), "quiet"); err != nil {
		t.Fatal(err) // a request: the next Receive waits for a reply
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Receive(done); !errors.Is(err, context.Canceled) {
		t.Fatal(err) // Receive is now in use, without having taken the actor
	}
	if err := c.SendText(context.Background(), "hi"); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, func() string { return "the resumed actor was not held" }, func() bool { return wsactor.Held(c) })
	if m, ok := receive(t, c).(*wsactor.Message); !ok || string(m.Data) != "hi" {
		t.Fatalf("got %+v", m)
	}
	if err := c.Close(wsactor.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	if cl := mustClose(t, receiveTerminal(t, c)); !cl.Clean {
		t.Fatalf("close: %+v", cl)
	}
}

// A Receive that does not wait for a reply (nothing sent since the last
// one returned) waits like any consumer: it does not read the socket (no
// read on its stack), the actor parks, and the next frame resumes the
// actor, which delivers it to the waiting Receive.
func TestReceiveParksWhenIdle(t *testing.T) {
	needDetach(t)
	c := openReceive(t, echoURL(t), wsactor.WithIdleDetach(time.Millisecond))
	got := receiveAsync(c)
	awaitParked(t, c)
	if err := c.SendText(context.Background(), "wake"); err != nil {
		t.Fatal(err)
	}
	expectText(t, awaitEvent(t, got), "wake")
	if n := wsactor.Pulls(c); n != 0 {
		t.Fatalf("%d Receive calls read the socket, want none (nothing was awaited)", n)
	}
}

// A connection kept busy does not pay a timer per message or per linger
// period: the idle linger and the hold timer back off (up to half a
// second), and the connection still parks once it goes quiet. With a
// 10 ms linger and hold period (the default hold period is 250 ms, which a
// half-second test would not see back off) and no back-off, half a second
// of round trips sets the linger deadline ~50 times (Events) or fires the
// hold timer 25-50 times (Receive); backing off, 5-6 times in either.
func TestReceiveBusyBacksOff(t *testing.T) {
	needDetach(t)
	for _, style := range []string{"receive", "events"} {
		t.Run(style, func(t *testing.T) {
			c, err := wsactor.Dial(ctxT(t), echoURL(t), wsactor.WithIdleDetach(10*time.Millisecond), wsactor.WithHoldPeriod(10*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Abort)
			next := func() wsactor.Event {
				if style == "receive" {
					return receive(t, c)
				}
				select {
				case ev := <-c.Events():
					return ev
				case <-time.After(waitFor):
					t.Fatal("no event")
					return nil
				}
			}
			if _, ok := next().(*wsactor.Open); !ok {
				t.Fatal("first event is not Open")
			}
			ops0 := wsactor.TimerOps(c)
			n := 0
			for start := time.Now(); time.Since(start) < 500*time.Millisecond; n++ {
				if err := c.SendText(ctxT(t), "x"); err != nil {
					t.Fatal(err)
				}
				m, ok := next().(*wsactor.Message)
				if !ok || string(m.Data) != "x" {
					t.Fatalf("got %+v, want the echo", m)
				}
				m.Release()
			}
			ops := wsactor.TimerOps(c) - ops0
			t.Logf("%d round trips, %d timer operations", n, ops)
			if ops > 15 {
				t.Fatalf("%d timer operations in half a second of round trips, want at most 15", ops)
			}
			if style == "receive" {
				_ = receiveAsync(c) // a waiting Receive parks the quiet connection
			}
			awaitParked(t, c)
		})
	}
}

// A Receive that waits in the socket has no linger deadline: the hold
// timer tells it to park. That holds also for a Receive that took the actor
// from the shared poller, where no hold timer was running: the connection
// is handed back to its goroutine, parks, and is then taken by a Receive
// that must park it again.
func TestReceiveParksAfterTakingParked(t *testing.T) {
	needDetach(t)
	c := openReceive(t, quietEchoURL(t), wsactor.WithIdleDetach(time.Millisecond))
	if err := c.SendText(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	expectText(t, receive(t, c), "x") // held now; then handed back, then parked
	pollUntil(t, func() string { return "the held actor was not handed back and parked" },
		func() bool { return !wsactor.Held(c) && wsactor.Parked(c) })
	pulls := wsactor.Pulls(c)
	if err := c.SendText(context.Background(), "quiet"); err != nil {
		t.Fatal(err) // a request: the next Receive waits for a reply
	}
	got := receiveAsync(c)
	pollUntil(t, func() string { return "the waiting Receive did not take the parked actor and park it again" },
		func() bool { return wsactor.Pulls(c) > pulls && wsactor.Parked(c) })
	if err := c.SendText(context.Background(), "wake"); err != nil {
		t.Fatal(err)
	}
	expectText(t, awaitEvent(t, got), "wake")
}

// Messages streaming in without requests: a Receive that found its message
// already waiting has the next Receive read the socket itself once the
// actor's goroutine has caught up (as a reply would be read), while a
// Receive that had to wait does not (TestReceiveParksWhenIdle).
func TestReceiveStream(t *testing.T) {
	needDetach(t)
	const n = 50
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		var all []byte
		for i := range n {
			all = append(all, frame(ws.OpText, true, []byte(strconv.Itoa(i)))...)
		}
		if _, err := nc.Write(all); err != nil {
			return err
		}
		_, _ = readClientFrame(br) // until the client goes away
		return nil
	})
	c := openReceive(t, url, wsactor.WithEventBuffer(2*n))
	pollUntil(t, func() string { return "the pushed messages did not all queue" },
		func() bool { return c.Stats().EventsQueue == n })
	for i := range n {
		expectText(t, receive(t, c), strconv.Itoa(i))
	}
	if wsactor.Pulls(c) != 0 {
		t.Fatal("a Receive read the socket while messages waited in the channel")
	}
	_ = receiveAsync(c) // the stream ran dry: this one reads the socket itself
	pollUntil(t, func() string { return "the Receive after a stream did not read the socket" },
		func() bool { return wsactor.Pulling(c) || wsactor.Pulls(c) > 0 })
}

// A Receive that waits for a reply while the actor's goroutine waits in an
// idle read takes the connection at once (the goroutine's read is
// interrupted and it gives the actor up), so the reply is read by the
// Receive: with a linger of an hour, or no idle detach at all, the
// goroutine would otherwise keep the socket until a frame came.
func TestReceiveTakesFromGoroutine(t *testing.T) {
	for _, detach := range []time.Duration{time.Hour, -1} {
		t.Run(fmt.Sprint(detach), func(t *testing.T) {
			if detach > 0 {
				needDetach(t)
			}
			c := openReceive(t, quietEchoURL(t), wsactor.WithIdleDetach(detach), wsactor.WithHoldPeriod(time.Hour))
			if err := c.SendText(context.Background(), "quiet"); err != nil {
				t.Fatal(err)
			}
			expectPulledReply(t, c, receiveAsync(c), "the Receive did not take the connection from the goroutine")
		})
	}
}

// A message sent before the first Receive (right after Dial) is still
// awaited after that Receive returns Open: the next Receive reads the
// reply itself.
func TestReceiveOpenDoesNotAnswer(t *testing.T) {
	needDetach(t)
	c, err := wsactor.Dial(ctxT(t), quietEchoURL(t), wsactor.WithHoldPeriod(time.Hour), wsactor.WithIdleDetach(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	if err := c.SendText(context.Background(), "quiet"); err != nil {
		t.Fatal(err) // a request whose reply has not come
	}
	if _, ok := receive(t, c).(*wsactor.Open); !ok {
		t.Fatal("first event is not Open")
	}
	expectPulledReply(t, c, receiveAsync(c), "the Receive after Open did not wait for the reply in the socket")
}
