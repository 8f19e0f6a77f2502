//go:build !nowsactor

package main

import (
	"context"
	"sync"
	"time"

	"github.com/wsactor/wsactor"
)

// wsactor-cb: wsactor used through callbacks (OnMessage, OnClose, OnError),
// the way R websocket users and load tests holding many connections write
// it; same options as the wsactor adapter. The callback dispatcher runs only
// while events wait and an idle actor parks in the shared poller, so an idle
// connection holds no goroutine: Start registers the callbacks and returns
// (the idle scenario uses it); Run is Start plus waiting for the end.
func init() {
	register(Adapter{Name: "wsactor-cb", Dial: func(ctx context.Context, url string) (Conn, error) {
		c, err := dialWsactor(ctx, url, wsactor.WithBatchDelivery())
		if err != nil {
			return nil, err
		}
		return &wsactorCB{wsactorConn: wsactorConn{c: c, ctx: context.Background()}, done: make(chan struct{})}, nil
	}})
}

// wsactorCB writes like wsactorConn and receives through callbacks.
type wsactorCB struct {
	wsactorConn
	done chan struct{}

	fn      func(p []byte) bool
	stopped bool // fn returned false (only the dispatcher touches fn and stopped)
	once    sync.Once
	err     error // written before done is closed
}

// Start registers the callbacks; messages that arrived before are waiting
// in the event channel and are dispatched first, in order.
func (w *wsactorCB) Start(fn func(p []byte) bool) <-chan struct{} {
	w.fn = fn
	w.c.OnMessage(func(m *wsactor.Message) {
		if !w.stopped && !w.fn(m.Data) {
			w.stopped = true
			_ = w.c.Close(wsactor.StatusNormalClosure, "")
		}
		m.Release()
	})
	w.c.OnClose(func(e *wsactor.Close) {
		if !w.stopped {
			w.err = closeResult(e)
		}
		w.once.Do(func() { close(w.done) })
	})
	w.c.OnError(func(e *wsactor.Error) {
		w.err = e.Err
		w.once.Do(func() { close(w.done) })
	})
	return w.done
}

func (w *wsactorCB) Run(fn func(p []byte) bool) error {
	<-w.Start(fn)
	return w.err
}

// Close starts the closing handshake; the callbacks see it through. Abort
// after 10 s.
func (w *wsactorCB) Close() {
	_ = w.c.Close(wsactor.StatusNormalClosure, "")
	go func() {
		select {
		case <-w.c.Done():
		case <-time.After(10 * time.Second):
			w.c.Abort()
		}
	}()
}
