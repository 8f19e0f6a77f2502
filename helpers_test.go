package wsactor_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
	"github.com/wsactor/wsactor/internal/echoserver"
)

// waitFor bounds every wait in the tests.
const waitFor = 10 * time.Second

// rawServer accepts TCP connections on 127.0.0.1 and runs handle on each.
// Cleanup closes the listener and every connection and waits for the
// handlers.
type rawServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
	errs  chan error
}

func startRaw(t testing.TB, handle func(nc net.Conn) error) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, errs: make(chan error, 1024)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, nc)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer nc.Close()
				if err := handle(nc); err != nil {
					s.errs <- err
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		// Let the handlers finish their scripts; force them only if stuck.
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(waitFor):
		}
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		close(s.errs)
		for err := range s.errs {
			t.Errorf("server: %v", err)
		}
	})
	return s
}

func (s *rawServer) URL() string { return "ws://" + s.ln.Addr().String() + "/" }

// upgrade does the server side of the opening handshake.
func upgrade(nc net.Conn, u ws.Upgrader) error {
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	_, err := u.Upgrade(nc)
	_ = nc.SetDeadline(time.Time{})
	return err
}

// readRequest reads the client's upgrade request and returns the accept
// value a correct server would send.
func readRequest(nc net.Conn) (*http.Request, string, error) {
	_ = nc.SetReadDeadline(time.Now().Add(waitFor))
	req, err := http.ReadRequest(bufio.NewReader(nc))
	if err != nil {
		return nil, "", err
	}
	_ = nc.SetReadDeadline(time.Time{})
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return req, base64.StdEncoding.EncodeToString(h[:]), nil
}

func response101(accept string, extra ...string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		accept + "\r\n" + strings.Join(extra, "") + "\r\n"
}

// frame encodes a server frame (unmasked).
func frame(op ws.OpCode, fin bool, p []byte) []byte {
	var b bytes.Buffer
	_ = ws.WriteFrame(&b, ws.NewFrame(op, fin, p))
	return b.Bytes()
}

func closeFrame(code ws.StatusCode, reason string) []byte {
	return frame(ws.OpClose, true, ws.NewCloseFrameBody(code, reason))
}

// readClientFrame reads one client frame, checks it is masked and unmasks it.
func readClientFrame(r io.Reader) (ws.Frame, error) {
	f, err := ws.ReadFrame(r)
	if err != nil {
		return f, err
	}
	if !f.Header.Masked {
		return f, errors.New("client frame is not masked")
	}
	return ws.UnmaskFrameInPlace(f), nil
}

// expectClose reads client frames until a close frame and checks its code.
func expectClose(r io.Reader, want ws.StatusCode) error {
	for {
		f, err := readClientFrame(r)
		if err != nil {
			return err
		}
		if f.Header.OpCode != ws.OpClose {
			continue
		}
		code, _ := ws.ParseCloseFrameData(f.Payload)
		if code != want {
			return errors.New("client sent close " + itoa(int(code)) + ", want " + itoa(int(want)))
		}
		return nil
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func echoURL(t testing.TB) string {
	t.Helper()
	s, err := echoserver.Start(echoserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.URL()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}

// next receives the next event or fails the test after waitFor.
func next(t testing.TB, c *wsactor.Conn) wsactor.Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	case <-time.After(waitFor):
		t.Fatal("no event within", waitFor)
	}
	return nil
}

// terminal reads events until the terminal one, checks the channel closes
// after it, and returns it with the messages seen before.
func terminal(t testing.TB, c *wsactor.Conn) (wsactor.Event, []*wsactor.Message) {
	t.Helper()
	var msgs []*wsactor.Message
	deadline := time.After(waitFor)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatal("channel closed before a terminal event")
			}
			switch e := ev.(type) {
			case *wsactor.Message:
				msgs = append(msgs, e)
			case *wsactor.Close, *wsactor.Error:
				select {
				case extra, ok := <-c.Events():
					if ok {
						t.Fatalf("event %T after the terminal event", extra)
					}
				case <-deadline:
					t.Fatal("channel not closed after the terminal event")
				}
				select {
				case <-c.Done():
				case <-deadline:
					t.Fatal("Done not closed after the terminal event")
				}
				return ev, msgs
			}
		case <-deadline:
			t.Fatal("no terminal event within", waitFor)
		}
	}
}

func mustClose(t testing.TB, ev wsactor.Event) *wsactor.Close {
	t.Helper()
	cl, ok := ev.(*wsactor.Close)
	if !ok {
		t.Fatalf("terminal event is %T (%v), want *Close", ev, ev)
	}
	return cl
}

func mustOpen(t testing.TB, c *wsactor.Conn) *wsactor.Open {
	t.Helper()
	ev := next(t, c)
	o, ok := ev.(*wsactor.Open)
	if !ok {
		t.Fatalf("first event is %T, want *Open", ev)
	}
	return o
}
