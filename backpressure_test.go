package wsactor_test

// Backpressure tests (contract section 8): bounded inbound memory under a
// flood, the lossy policies, Disconnect, a peer that never reads, write
// coalescing and the Stats counters.
//
// Waits are on channels with deadlines or on counters polled with a
// deadline (pollUntil); nothing sleeps to let an event happen.

import (
	"bufio"
	"bytes"
	"context"
	bpbin "encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
	"github.com/wsactor/wsactor/internal/echoserver"
)

// bpRecv waits for a value on ch, failing the test after waitFor.
func bpRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("%s: nothing within %v", what, waitFor)
	}
	var zero T
	return zero
}

// bpWaitDone waits until the connection has ended (terminal event in the
// channel, every goroutine returned).
func bpWaitDone(t *testing.T, c *wsactor.Conn) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(waitFor):
		t.Fatalf("connection not done within %v (state %v, stats %+v)", waitFor, c.ReadyState(), c.Stats())
	}
}

// bpAwait is for server scripts: wait for ch, or give up after waitFor
// (a script blocked on a channel would hang startRaw's cleanup).
func bpAwait(ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-time.After(waitFor):
		return errors.New("server: no " + what + " within " + waitFor.String())
	}
}

// bpHeapInuse returns HeapInuse after a full collection.
func bpHeapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

const bpMiB = 1 << 20

// TestBackpressureFloodBoundedMemory: a server pushes a flood at a client
// whose consumer is stalled. With the Block policy the actor stops reading,
// TCP flow control stops the server far below the total, and the heap stays
// within baseline + EventBytes + MaxMessageSize + slack. Then the consumer
// drains everything and every message arrives complete and in order.
//
// slots: 1 GiB as 16384 x 64 KiB; the 16-slot channel is the binding limit
// (about 7 s under -race on 2 cores; -short shrinks it to 256 MiB).
// bytes: 128 MiB as 256 x 512 KiB; the 4 MiB EventBytes budget is the
// binding limit (8 messages in the channel), exercising the Block policy's
// wait for the consumer to drain bytes.
// Both totals exceed every buffer in play (event budget 4 MiB, socket
// buffers up to tcp_rmem max 32 MiB + tcp_wmem max 4 MiB) many times over.
//
// Not parallel: the heap samples must not see other tests' allocations
// (parallel top-level tests only start once the sequential ones are done).
func TestBackpressureFloodBoundedMemory(t *testing.T) {
	slots := 16384
	if testing.Short() {
		slots = 4096
	}
	// 17: under Block a message may also take the slot kept for the terminal event.
	t.Run("slots", func(t *testing.T) { bpFlood(t, 64<<10, slots, 17) })
	t.Run("bytes", func(t *testing.T) { bpFlood(t, 512<<10, 256, 8) })
}

// bpFlood sends count messages of msgSize bytes; wantQueue is how many the
// channel holds while the consumer is stalled.
func bpFlood(t *testing.T, msgSize, count, wantQueue int) {
	const (
		eventBuf   = 16
		eventBytes = 4 << 20
		maxMsg     = 1 << 20
		slack      = 8 << 20
	)
	// Payload: index stamped big-endian at the front and inverted at the
	// back; a fixed pseudo-random body in between.
	pattern := make([]byte, msgSize)
	x := uint32(2463534242)
	for i := range pattern {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		pattern[i] = byte(x)
	}
	stamp := func(p []byte, i int) {
		bpbin.BigEndian.PutUint64(p, uint64(i))
		bpbin.BigEndian.PutUint64(p[len(p)-8:], ^uint64(i))
	}

	var written atomic.Int64
	start := make(chan struct{})
	srv := startRaw(t, func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		select {
		case <-start:
		case <-time.After(waitFor):
			return errors.New("flood: client never got Open")
		}
		// One reusable frame: 10-byte header (64-bit length) + payload.
		fr := make([]byte, 10+msgSize)
		fr[0], fr[1] = 0x82, 127
		bpbin.BigEndian.PutUint64(fr[2:], uint64(msgSize))
		copy(fr[10:], pattern)
		for i := range count {
			stamp(fr[10:], i)
			n, err := nc.Write(fr)
			written.Add(int64(n))
			if err != nil {
				return fmt.Errorf("flood: write %d: %w", i, err)
			}
		}
		if _, err := nc.Write(closeFrame(1000, "done")); err != nil {
			return err
		}
		return expectClose(bufio.NewReader(nc), 1000)
	})

	baseline := bpHeapInuse()
	c := dialOpen(t, srv.URL(),
		wsactor.WithEventBuffer(eventBuf),
		wsactor.WithEventBytes(eventBytes),
		wsactor.WithMaxMessageSize(maxMsg))
	close(start)

	// Wait until the server's writes block: the counter stops advancing
	// (unchanged for 500 ms of polling) with the event channel full.
	var last int64 = -1
	var stableSince time.Time
	pollUntil(t, func() string {
		return fmt.Sprintf("server still writing: %d bytes, stats %+v", written.Load(), c.Stats())
	}, func() bool {
		w := written.Load()
		if w != last {
			last, stableSince = w, time.Now()
			return false
		}
		return c.Stats().EventsQueue == wantQueue && time.Since(stableSince) >= 500*time.Millisecond
	})
	stalledAt := written.Load()
	total := int64(count) * int64(10+msgSize)
	t.Logf("server blocked after %d bytes (%.1f MiB of %d MiB); stats %+v",
		stalledAt, float64(stalledAt)/bpMiB, total/bpMiB, c.Stats())
	if stalledAt > 64*bpMiB {
		t.Errorf("server wrote %d bytes before blocking, want far below %d (< 64 MiB)", stalledAt, total)
	}

	bound := baseline + eventBytes + maxMsg + slack
	var peak uint64
	for i := range 3 {
		h := bpHeapInuse()
		peak = max(peak, h)
		t.Logf("heap sample %d: HeapInuse %.2f MiB (baseline %.2f MiB, +%.2f MiB; bound %.2f MiB)",
			i, float64(h)/bpMiB, float64(baseline)/bpMiB, (float64(h)-float64(baseline))/bpMiB, float64(bound)/bpMiB)
		if h > bound {
			t.Errorf("HeapInuse %d > bound %d (baseline %d + EventBytes + MaxMessageSize + 8 MiB)", h, bound, baseline)
		}
	}
	if w := written.Load(); w != stalledAt {
		t.Errorf("server advanced from %d to %d bytes while the consumer was stalled", stalledAt, w)
	}
	// In the actor's hand: the message it is delivering plus, for messages
	// read while more were already waiting, a batch that stops growing once
	// it holds 256 KiB.
	inHand := 1 + (256<<10+msgSize-1)/msgSize
	if st := c.Stats(); st.MessagesIn < uint64(wantQueue+1) || st.MessagesIn > uint64(wantQueue+inHand) || st.Dropped != 0 {
		t.Errorf("while stalled: MessagesIn %d (want %d..%d: the channel's plus those in hand), Dropped %d (want 0)",
			st.MessagesIn, wantQueue+1, wantQueue+inHand, st.Dropped)
	}

	// Drain: every message complete and in order, then the server's close.
	deadline := time.After(2 * time.Minute)
	got := 0
	for done := false; !done; {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatal("channel closed without a terminal event")
			}
			switch e := ev.(type) {
			case *wsactor.Message:
				p := e.Data
				if e.Type != wsactor.Binary || len(p) != msgSize {
					t.Fatalf("message %d: type %v, %d bytes", got, e.Type, len(p))
				}
				if i := bpbin.BigEndian.Uint64(p); i != uint64(got) {
					t.Fatalf("message %d arrived as number %d", got, i)
				}
				if j := bpbin.BigEndian.Uint64(p[len(p)-8:]); j != ^uint64(got) {
					t.Fatalf("message %d: tail stamp %x", got, j)
				}
				if !bytes.Equal(p[8:len(p)-8], pattern[8:len(p)-8]) {
					t.Fatalf("message %d: body corrupted", got)
				}
				got++
			case *wsactor.Close:
				if e.Code != 1000 || e.Reason != "done" || !e.Clean || e.Err != nil {
					t.Errorf("close: %+v", e)
				}
				done = true
			default:
				t.Fatalf("unexpected event %T", ev)
			}
		case <-deadline:
			t.Fatalf("drain: %d of %d messages within 2m", got, count)
		}
	}
	if got != count {
		t.Fatalf("received %d messages, want %d", got, count)
	}
	if st := c.Stats(); st.MessagesIn != uint64(count) || st.BytesIn != uint64(count*msgSize) || st.Dropped != 0 {
		t.Errorf("stats after drain: %+v", st)
	}
	bpWaitDone(t, c)
	t.Logf("heap: baseline %.2f MiB, peak while stalled %.2f MiB (+%.2f MiB), bound %.2f MiB",
		float64(baseline)/bpMiB, float64(peak)/bpMiB, (float64(peak)-float64(baseline))/bpMiB, float64(bound)/bpMiB)
}

// bpNumbered is a script that sends n numbered binary messages once start
// is closed, reports on sent, then waits for proceed (if non-nil) before
// sending its close frame 1000 and expecting the client's echo.
func bpNumbered(n int, start, proceed <-chan struct{}, sent chan<- struct{}) func(net.Conn) error {
	return func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		select {
		case <-start:
		case <-time.After(waitFor):
			return errors.New("numbered: never started")
		}
		w := bufio.NewWriter(nc)
		for i := range n {
			var p [4]byte
			bpbin.BigEndian.PutUint32(p[:], uint32(i))
			if _, err := w.Write(frame(ws.OpBinary, true, p[:])); err != nil {
				return err
			}
		}
		if proceed == nil {
			if _, err := w.Write(closeFrame(1000, "")); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		sent <- struct{}{}
		if proceed != nil {
			select {
			case <-proceed:
			case <-time.After(waitFor):
				return errors.New("numbered: never told to proceed")
			}
			if _, err := nc.Write(closeFrame(1000, "")); err != nil {
				return err
			}
		}
		return expectClose(bufio.NewReader(nc), 1000)
	}
}

func bpNumbers(t *testing.T, msgs []*wsactor.Message) []int {
	t.Helper()
	var out []int
	for _, m := range msgs {
		if len(m.Data) != 4 {
			t.Fatalf("message of %d bytes", len(m.Data))
		}
		out = append(out, int(bpbin.BigEndian.Uint32(m.Data)))
	}
	return out
}

func bpRange(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// TestBackpressureDropPolicies: with a 4-slot channel and a consumer that
// reads only after all N messages were processed, DropNewest keeps the
// first 4 and DropOldest the last 4; received + Dropped == N exactly.
func TestBackpressureDropPolicies(t *testing.T) {
	t.Parallel()
	const n, buf = 100, 4
	for _, pol := range []wsactor.Policy{wsactor.DropNewest, wsactor.DropOldest} {
		want := bpRange(0, buf)
		if pol == wsactor.DropOldest {
			want = bpRange(n-buf, n)
		}

		// The server waits for the consumer before closing, so only the
		// policy decides what is dropped.
		t.Run(pol.String(), func(t *testing.T) {
			t.Parallel()
			start, proceed, sent := make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
			srv := startRaw(t, bpNumbered(n, start, proceed, sent))
			c := dialOpen(t, srv.URL(), wsactor.WithEventBuffer(buf), wsactor.WithInboundPolicy(pol))
			close(start)
			bpRecv(t, sent, "server sent all")
			pollUntil(t, func() string { return fmt.Sprintf("stats %+v", c.Stats()) }, func() bool {
				st := c.Stats()
				return st.MessagesIn == n && st.Dropped+uint64(st.EventsQueue) >= n
			})
			st := c.Stats()
			if st.Dropped != n-buf || st.EventsQueue != buf {
				t.Fatalf("after processing: Dropped %d, EventsQueue %d; want %d, %d", st.Dropped, st.EventsQueue, n-buf, buf)
			}
			var msgs []*wsactor.Message
			for range buf {
				m, ok := next(t, c).(*wsactor.Message)
				if !ok {
					t.Fatal("not a message")
				}
				msgs = append(msgs, m)
			}
			if got := bpNumbers(t, msgs); !slices.Equal(got, want) {
				t.Errorf("received %v, want %v", got, want)
			}
			close(proceed)
			ev, rest := terminal(t, c)
			if cl := mustClose(t, ev); cl.Code != 1000 || !cl.Clean {
				t.Errorf("close: %+v", cl)
			}
			if len(rest) != 0 {
				t.Errorf("%d extra messages", len(rest))
			}
			if st := c.Stats(); st.Dropped != n-buf || st.MessagesIn != n {
				t.Errorf("final stats %+v, want Dropped %d MessagesIn %d", st, n-buf, n)
			}
		})

		// The server's close frame follows the messages at once and the
		// consumer reads only after the connection is done: the terminal
		// event needs a slot in the full channel. Whatever makes room must
		// still be counted, and the policy's promise (first ones for
		// DropNewest, last ones for DropOldest) must hold.
		t.Run(pol.String()+"/close-in-stream", func(t *testing.T) {
			t.Parallel()
			start, sent := make(chan struct{}), make(chan struct{}, 1)
			srv := startRaw(t, bpNumbered(n, start, nil, sent))
			c := dialOpen(t, srv.URL(), wsactor.WithEventBuffer(buf), wsactor.WithInboundPolicy(pol))
			close(start)
			bpRecv(t, sent, "server sent all")
			pollUntil(t, func() string { return fmt.Sprintf("stats %+v", c.Stats()) }, func() bool {
				return c.Stats().MessagesIn == n
			})
			bpWaitDone(t, c)
			ev, msgs := terminal(t, c)
			if cl := mustClose(t, ev); cl.Code != 1000 || !cl.Clean {
				t.Errorf("close: %+v", cl)
			}
			got := bpNumbers(t, msgs)
			st := c.Stats()
			if uint64(len(got))+st.Dropped != n {
				t.Errorf("received %d + Dropped %d != %d", len(got), st.Dropped, n)
			}
			if len(got) == 0 {
				t.Fatal("nothing received")
			}
			wantHere := bpRange(0, len(got))
			if pol == wsactor.DropOldest {
				wantHere = bpRange(n-len(got), n)
			}
			if !slices.Equal(got, wantHere) {
				t.Errorf("%v: received %v, want %v (Dropped %d)", pol, got, wantHere, st.Dropped)
			}
		})
	}
}

// TestBackpressureByteBudget: the EventBytes budget, not the slot count,
// limits the channel: 30 KiB messages against a 100 KiB budget leave 3 in
// the channel.
func TestBackpressureByteBudget(t *testing.T) {
	t.Parallel()
	const n, size = 10, 30 << 10
	start, proceed, sent := make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
	srv := startRaw(t, func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		if err := bpAwait(start, "start"); err != nil {
			return err
		}
		for i := range n {
			p := bytes.Repeat([]byte{byte(i)}, size)
			if _, err := nc.Write(frame(ws.OpBinary, true, p)); err != nil {
				return err
			}
		}
		sent <- struct{}{}
		select {
		case <-proceed:
		case <-time.After(waitFor):
			return errors.New("budget: never told to proceed")
		}
		if _, err := nc.Write(closeFrame(1000, "")); err != nil {
			return err
		}
		return expectClose(bufio.NewReader(nc), 1000)
	})
	c := dialOpen(t, srv.URL(), wsactor.WithEventBuffer(16), wsactor.WithEventBytes(100<<10),
		wsactor.WithInboundPolicy(wsactor.DropNewest))
	close(start)
	bpRecv(t, sent, "server sent all")
	pollUntil(t, func() string { return fmt.Sprintf("stats %+v", c.Stats()) }, func() bool {
		st := c.Stats()
		return st.MessagesIn == n && st.Dropped+uint64(st.EventsQueue) >= n
	})
	if st := c.Stats(); st.EventsQueue != 3 || st.Dropped != n-3 {
		t.Errorf("stats %+v, want EventsQueue 3, Dropped %d", st, n-3)
	}
	close(proceed)
	ev, msgs := terminal(t, c)
	mustClose(t, ev)
	for i, m := range msgs {
		if len(m.Data) != size || m.Data[0] != byte(i) {
			t.Errorf("message %d: %d bytes, first %d", i, len(m.Data), m.Data[0])
		}
	}
	if len(msgs) != 3 {
		t.Errorf("received %d messages, want 3", len(msgs))
	}
}

// TestBackpressureDisconnect: a consumer that never reads makes the client
// fail the connection with 1008 and ErrSlowConsumer.
func TestBackpressureDisconnect(t *testing.T) {
	t.Parallel()
	const n, buf = 50, 4
	start := make(chan struct{})
	got1008 := make(chan struct{}, 1)
	srv := startRaw(t, func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		if err := bpAwait(start, "start"); err != nil {
			return err
		}
		w := bufio.NewWriter(nc)
		for i := range n {
			if _, err := w.Write(frame(ws.OpText, true, []byte(fmt.Sprint("message ", i)))); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := expectClose(bufio.NewReader(nc), 1008); err != nil {
			return err
		}
		got1008 <- struct{}{}
		// The client fails the connection without waiting for our echo
		// (RFC 6455 7.1.7), so this write may hit a closed socket.
		_, _ = nc.Write(closeFrame(1008, ""))
		return nil
	})
	c := dialOpen(t, srv.URL(), wsactor.WithEventBuffer(buf), wsactor.WithInboundPolicy(wsactor.Disconnect))
	close(start)
	bpRecv(t, got1008, "server got close 1008")
	bpWaitDone(t, c) // nobody reads: the connection must still end
	ev, msgs := terminal(t, c)
	cl := mustClose(t, ev)
	if cl.Sent != wsactor.StatusPolicyViolation || !errors.Is(cl.Err, wsactor.ErrSlowConsumer) {
		t.Errorf("close: Sent %d, Err %v; want 1008, ErrSlowConsumer", cl.Sent, cl.Err)
	}
	if (cl.Code != wsactor.StatusPolicyViolation && cl.Code != wsactor.StatusAbnormalClosure) || cl.Clean {
		t.Errorf("close: Code %d, Clean %v; want the peer's echo 1008 or 1006, not clean", cl.Code, cl.Clean)
	}
	// What is left is a run of consecutive messages in wire order (the
	// terminal event may have displaced the oldest).
	first := -1
	for i, m := range msgs {
		var k int
		if _, err := fmt.Sscanf(m.Text(), "message %d", &k); err != nil {
			t.Fatalf("message %q", m.Text())
		}
		if i == 0 {
			first = k
		} else if k != first+i {
			t.Errorf("message %d is number %d, want %d", i, k, first+i)
		}
	}
	if len(msgs) > buf {
		t.Errorf("%d messages delivered with a %d-slot channel", len(msgs), buf)
	}
	if err := c.SendText(ctxT(t), "x"); !errors.Is(err, wsactor.ErrNotOpen) {
		t.Errorf("Send after close: %v", err)
	}
}

// TestBackpressureDisconnectAccounting: Stats documents MessagesIn as
// "messages received (delivered or dropped)", so every message counted in
// MessagesIn is either received by the consumer or counted in Dropped --
// including the one that did not fit and triggered the disconnect.
func TestBackpressureDisconnectAccounting(t *testing.T) {
	t.Parallel()
	const n, buf = 50, 4
	start := make(chan struct{})
	srv := startRaw(t, func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		if err := bpAwait(start, "start"); err != nil {
			return err
		}
		w := bufio.NewWriter(nc)
		for i := range n {
			if _, err := w.Write(frame(ws.OpBinary, true, []byte{byte(i)})); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if err := expectClose(bufio.NewReader(nc), 1008); err != nil {
			return err
		}
		_, _ = nc.Write(closeFrame(1008, "")) // may race the client's close
		return nil
	})
	c := dialOpen(t, srv.URL(), wsactor.WithEventBuffer(buf), wsactor.WithInboundPolicy(wsactor.Disconnect))
	close(start)
	bpWaitDone(t, c)
	ev, msgs := terminal(t, c)
	mustClose(t, ev)
	st := c.Stats()
	if st.MessagesIn != uint64(len(msgs))+st.Dropped {
		t.Errorf("MessagesIn %d != received %d + Dropped %d: a message was counted in but neither delivered nor dropped",
			st.MessagesIn, len(msgs), st.Dropped)
	}
}

// TestBackpressureServerNeverReads: once the send queue and the kernel
// buffers are full, Send blocks and fails with its ctx's error; the write
// timeout then fails the connection (1006, ErrWriteTimeout); after that
// Send returns ErrNotOpen and the channel is closed.
func TestBackpressureServerNeverReads(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := startRaw(t, func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		select { // never reads
		case <-release:
		case <-time.After(2 * waitFor):
		}
		return nil
	})
	t.Cleanup(func() { close(release) }) // runs before startRaw's cleanup
	c := dialOpen(t, srv.URL(),
		wsactor.WithSendQueue(4, 64<<10),
		wsactor.WithWriteTimeout(200*time.Millisecond))

	p := bytes.Repeat([]byte("z"), 64<<10)
	var sendErr error
	sent := 0
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		// A 50 ms ctx, well under the 200 ms write timeout: the first Send
		// that finds the queue full behind a blocked Write fails with it.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		sendErr = c.SendBinary(ctx, p)
		cancel()
		if sendErr != nil {
			break
		}
		sent++
	}
	t.Logf("%d x 64 KiB accepted before Send blocked (%.1f MiB); stats %+v", sent, float64(sent)*64/1024, c.Stats())
	if !errors.Is(sendErr, context.DeadlineExceeded) {
		t.Fatalf("blocked Send returned %v, want context.DeadlineExceeded", sendErr)
	}
	if st := c.Stats(); st.MessagesOut != uint64(sent) {
		t.Errorf("MessagesOut %d, want %d (the failed Send must not count)", st.MessagesOut, sent)
	}
	if err := c.TrySend(wsactor.Binary, p); !errors.Is(err, wsactor.ErrQueueFull) && !errors.Is(err, wsactor.ErrNotOpen) {
		t.Errorf("TrySend on a full queue: %v, want ErrQueueFull (or ErrNotOpen if the write timeout already fired)", err)
	}

	ev, _ := terminal(t, c)
	cl := mustClose(t, ev)
	if !errors.Is(cl.Err, wsactor.ErrWriteTimeout) || cl.Code != wsactor.StatusAbnormalClosure || cl.Clean {
		t.Errorf("close: Code %d, Clean %v, Err %v; want 1006, not clean, ErrWriteTimeout", cl.Code, cl.Clean, cl.Err)
	}
	if err := c.SendBinary(ctxT(t), p); !errors.Is(err, wsactor.ErrNotOpen) {
		t.Errorf("Send after the write timeout: %v, want ErrNotOpen", err)
	}
	if err := c.TrySend(wsactor.Binary, p); !errors.Is(err, wsactor.ErrNotOpen) {
		t.Errorf("TrySend after the write timeout: %v, want ErrNotOpen", err)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("event after the terminal one")
	}
	if c.ReadyState() != wsactor.StateClosed {
		t.Errorf("state %v", c.ReadyState())
	}
}

// bpCountConn counts Write calls on the client's socket.
type bpCountConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *bpCountConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestBackpressureCoalescing: 1000 small Sends in a burst from one
// goroutine take far fewer than 1000 socket writes.
func TestBackpressureCoalescing(t *testing.T) {
	t.Parallel()
	const n = 1000
	s, err := echoserver.Start(echoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var writes atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &bpCountConn{Conn: nc, writes: &writes}, nil
	}
	c := dialOpen(t, s.URL(), wsactor.WithNetDial(dial))
	handshake := writes.Load()
	if st := c.Stats(); st.WriteCalls != 0 {
		t.Errorf("WriteCalls %d before any Send", st.WriteCalls)
	}

	ctx := ctxT(t)
	for i := range n {
		if err := c.SendText(ctx, fmt.Sprintf("m%04d", i)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	for i := range n {
		m, ok := next(t, c).(*wsactor.Message)
		if !ok || m.Text() != fmt.Sprintf("m%04d", i) {
			t.Fatalf("echo %d: %v", i, m)
		}
	}
	burst := writes.Load() - handshake
	st := c.Stats()
	t.Logf("%d sends: %d socket writes (handshake %d), Stats.WriteCalls %d", n, burst, handshake, st.WriteCalls)
	if burst >= n/4 {
		t.Errorf("%d writes for %d messages, want < %d", burst, n, n/4)
	}
	if int64(st.WriteCalls) != burst {
		t.Errorf("Stats.WriteCalls %d, wrapper counted %d", st.WriteCalls, burst)
	}
	if st.MessagesOut != n || st.MessagesIn != n {
		t.Errorf("stats %+v", st)
	}
	_ = c.Close(1000, "")
	mustClose(t, mustTerminal(t, c))
}

// TestBackpressureStatsExact: the counters match a known exchange exactly.
// Control frames and close frames are not messages; a fragmented message
// counts once with its total length; empty messages count.
func TestBackpressureStatsExact(t *testing.T) {
	t.Parallel()
	big := bytes.Repeat([]byte{7}, 70000)
	type rx struct {
		op ws.OpCode
		p  []byte
	}
	wantFromClient := []rx{{ws.OpText, []byte("x")}, {ws.OpBinary, big}, {ws.OpText, []byte{}}, {ws.OpBinary, []byte("abc")}}
	start := make(chan struct{})
	srv := startRaw(t, func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		if err := bpAwait(start, "start"); err != nil {
			return err
		}
		w := bufio.NewWriter(nc)
		for _, f := range [][]byte{
			frame(ws.OpText, true, []byte("hello")),            // 5
			frame(ws.OpBinary, true, make([]byte, 1000)),       // 1000
			frame(ws.OpText, false, []byte("ab")),              // fragmented: 5 total
			frame(ws.OpPing, true, []byte("ping")),             // not counted
			frame(ws.OpContinuation, false, []byte("cd")),      //
			frame(ws.OpContinuation, true, []byte("e")),        //
			frame(ws.OpBinary, true, nil),                      // 0
			frame(ws.OpPong, true, []byte("unsolicited pong")), // not counted
		} {
			if _, err := w.Write(f); err != nil {
				return err
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
		br := bufio.NewReader(nc)
		for i := 0; i < len(wantFromClient); {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			if f.Header.OpCode == ws.OpPong {
				continue
			}
			want := wantFromClient[i]
			if f.Header.OpCode != want.op || !f.Header.Fin || !bytes.Equal(f.Payload, want.p) {
				return fmt.Errorf("client frame %d: %v, %d bytes", i, f.Header, len(f.Payload))
			}
			i++
		}
		if err := expectClose(br, 1000); err != nil {
			return err
		}
		_, err := nc.Write(closeFrame(1000, ""))
		return err
	})
	c := dialOpen(t, srv.URL())
	if st := c.Stats(); st != (wsactor.Stats{}) {
		t.Errorf("stats after Open: %+v, want zero", st)
	}
	close(start)
	var lens []int
	for range 4 {
		m, ok := next(t, c).(*wsactor.Message)
		if !ok {
			t.Fatal("not a message")
		}
		lens = append(lens, len(m.Data))
	}
	if !slices.Equal(lens, []int{5, 1000, 5, 0}) {
		t.Errorf("message lengths %v", lens)
	}
	ctx := ctxT(t)
	for _, m := range wantFromClient {
		var err error
		if m.op == ws.OpText {
			err = c.SendText(ctx, string(m.p))
		} else if len(m.p) == 3 {
			err = c.TrySend(wsactor.Binary, m.p)
		} else {
			err = c.SendBinary(ctx, m.p)
		}
		if err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	// Rejected sends count nothing.
	if err := c.SendText(ctx, "\xff"); !errors.Is(err, wsactor.ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8: %v", err)
	}
	_ = c.Close(1000, "")
	ev, rest := terminal(t, c)
	mustClose(t, ev)
	if len(rest) != 0 {
		t.Errorf("%d extra messages", len(rest))
	}
	if err := c.SendText(ctx, "late"); !errors.Is(err, wsactor.ErrNotOpen) {
		t.Errorf("send after close: %v", err)
	}
	st := c.Stats()
	want := wsactor.Stats{
		MessagesIn: 4, BytesIn: 5 + 1000 + 5 + 0,
		MessagesOut: 4, BytesOut: 1 + 70000 + 0 + 3,
		WriteCalls: st.WriteCalls,
	}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if st.WriteCalls == 0 {
		t.Error("WriteCalls 0")
	}
}
