//go:build !nowsactor

package main

import (
	"context"
	"time"

	"github.com/wsactor/wsactor"
)

// wsactor-recv: wsactor.Dial, c.Send to send, and a `for { ev, err :=
// c.Receive(ctx) }` loop with a type switch to receive, as a
// request/response client writes it: while it waits, Receive reads the
// socket in the caller's goroutine. Each message is released after use.
// Default options except the max message size.
func init() {
	register(Adapter{Name: "wsactor-recv", Dial: func(ctx context.Context, url string) (Conn, error) {
		c, err := dialWsactor(ctx, url)
		if err != nil {
			return nil, err
		}
		return &wsactorRecvConn{wsactorConn{c: c, ctx: context.Background()}}, nil
	}})
}

// wsactorRecvConn writes like wsactorConn and receives with Receive.
type wsactorRecvConn struct{ wsactorConn }

func (w *wsactorRecvConn) Run(fn func(p []byte) bool) error {
	for {
		ev, err := w.c.Receive(w.ctx)
		if err != nil {
			return nil // ErrClosed: the terminal event was received
		}
		switch e := ev.(type) {
		case *wsactor.Message:
			more := fn(e.Data)
			e.Release()
			if !more {
				w.Close()
				return nil
			}
		case *wsactor.Close:
			return closeResult(e)
		case *wsactor.Error:
			return e.Err
		}
	}
}

// Close starts the closing handshake and keeps receiving in the background
// until the terminal event (or 10 s, then Abort).
func (w *wsactorRecvConn) Close() {
	_ = w.c.Close(wsactor.StatusNormalClosure, "")
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for {
			if _, err := w.c.Receive(ctx); err != nil {
				if ctx.Err() != nil {
					w.c.Abort()
				}
				return
			}
		}
	}()
}
