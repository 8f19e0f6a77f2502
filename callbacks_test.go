package wsactor_test

import (
	"bytes"
	"fmt"
	"testing"

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
