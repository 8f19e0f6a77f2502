//go:build !nowsactor

package main

import (
	"context"
	"time"

	"github.com/wsactor/wsactor"
)

// wsactor: wsactor.Dial, c.Send(ctx, Binary, p) to send, and a
// `for ev := range c.Events()` loop with a type switch to receive; each
// message is released after use and backlogs arrive as *Batch events
// (WithBatchDelivery), as a throughput-minded user would set it up.
// Default options except the max message size (16 MiB, like the others).
func init() {
	register(Adapter{Name: "wsactor", Dial: func(ctx context.Context, url string) (Conn, error) {
		c, err := dialWsactor(ctx, url, wsactor.WithBatchDelivery())
		if err != nil {
			return nil, err
		}
		return &wsactorConn{c: c, ctx: context.Background()}, nil
	}})
}

// dialWsactor dials with the options every wsactor adapter shares (the max
// message size) plus opts; a failed dial leaves nothing running.
func dialWsactor(ctx context.Context, url string, opts ...wsactor.Option) (*wsactor.Conn, error) {
	c, err := wsactor.Dial(ctx, url, append([]wsactor.Option{wsactor.WithMaxMessageSize(maxMessageSize)}, opts...)...)
	if err != nil {
		if c != nil {
			c.Abort()
		}
		return nil, err
	}
	return c, nil
}

type wsactorConn struct {
	c   *wsactor.Conn
	ctx context.Context
}

func (w *wsactorConn) Write(p []byte) error { return w.c.Send(w.ctx, wsactor.Binary, p) }

func (w *wsactorConn) Run(fn func(p []byte) bool) error {
	for ev := range w.c.Events() {
		switch e := ev.(type) {
		case *wsactor.Message:
			more := fn(e.Data)
			e.Release() // the payload goes back to wsactor's pool (like gws's message.Close)
			if !more {
				w.Close()
				return nil
			}
		case *wsactor.Batch: // a backlog, delivered in one event (WithBatchDelivery)
			for _, m := range e.Messages {
				if !fn(m.Data) {
					e.Release()
					w.Close()
					return nil
				}
			}
			e.Release() // the whole batch back to wsactor in one step
		case *wsactor.Close:
			return closeResult(e)
		case *wsactor.Error:
			return e.Err
		}
	}
	return nil
}

// closeResult is what Run returns for wsactor's terminal Close.
func closeResult(e *wsactor.Close) error {
	if e.Code == wsactor.StatusNormalClosure || e.Clean {
		return nil
	}
	if e.Err != nil {
		return e.Err
	}
	return &closeCodeError{code: int(e.Code), reason: e.Reason}
}

// Close starts the closing handshake and keeps draining Events in the
// background (bounded by the library's close timeout, or 10 s then Abort) so
// the actor is never blocked on a full event channel.
func (w *wsactorConn) Close() {
	_ = w.c.Close(wsactor.StatusNormalClosure, "")
	go func() {
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case _, ok := <-w.c.Events():
				if !ok {
					return
				}
			case <-t.C:
				w.c.Abort()
				return
			}
		}
	}()
}
