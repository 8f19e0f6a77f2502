package wsactor_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
)

// A message released inside its handler stays valid until every handler
// has returned (the dispatcher recycles it then), and recycled buffers
// never show through: every message of a long stream of varied sizes
// arrives intact, with or without batches, also when a handler keeps a
// message and releases it later from another goroutine.
func TestCallbacksReleaseInHandler(t *testing.T) {
	const n = 3000
	body := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 1+(i*37)%3000) }
	url := pushThenClose(t, n, 50, func(i int) []byte { return frame(ws.OpBinary, true, body(i)) })
	for _, opts := range [][]wsactor.Option{nil, {wsactor.WithBatchDelivery()}} {
		c, err := wsactor.New(url, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var (
			i    int
			errs []string
			kept = make(chan *wsactor.Message, n)
		)
		c.OnMessage(func(m *wsactor.Message) {
			if i%10 == 9 {
				kept <- m // released later, elsewhere
				return
			}
			m.Release()
		})
		c.OnMessage(func(m *wsactor.Message) {
			if !bytes.Equal(m.Data, body(i)) && len(errs) < 5 {
				errs = append(errs, fmt.Sprintf("message %d: %d bytes of %d, want %d of %d", i, len(m.Data), m.Data[0], len(body(i)), byte(i)))
			}
			i++
		})
		releaser := make(chan struct{})
		go func() {
			defer close(releaser)
			for m := range kept {
				m.Release()
			}
		}()
		if err := c.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		cl := mustClose(t, c.Wait())
		close(kept)
		<-releaser
		if len(errs) > 0 || i != n || !cl.Clean {
			t.Fatalf("%d messages, close %+v, errors %v", i, cl, errs)
		}
	}
}

// While the actor lingers in its idle read (a busy connection), the
// dispatcher that empties the channel waits there for the next event
// instead of exiting: request/reply round trips through callbacks start it
// a couple of times, not once per reply. When the connection goes quiet
// and the actor parks, the dispatcher stops too, and the next message
// starts both again.
func TestCallbacksDispatcherWaitsWhileBusy(t *testing.T) {
	needDetach(t)
	// A linger of a second: no scheduling stall on a loaded machine ends
	// it between two round trips.
	c, err := wsactor.New(echoURL(t), wsactor.WithIdleDetach(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Abort)
	events := make(chan string, 1)
	c.OnOpen(func(*wsactor.Open) { events <- "open" })
	c.OnMessage(func(m *wsactor.Message) { events <- m.Text() })
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	await := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-ctxT(t).Done():
			t.Fatalf("no %q", want)
		}
	}
	await("open")
	const n = 50
	for i := range n {
		if err := c.SendText(context.Background(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		await(fmt.Sprint(i))
	}
	// One start for the Open, maybe one more if the dispatcher looked
	// before the actor began to linger; one per reply without the wait.
	if s := wsactor.DispatcherStarts(c); s > 3 {
		t.Fatalf("%d dispatchers started for %d replies", s, n)
	}
	pollUntil(t, func() string {
		return fmt.Sprintf("parked %v, %d connection goroutines", wsactor.Parked(c), connGoroutines())
	}, func() bool { return wsactor.Parked(c) && connGoroutines() == 0 })
	before := wsactor.DispatcherStarts(c)
	if err := c.SendText(context.Background(), "again"); err != nil {
		t.Fatal(err)
	}
	await("again")
	if s := wsactor.DispatcherStarts(c); s != before+1 {
		t.Fatalf("%d dispatchers started for the message after parking, want 1", s-before)
	}
	if err := c.Close(wsactor.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	<-c.Done()
}
