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
	quit  chan struct{} // closed when the server stops
	mu    sync.Mutex
	conns []net.Conn
	errs  []error
	wg    sync.WaitGroup
	once  sync.Once
}

// startRaw serves handle on every accepted connection until the test ends.
func startRaw(t testing.TB, handle func(nc net.Conn) error) *rawServer {
	t.Helper()
	return serveRaw(t, func(nc net.Conn, _ <-chan struct{}) error { return handle(nc) })
}

// serveRaw is startRaw for handlers that also watch quit, closed when the
// server stops (at the end of the test, or earlier by stop).
func serveRaw(t testing.TB, handle func(nc net.Conn, quit <-chan struct{}) error) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, quit: make(chan struct{})}
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
				if err := handle(nc, s.quit); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
				}
			}()
		}
	}()
	// At the end of the test, let the handlers finish their scripts and
	// force them only if they are stuck.
	t.Cleanup(func() { s.finish(t, waitFor) })
	return s
}

// stop ends the server now: listener, connections and handlers (a leak
// check may follow). It reports the handlers' errors.
func (s *rawServer) stop(t testing.TB) {
	t.Helper()
	s.finish(t, 0)
}

func (s *rawServer) finish(t testing.TB, grace time.Duration) {
	t.Helper()
	s.once.Do(func() {
		close(s.quit)
		s.ln.Close()
		if grace > 0 {
			done := make(chan struct{})
			go func() { s.wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(grace):
			}
		}
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		for _, err := range s.errs {
			t.Errorf("server: %v", err)
		}
	})
}

func (s *rawServer) URL() string { return "ws://" + s.ln.Addr().String() + "/" }

// scripted serves script on every connection after a correct handshake
// (br reads what the client sends) and returns the server's URL.
func scripted(t testing.TB, script func(nc net.Conn, br *bufio.Reader) error) string {
	t.Helper()
	s := startRaw(t, func(nc net.Conn) error {
		if err := upgrade(nc, ws.Upgrader{}); err != nil {
			return err
		}
		return script(nc, bufio.NewReader(nc))
	})
	return s.URL()
}

// pushThenClose serves n frames (frameOf(i)), flushed every flushEvery,
// then a 1000 close, and expects the client's 1000; it returns the URL.
func pushThenClose(t testing.TB, n, flushEvery int, frameOf func(i int) []byte) string {
	t.Helper()
	return scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		bw := bufio.NewWriter(nc)
		for i := range n {
			if _, err := bw.Write(frameOf(i)); err != nil {
				return err
			}
			if i%flushEvery == 0 {
				if err := bw.Flush(); err != nil {
					return err
				}
			}
		}
		if _, err := bw.Write(closeFrame(ws.StatusNormalClosure, "")); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return expectClose(br, ws.StatusNormalClosure)
	})
}

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

// pollUntil polls cond every few milliseconds until it holds; it fails the
// test with what() after waitFor.
func pollUntil(t testing.TB, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %s", waitFor, what())
		}
		<-tick.C
	}
}
