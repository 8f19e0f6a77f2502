package wsactor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

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
