package main

import (
	"context"
	"time"

	"github.com/gorilla/websocket"
)

// gorilla/websocket v1.5.3: Dialer.DialContext, conn.WriteMessage from one
// writer goroutine, conn.ReadMessage in a read loop. Default buffer sizes.
func init() {
	dialer := &websocket.Dialer{HandshakeTimeout: handshakeTimeout} // no Proxy: loopback only
	register(Adapter{Name: "gorilla", Dial: func(ctx context.Context, url string) (Conn, error) {
		c, _, err := dialer.DialContext(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		c.SetReadLimit(maxMessageSize)
		return &gorillaConn{c: c}, nil
	}})
}

type gorillaConn struct{ c *websocket.Conn }

func (g *gorillaConn) Write(p []byte) error { return g.c.WriteMessage(websocket.BinaryMessage, p) }

func (g *gorillaConn) Run(fn func(p []byte) bool) error {
	for {
		_, p, err := g.c.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return nil
			}
			return err
		}
		if !fn(p) {
			g.Close()
			return nil
		}
	}
}

func (g *gorillaConn) Close() {
	_ = g.c.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = g.c.Close()
}
