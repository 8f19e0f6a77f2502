package wsactor_test

import (
	"testing"

	"github.com/wsactor/wsactor"
)

func TestSmokeEcho(t *testing.T) {
	url := echoURL(t)
	c, err := wsactor.Dial(ctxT(t), url)
	if err != nil {
		t.Fatal(err)
	}
	mustOpen(t, c)
	if err := c.SendText(ctxT(t), "hello"); err != nil {
		t.Fatal(err)
	}
	ev := next(t, c)
	m, ok := ev.(*wsactor.Message)
	if !ok || m.Text() != "hello" || m.Type != wsactor.Text {
		t.Fatalf("got %#v", ev)
	}
	if err := c.Close(wsactor.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	cl := mustClose(t, mustTerminal(t, c))
	if cl.Code != 1000 || !cl.Clean || cl.Sent != 1000 || cl.Err != nil {
		t.Fatalf("close %+v", cl)
	}
}

func mustTerminal(t *testing.T, c *wsactor.Conn) wsactor.Event {
	ev, _ := terminal(t, c)
	return ev
}
