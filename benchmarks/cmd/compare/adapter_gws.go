package main

import (
	"context"
	"errors"

	"github.com/lxzan/gws"
)

// lxzan/gws v1.8.9 client: gws.NewClient with an event handler,
// ParallelEnabled (the former ReadAsync) off so OnMessage runs in the ReadLoop
// goroutine, conn.WriteMessage to send, message.Close() to recycle buffers.
func init() {
	register(Adapter{Name: "gws", Dial: func(ctx context.Context, url string) (Conn, error) {
		h := &gwsHandler{}
		opt := &gws.ClientOption{
			Addr:               url,
			ParallelEnabled:    false,
			HandshakeTimeout:   handshakeTimeout,
			ReadMaxPayloadSize: maxMessageSize,
		}
		// gws.NewClient takes no context; HandshakeTimeout bounds it.
		c, _, err := gws.NewClient(h, opt)
		if err != nil {
			return nil, err
		}
		h.c = c
		return h, nil
	}})
}

type gwsHandler struct {
	gws.BuiltinEventHandler
	c       *gws.Conn
	fn      func(p []byte) bool
	stopped bool
	err     error
}

func (h *gwsHandler) OnMessage(s *gws.Conn, m *gws.Message) {
	defer m.Close()
	if h.stopped || h.fn == nil {
		return
	}
	if !h.fn(m.Bytes()) {
		h.stopped = true
		_ = s.WriteClose(1000, nil)
	}
}

func (h *gwsHandler) OnClose(s *gws.Conn, err error) { h.err = err }

func (h *gwsHandler) Write(p []byte) error { return h.c.WriteMessage(gws.OpcodeBinary, p) }

func (h *gwsHandler) Run(fn func(p []byte) bool) error {
	h.fn = fn
	h.c.ReadLoop()
	if h.stopped {
		return nil
	}
	var ce *gws.CloseError
	if errors.As(h.err, &ce) && ce.Code == 1000 {
		return nil
	}
	return h.err
}

func (h *gwsHandler) Close() { _ = h.c.WriteClose(1000, nil) }
