package echoserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// client is a minimal raw WebSocket client built on gobwas/ws.
type client struct {
	t  *testing.T
	nc net.Conn
	r  io.Reader
}

func dial(t *testing.T, s *Server) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dial(ctx, s.URL())
	if err != nil {
		t.Fatalf(
			"dial: %v",
			err,
		)
	}
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &client{t: t, nc: nc, r: nc}
	if br != nil {
		c.r = io.MultiReader(br, nc)
	}
	t.Cleanup(func() { nc.Close() })
	return c
}

func (c *client) send(op ws.OpCode, fin bool, p []byte) {
	c.t.Helper()
	f := ws.MaskFrame(ws.NewFrame(op, fin, p))
	if err := ws.WriteFrame(c.nc, f); err != nil {
		c.t.Fatalf(
			"write: %v",
			err,
		)
	}
}

func (c *client) sendUnmasked(op ws.OpCode, p []byte) {
	c.t.Helper()
	if err := ws.WriteFrame(c.nc, ws.NewFrame(op, true, p)); err != nil {
		c.t.Fatalf(
			"write: %v",
			err,
		)
	}
}

func (c *client) read() ws.Frame {
	c.t.Helper()
	f, err := ws.ReadFrame(c.r)
	if err != nil {
		c.t.Fatalf(
			"read: %v",
			err,
		)
	}
	if f.Header.Masked {
		c.t.Fatalf(
			"server frame is masked: %+v",
			f.Header,
		)
	}
	return f
}

func (c *client) expect(op ws.OpCode, p []byte) {
	c.t.Helper()
	f := c.read()
	if f.Header.OpCode != op || !f.Header.Fin || !bytes.Equal(f.Payload, p) {
		c.t.Fatalf(
			"got op=%v fin=%v len=%d, want op=%v len=%d",
			f.Header.OpCode, f.Header.Fin, len(f.Payload), op, len(p),
		)
	}
}

func (c *client) expectClose(code ws.StatusCode) {
	c.t.Helper()
	f := c.read()
	if f.Header.OpCode != ws.OpClose {
		c.t.Fatalf(
			"got op=%v, want close",
			f.Header.OpCode,
		)
	}
	got, reason := ws.ParseCloseFrameData(f.Payload)
	if got != code {
		c.t.Fatalf(
			"close code %d (%q), want %d",
			got, reason, code,
		)
	}
}

func (c *client) expectEOF() {
	c.t.Helper()
	var b [1]byte
	if _, err := c.r.Read(b[:]); err != io.EOF {
		c.t.Fatalf(
			"after close: got %v, want EOF",
			err,
		)
	}
}

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf(
				"close: %v",
				err,
			)
		}
	})
	return s
}

func TestEcho(t *testing.T) {
	s := start(t, Options{})
	if !strings.HasPrefix(s.URL(), "ws://127.0.0.1:") {
		t.Fatalf(
			"URL %q",
			s.URL(),
		)
	}
	c := dial(t, s)

	c.send(ws.OpText, true, []byte("hello"))
	c.expect(ws.OpText, []byte("hello"))

	big := bytes.Repeat([]byte{0, 1, 2, 3, 0xff}, 100_000)
	c.send(ws.OpBinary, true, big)
	c.expect(ws.OpBinary, big)

	c.send(ws.OpText, true, nil)
	c.expect(ws.OpText, []byte{})

	// Fragmented message with a ping in the middle: the pong comes first,
	// then the reassembled message.
	c.send(ws.OpText, false, []byte("frag"))
	c.send(ws.OpPing, true, []byte("p1"))
	c.send(ws.OpContinuation, false, []byte("ment"))
	c.send(ws.OpContinuation, true, []byte("ed"))
	c.expect(ws.OpPong, []byte("p1"))
	c.expect(ws.OpText, []byte("fragmented"))

	c.send(ws.OpPong, true, []byte("unsolicited")) // ignored
	c.send(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
	c.expect(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
	c.expectEOF()

	st := s.Stats()
	if st.Messages != 4 || st.Pings != 1 || st.Closes != 1 || st.Upgraded != 1 {
		t.Fatalf(
			"stats %+v",
			st,
		)
	}
}

func TestProtocolErrors(t *testing.T) {
	cases := []struct {
		name string
		send func(c *client)
		code ws.StatusCode
	}{
		{
			name: "unmasked",
			send: func(c *client) { c.sendUnmasked(ws.OpText, []byte("x")) },
			code: ws.StatusProtocolError,
		},
		{
			name: "unexpected continuation",
			send: func(c *client) { c.send(ws.OpContinuation, true, []byte("x")) },
			code: ws.StatusProtocolError,
		},
		{
			name: "invalid utf8",
			send: func(c *client) { c.send(ws.OpText, true, []byte{0xff, 0xfe}) },
			code: ws.StatusInvalidFramePayloadData,
		},
		{
			name: "too big",
			send: func(c *client) { c.send(ws.OpBinary, true, make([]byte, 1025)) },
			code: ws.StatusMessageTooBig,
		},
		{
			name: "bad close code",
			send: func(c *client) {
				p := make([]byte, 2)
				binary.BigEndian.PutUint16(p, 999)
				c.send(ws.OpClose, true, p)
			},
			code: ws.StatusProtocolError,
		},
	}
	s := start(t, Options{MaxMessageSize: 1024})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s)
			tc.send(c)
			c.expectClose(tc.code)
			c.send(ws.OpClose, true, ws.NewCloseFrameBody(tc.code, ""))
			c.expectEOF()
		})
	}
}

func TestCloseWithOpenConnections(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cs []*client
	for range 20 {
		c := dial(t, s)
		c.send(ws.OpBinary, true, []byte{1, 2, 3})
		c.expect(ws.OpBinary, []byte{1, 2, 3})
		cs = append(cs, c)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	for _, c := range cs {
		if _, err := ws.ReadFrame(c.r); err == nil {
			t.Fatal("read after server Close succeeded")
		}
	}
	if a := s.Stats().Active; a != 0 {
		t.Fatalf(
			"active %d after Close",
			a,
		)
	}
	if _, err := net.Dial("tcp", s.Addr()); err == nil {
		t.Fatal("dial after Close succeeded")
	}
}

func TestShutdown(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		c := dial(t, s)
		wg.Go(func() {
			// Answer the server's close 1001 like a client would.
			f, err := ws.ReadFrame(c.r)
			if err != nil || f.Header.OpCode != ws.OpClose {
				t.Errorf(
					"got %v %v, want close",
					f.Header.OpCode, err,
				)
				return
			}
			code, _ := ws.ParseCloseFrameData(f.Payload)
			if code != ws.StatusGoingAway {
				t.Errorf(
					"code %d",
					code,
				)
			}
			_ = ws.WriteFrame(c.nc, ws.MaskFrame(ws.NewCloseFrame(f.Payload)))
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

func BenchmarkEcho(b *testing.B) {
	s, err := Start(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	nc, br, _, err := ws.Dial(context.Background(), s.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(br, nc)
	}
	r = bufio.NewReader(r)
	p := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if err := ws.WriteFrame(nc, ws.MaskFrame(ws.NewBinaryFrame(p))); err != nil {
			b.Fatal(err)
		}
		if _, err := ws.ReadFrame(r); err != nil {
			b.Fatal(err)
		}
	}
}
