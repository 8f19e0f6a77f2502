package wsactor_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
)

func dialOpen(t *testing.T, url string, opts ...wsactor.Option) *wsactor.Conn {
	t.Helper()
	c, err := wsactor.Dial(ctxT(t), url, opts...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Abort(); <-c.Done() })
	mustOpen(t, c)
	return c
}

// TestCloseTable has one case per row of the close table (contract 6).
func TestCloseTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		opts      []wsactor.Option
		userClose bool
		script    func(nc net.Conn, br *bufio.Reader) error
		code      wsactor.StatusCode
		reason    string
		sent      wsactor.StatusCode
		clean     bool
		cause     func(error) bool
	}{
		{
			name:      "we close, peer echoes",
			userClose: true,
			script: func(nc net.Conn, br *bufio.Reader) error {
				if err := expectClose(br, 4000); err != nil {
					return err
				}
				_, err := nc.Write(closeFrame(4000, "done"))
				return err
			},
			code: 4000, reason: "done", sent: 4000, clean: true,
			cause: func(err error) bool { return err == nil },
		},
		{
			name: "peer closes with code and reason",
			script: func(nc net.Conn, br *bufio.Reader) error {
				if _, err := nc.Write(closeFrame(4001, "bye")); err != nil {
					return err
				}
				return expectClose(br, 4001)
			},
			code: 4001, reason: "bye", sent: 4001, clean: true,
			cause: func(err error) bool { return err == nil },
		},
		{
			name: "peer close with empty payload",
			script: func(nc net.Conn, br *bufio.Reader) error {
				if _, err := nc.Write(frame(ws.OpClose, true, nil)); err != nil {
					return err
				}
				return expectClose(br, 1000)
			},
			code: 1005, sent: 1000, clean: true,
			cause: func(err error) bool { return err == nil },
		},
		{
			name: "TCP drop without close frame",
			script: func(nc net.Conn, br *bufio.Reader) error {
				return nil // handler returns: the connection is closed
			},
			code: 1006,
			cause: func(err error) bool {
				var ne net.Error
				return errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne)
			},
		},
		{
			name: "message over MaxMessageSize",
			opts: []wsactor.Option{wsactor.WithMaxMessageSize(10)},
			script: func(nc net.Conn, br *bufio.Reader) error {
				if _, err := nc.Write(frame(ws.OpBinary, true, make([]byte, 11))); err != nil {
					return err
				}
				return expectClose(br, 1009)
			},
			code: 1006, sent: 1009,
			cause: func(err error) bool { return errors.Is(err, wsactor.ErrMessageTooBig) },
		},
		{
			name: "invalid UTF-8 in text",
			script: func(nc net.Conn, br *bufio.Reader) error {
				if _, err := nc.Write(frame(ws.OpText, true, []byte{'a', 0xff, 'b'})); err != nil {
					return err
				}
				return expectClose(br, 1007)
			},
			code: 1006, sent: 1007,
			cause: func(err error) bool { return errors.Is(err, wsactor.ErrInvalidUTF8) },
		},
		{
			name: "other protocol violation (reserved opcode)",
			script: func(nc net.Conn, br *bufio.Reader) error {
				if _, err := nc.Write(frame(ws.OpCode(3), true, nil)); err != nil {
					return err
				}
				return expectClose(br, 1002)
			},
			code: 1006, sent: 1002,
			cause: func(err error) bool {
				var pe *wsactor.ProtocolError
				return errors.As(err, &pe) && strings.Contains(pe.Reason, "opcode")
			},
		},
		{
			name: "peer close with invalid code",
			script: func(nc net.Conn, br *bufio.Reader) error {
				if _, err := nc.Write(closeFrame(1005, "")); err != nil {
					return err
				}
				return expectClose(br, 1002)
			},
			code: 1002, sent: 1002,
			cause: func(err error) bool {
				var pe *wsactor.ProtocolError
				return errors.As(err, &pe) && strings.Contains(pe.Reason, "close code")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := dialOpen(t, scripted(t, tc.script), tc.opts...)
			if tc.userClose {
				if err := c.Close(4000, "done"); err != nil {
					t.Fatal(err)
				}
			}
			cl := mustClose(t, mustTerminal(t, c))
			if cl.Code != tc.code || cl.Reason != tc.reason || cl.Sent != tc.sent || cl.Clean != tc.clean || !tc.cause(cl.Err) {
				t.Fatalf("Close = {Code:%d Reason:%q Sent:%d Clean:%v Err:%v}, want {Code:%d Reason:%q Sent:%d Clean:%v}",
					cl.Code, cl.Reason, cl.Sent, cl.Clean, cl.Err, tc.code, tc.reason, tc.sent, tc.clean)
			}
			if c.ReadyState() != wsactor.StateClosed {
				t.Fatalf("ReadyState = %v after the terminal event", c.ReadyState())
			}
		})
	}
}

// TestHandshakeFailures: every failure is one Error event, the same error
// from Dial, and inspectable with errors.Is/As.
func TestHandshakeFailures(t *testing.T) {
	t.Parallel()
	refusedAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	raw := func(resp func(accept string) string) string {
		return startRaw(t, func(nc net.Conn) error {
			_, accept, err := readRequest(nc)
			if err != nil {
				return err
			}
			_, err = io.WriteString(nc, resp(accept))
			if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
				return nil // the client stopped reading a response it rejected (too large)
			}
			return err
		}).URL()
	}
	silent := startRaw(t, func(nc net.Conn) error {
		_, _ = io.Copy(io.Discard, nc) // never answers
		return nil
	}).URL()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	wssURL := "wss://" + tlsSrv.Listener.Addr().String() + "/"
	roots := x509.NewCertPool()
	roots.AddCert(tlsSrv.Certificate())
	noDNS := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no DNS server in tests")
	}}
	dnsDial := wsactor.WithNetDial((&net.Dialer{Resolver: noDNS}).DialContext)

	cases := []struct {
		name  string
		url   string
		opts  []wsactor.Option
		check func(error) bool
	}{
		{name: "refused", url: "ws://" + refusedAddr + "/", check: func(err error) bool { return errors.Is(err, wsactor.ErrRefused) }},
		{name: "dns", url: "ws://no-such-host.invalid/", opts: []wsactor.Option{dnsDial}, check: func(err error) bool {
			var d *net.DNSError
			return errors.Is(err, wsactor.ErrDNS) && errors.As(err, &d)
		}},
		{name: "timeout", url: silent, opts: []wsactor.Option{wsactor.WithHandshakeTimeout(200 * time.Millisecond)}, check: func(err error) bool {
			return errors.Is(err, wsactor.ErrHandshakeTimeout)
		}},
		{name: "tls unknown authority", url: wssURL, check: func(err error) bool {
			var ce *tls.CertificateVerificationError
			return errors.Is(err, wsactor.ErrTLS) && errors.As(err, &ce)
		}},
		{name: "tls wrong host", url: wssURL, opts: []wsactor.Option{wsactor.WithTLSConfig(&tls.Config{RootCAs: roots, ServerName: "wrong.example"})}, check: func(err error) bool {
			var hn x509.HostnameError
			return errors.Is(err, wsactor.ErrTLS) && errors.As(err, &hn)
		}},
		{name: "tls ok, non-101", url: wssURL, opts: []wsactor.Option{wsactor.WithTLSConfig(&tls.Config{RootCAs: roots})}, check: func(err error) bool {
			var he *wsactor.HandshakeError
			return errors.As(err, &he) && he.StatusCode == 404
		}},
		{name: "non-101 with headers and body", url: raw(func(string) string {
			return "HTTP/1.1 403 Forbidden\r\nX-Why: denied\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat("b", 2000)
		}), check: func(err error) bool {
			var he *wsactor.HandshakeError
			return errors.As(err, &he) && he.StatusCode == 403 && he.Header.Get("X-Why") == "denied" && len(he.Body) == 1024
		}},
		{name: "bad accept", url: raw(func(string) string { return response101("AAAAAAAAAAAAAAAAAAAAAAAAAAA=") }), check: func(err error) bool {
			return errors.Is(err, wsactor.ErrBadAccept)
		}},
		{name: "unoffered subprotocol", url: raw(func(a string) string { return response101(a, "Sec-WebSocket-Protocol: evil\r\n") }),
			opts:  []wsactor.Option{wsactor.WithProtocols("chat")},
			check: func(err error) bool { return errors.Is(err, wsactor.ErrBadSubprotocol) }},
		{name: "unoffered extension", url: raw(func(a string) string { return response101(a, "Sec-WebSocket-Extensions: permessage-deflate\r\n") }),
			check: func(err error) bool { return errors.Is(err, wsactor.ErrBadExtension) }},
		{name: "missing upgrade", url: raw(func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + a + "\r\n\r\n"
		}), check: func(err error) bool { return errors.Is(err, wsactor.ErrBadUpgrade) }},
		{name: "megabytes of headers", url: raw(func(a string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nX-Big: " + strings.Repeat("x", 2<<20) + "\r\n\r\n"
		}), check: func(err error) bool { return errors.Is(err, wsactor.ErrResponseTooLarge) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := wsactor.Dial(ctxT(t), tc.url, tc.opts...)
			if err == nil || !tc.check(err) {
				t.Fatalf("Dial error = %v", err)
			}
			ev, msgs := terminal(t, c)
			e, ok := ev.(*wsactor.Error)
			if !ok || len(msgs) != 0 || e.Err != err {
				t.Fatalf("terminal = %T %v, want the Dial error as the only event", ev, ev)
			}
			if c.ReadyState() != wsactor.StateClosed {
				t.Fatalf("state %v", c.ReadyState())
			}
		})
	}
}

// TestHandshakeInterrupted: Abort and a cancelled ctx end the opening
// handshake at once in both its phases, the TCP dial (a NetDial that waits
// for its ctx) and the upgrade (a server that reads the request and never
// answers). The handshake timeout is an hour, so only the interruption can
// end them, and the error says which one did.
func TestHandshakeInterrupted(t *testing.T) {
	t.Parallel()
	slow := wsactor.WithHandshakeTimeout(time.Hour)
	// dialing is a NetDial that reports when it is called and then waits
	// for its ctx (a dial that never completes).
	dialing := func() (chan struct{}, wsactor.Option) {
		entered := make(chan struct{})
		return entered, wsactor.WithNetDial(func(ctx context.Context, _, _ string) (net.Conn, error) {
			close(entered)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}
	// silent is a server that reports each request it read and never answers.
	silent := func() (chan struct{}, string) {
		got := make(chan struct{}, 1)
		url := startRaw(t, func(nc net.Conn) error {
			if _, _, err := readRequest(nc); err != nil {
				return err
			}
			got <- struct{}{}
			_ = nc.SetReadDeadline(time.Time{})
			_, _ = io.Copy(io.Discard, nc) // until the client hangs up
			return nil
		}).URL()
		return got, url
	}
	wait := func(t *testing.T, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(waitFor):
			t.Fatal("the handshake did not get that far")
		}
	}
	abort := func(t *testing.T, url string, reached <-chan struct{}, opts ...wsactor.Option) {
		t.Helper()
		c, err := wsactor.New(url, append(opts, slow)...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		wait(t, reached)
		c.Abort()
		ev, msgs := terminal(t, c)
		if e, ok := ev.(*wsactor.Error); !ok || len(msgs) != 0 || !errors.Is(e.Err, wsactor.ErrAborted) {
			t.Fatalf("terminal = %T %v, want an Error with ErrAborted", ev, ev)
		}
	}
	cancel := func(t *testing.T, url string, reached <-chan struct{}, opts ...wsactor.Option) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-reached
			cancel()
		}()
		type result struct {
			c   *wsactor.Conn
			err error
		}
		res := make(chan result, 1)
		go func() {
			c, err := wsactor.Dial(ctx, url, append(opts, slow)...)
			res <- result{c, err}
		}()
		var c *wsactor.Conn
		var err error
		select {
		case r := <-res:
			c, err = r.c, r.err
		case <-time.After(waitFor):
			t.Fatal("Dial did not return after its ctx was cancelled")
		}
		if !errors.Is(err, context.Canceled) || errors.Is(err, wsactor.ErrHandshakeTimeout) {
			t.Fatalf("Dial error = %v, want context.Canceled", err)
		}
		if ev, _ := terminal(t, c); ev.(*wsactor.Error).Err != err {
			t.Fatalf("terminal = %v, want the Dial error", ev)
		}
	}
	phases := []struct {
		name  string
		setup func() (reached <-chan struct{}, url string, opts []wsactor.Option)
	}{
		{"dialing", func() (<-chan struct{}, string, []wsactor.Option) {
			entered, opt := dialing()
			return entered, "ws://127.0.0.1:1/", []wsactor.Option{opt}
		}},
		{"upgrading", func() (<-chan struct{}, string, []wsactor.Option) {
			got, url := silent()
			return got, url, nil
		}},
	}
	interrupts := []struct {
		name string
		run  func(t *testing.T, url string, reached <-chan struct{}, opts ...wsactor.Option)
	}{{"abort", abort}, {"cancel", cancel}}
	for _, in := range interrupts {
		for _, ph := range phases {
			t.Run(in.name+" while "+ph.name, func(t *testing.T) {
				t.Parallel()
				reached, url, opts := ph.setup()
				in.run(t, url, reached, opts...)
			})
		}
	}
}

// TestDialAddress: the address dialed is the URL's host and port, or the
// scheme's default port (80 for ws, 443 for wss), with IPv6 literals in
// brackets.
func TestDialAddress(t *testing.T) {
	t.Parallel()
	errStop := errors.New("stop here")
	for url, want := range map[string]string{
		"ws://example.com/":       "example.com:80",
		"wss://example.com/x":     "example.com:443",
		"ws://example.com:8080/":  "example.com:8080",
		"wss://example.com:9443/": "example.com:9443",
		"ws://[::1]/":             "[::1]:80",
		"wss://[::1]:9443/":       "[::1]:9443",
	} {
		var got string
		dial := wsactor.WithNetDial(func(_ context.Context, network, addr string) (net.Conn, error) {
			got = network + " " + addr
			return nil, errStop
		})
		if _, err := wsactor.Dial(ctxT(t), url, dial); !errors.Is(err, errStop) {
			t.Errorf("%s: Dial = %v, want the NetDial error", url, err)
		}
		if got != "tcp "+want {
			t.Errorf("%s: dialed %q, want %q", url, got, "tcp "+want)
		}
	}
}

func TestTLSEchoWithCA(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nc, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		defer nc.Close()
		f, err := readClientFrame(nc)
		if err != nil {
			return
		}
		_, _ = nc.Write(frame(f.Header.OpCode, true, f.Payload))
		_ = expectClose(nc, 1000)
		_, _ = nc.Write(closeFrame(1000, ""))
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	c := dialOpen(t, "wss://"+srv.Listener.Addr().String()+"/", wsactor.WithTLSConfig(&tls.Config{RootCAs: roots}))
	if err := c.SendText(ctxT(t), "secure"); err != nil {
		t.Fatal(err)
	}
	if m, ok := next(t, c).(*wsactor.Message); !ok || m.Text() != "secure" {
		t.Fatalf("echo = %v", m)
	}
	_ = c.Close(1000, "")
	if cl := mustClose(t, mustTerminal(t, c)); !cl.Clean {
		t.Fatalf("close %+v", cl)
	}
}

// TestMaxMessageSize: equal passes, one byte more closes with 1009, and 0
// allows only empty messages; also across fragments.
func TestMaxMessageSize(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		limit  int64
		frames [][]byte
		ok     bool
	}{
		{"equal", 100, [][]byte{frame(ws.OpBinary, true, make([]byte, 100))}, true},
		{"one over", 100, [][]byte{frame(ws.OpBinary, true, make([]byte, 101))}, false},
		{"fragments equal", 100, [][]byte{frame(ws.OpBinary, false, make([]byte, 60)), frame(ws.OpContinuation, true, make([]byte, 40))}, true},
		{"fragments one over", 100, [][]byte{frame(ws.OpBinary, false, make([]byte, 60)), frame(ws.OpContinuation, true, make([]byte, 41))}, false},
		{"zero empty", 0, [][]byte{frame(ws.OpText, true, nil)}, true},
		{"zero one byte", 0, [][]byte{frame(ws.OpText, true, []byte("x"))}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
				for _, f := range tc.frames {
					if _, err := nc.Write(f); err != nil {
						return err
					}
				}
				if tc.ok {
					_, err := nc.Write(closeFrame(1000, ""))
					return err
				}
				return expectClose(br, 1009)
			})
			c := dialOpen(t, url, wsactor.WithMaxMessageSize(tc.limit))
			ev, msgs := terminal(t, c)
			cl := mustClose(t, ev)
			if tc.ok {
				if len(msgs) != 1 || cl.Err != nil {
					t.Fatalf("msgs=%d close=%+v", len(msgs), cl)
				}
				return
			}
			if len(msgs) != 0 || cl.Sent != 1009 || !errors.Is(cl.Err, wsactor.ErrMessageTooBig) {
				t.Fatalf("msgs=%d close=%+v", len(msgs), cl)
			}
		})
	}
}

// TestPingsBetweenFragments: pings inside a fragmented message are answered
// with the same payload and the message arrives whole.
func TestPingsBetweenFragments(t *testing.T) {
	t.Parallel()
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		var out []byte
		out = append(out, frame(ws.OpText, false, []byte("frag-"))...)
		out = append(out, frame(ws.OpPing, true, []byte("p1"))...)
		out = append(out, frame(ws.OpContinuation, false, []byte("ment"))...)
		out = append(out, frame(ws.OpPing, true, []byte("p2"))...)
		out = append(out, frame(ws.OpContinuation, true, []byte("ed"))...)
		if _, err := nc.Write(out); err != nil {
			return err
		}
		for _, want := range []string{"p1", "p2"} {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			if f.Header.OpCode != ws.OpPong || string(f.Payload) != want {
				return fmt.Errorf("got %v %q, want pong %q", f.Header.OpCode, f.Payload, want)
			}
		}
		if _, err := nc.Write(closeFrame(1000, "")); err != nil {
			return err
		}
		return expectClose(br, 1000)
	})
	c := dialOpen(t, url)
	ev, msgs := terminal(t, c)
	mustClose(t, ev)
	if len(msgs) != 1 || msgs[0].Text() != "frag-mented" {
		t.Fatalf("messages %v", msgs)
	}
}

// TestFramesRightAfter101: frames written in the same TCP write as the 101
// response are not lost (the gobwas/ws br trap, contract 12).
func TestFramesRightAfter101(t *testing.T) {
	t.Parallel()
	url := startRaw(t, func(nc net.Conn) error {
		_, accept, err := readRequest(nc)
		if err != nil {
			return err
		}
		out := []byte(response101(accept))
		for i := range 20 {
			out = append(out, frame(ws.OpText, true, []byte(fmt.Sprint(i)))...)
		}
		out = append(out, closeFrame(1000, "")...)
		_, err = nc.Write(out)
		return err
	}).URL()
	for i := range 100 {
		c := dialOpen(t, url)
		ev, msgs := terminal(t, c)
		mustClose(t, ev)
		if len(msgs) != 20 {
			t.Fatalf("run %d: %d messages, want 20", i, len(msgs))
		}
		for j, m := range msgs {
			if m.Text() != fmt.Sprint(j) {
				t.Fatalf("run %d: message %d = %q", i, j, m.Text())
			}
		}
	}
}

// TestManyMessagesInOrder: 10 000 messages arrive complete and in order.
func TestManyMessagesInOrder(t *testing.T) {
	t.Parallel()
	const n = 10000
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		w := bufio.NewWriter(nc)
		for i := range n {
			if _, err := w.Write(frame(ws.OpBinary, true, []byte(fmt.Sprintf("message %06d %s", i, strings.Repeat("x", i%300))))); err != nil {
				return err
			}
		}
		if _, err := w.Write(closeFrame(1000, "")); err != nil {
			return err
		}
		if err := w.Flush(); err != nil {
			return err
		}
		return expectClose(br, 1000)
	})
	c := dialOpen(t, url, wsactor.WithEventBuffer(16))
	ev, msgs := terminal(t, c)
	mustClose(t, ev)
	if len(msgs) != n {
		t.Fatalf("%d messages", len(msgs))
	}
	for i, m := range msgs {
		if want := fmt.Sprintf("message %06d %s", i, strings.Repeat("x", i%300)); string(m.Data) != want {
			t.Fatalf("message %d = %q", i, m.Data)
		}
	}
}

// TestConcurrentSends: 64 goroutines send at once; every frame arrives
// intact (never interleaved) at the server.
func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	const senders, each = 64, 50
	got := make(chan map[string]int, 1)
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		seen := map[string]int{}
		for range senders * each {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			if f.Header.OpCode != ws.OpBinary || !f.Header.Fin {
				return fmt.Errorf("frame %v", f.Header)
			}
			seen[string(f.Payload)]++
		}
		got <- seen
		if err := expectClose(br, 1000); err != nil {
			return err
		}
		_, err := nc.Write(closeFrame(1000, ""))
		return err
	})
	c := dialOpen(t, url, wsactor.WithSendQueue(8, 1<<20))
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				p := bytes.Repeat([]byte{byte(g)}, 100+g*37+i)
				copy(p, fmt.Sprintf("%02d-%03d", g, i))
				if err := c.SendBinary(ctxT(t), p); err != nil {
					t.Errorf("send: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	var seen map[string]int
	select {
	case seen = <-got:
	case <-time.After(waitFor):
		t.Fatal("server did not get every frame")
	}
	for g := range senders {
		for i := range each {
			p := bytes.Repeat([]byte{byte(g)}, 100+g*37+i)
			copy(p, fmt.Sprintf("%02d-%03d", g, i))
			if seen[string(p)] != 1 {
				t.Fatalf("frame %d/%d seen %d times", g, i, seen[string(p)])
			}
		}
	}
	_ = c.Close(1000, "")
	mustClose(t, mustTerminal(t, c))
}

func TestCloseSemantics(t *testing.T) {
	t.Parallel()
	t.Run("invalid codes change nothing", func(t *testing.T) {
		t.Parallel()
		c := dialOpen(t, echoURL(t))
		var ce *wsactor.CloseError
		for _, code := range []wsactor.StatusCode{0, 999, 1004, 1005, 1006, 1015, 2999, 5000} {
			if err := c.Close(code, ""); !errors.As(err, &ce) {
				t.Fatalf("Close(%d) = %v", code, err)
			}
		}
		for _, reason := range []string{strings.Repeat("r", 124), "\xff"} {
			if err := c.Close(1000, reason); !errors.As(err, &ce) {
				t.Fatalf("Close(1000, %q) = %v", reason, err)
			}
		}
		if c.ReadyState() != wsactor.StateOpen {
			t.Fatalf("state %v after invalid Close", c.ReadyState())
		}
		if err := c.SendText(ctxT(t), "still open"); err != nil {
			t.Fatal(err)
		}
		if m, ok := next(t, c).(*wsactor.Message); !ok || m.Text() != "still open" {
			t.Fatal("echo after invalid Close failed")
		}
		if err := c.Close(1000, strings.Repeat("r", 123)); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(4000, "again"); err != nil {
			t.Fatalf("second Close = %v, want nil", err)
		}
		if c.ReadyState() != wsactor.StateClosing && c.ReadyState() != wsactor.StateClosed {
			t.Fatalf("state %v", c.ReadyState())
		}
		if err := c.SendText(ctxT(t), "x"); !errors.Is(err, wsactor.ErrNotOpen) {
			t.Fatalf("Send while closing = %v", err)
		}
		cl := mustClose(t, mustTerminal(t, c))
		if cl.Sent != 1000 || cl.Code != 1000 || !cl.Clean {
			t.Fatalf("close %+v", cl)
		}
		if err := c.Close(1000, ""); err != nil {
			t.Fatalf("Close after closed = %v", err)
		}
		if err := c.SendText(ctxT(t), "x"); !errors.Is(err, wsactor.ErrNotOpen) {
			t.Fatalf("Send after close = %v", err)
		}
	})
	t.Run("close before open sends the user's code and reason", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		url := startRaw(t, func(nc net.Conn) error {
			_, accept, err := readRequest(nc)
			if err != nil {
				return err
			}
			<-release
			if _, err := io.WriteString(nc, response101(accept)); err != nil {
				return err
			}
			f, err := readClientFrame(nc)
			if err != nil {
				return err
			}
			if code, reason := ws.ParseCloseFrameData(f.Payload); f.Header.OpCode != ws.OpClose || code != 4002 || reason != "early" {
				return fmt.Errorf("client sent %v %d %q, want close 4002 \"early\"", f.Header.OpCode, code, reason)
			}
			_, err = nc.Write(closeFrame(4002, ""))
			return err
		}).URL()
		c, err := wsactor.New(url)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(ctxT(t)); !errors.Is(err, wsactor.ErrAlreadyConnected) {
			t.Fatalf("second Connect = %v", err)
		}
		if err := c.Close(4002, "early"); err != nil {
			t.Fatal(err)
		}
		close(release)
		ev, msgs := terminal(t, c)
		cl := mustClose(t, ev)
		if len(msgs) != 0 || cl.Sent != 4002 || cl.Code != 4002 || !cl.Clean {
			t.Fatalf("close %+v", cl)
		}
	})
	t.Run("close on idle", func(t *testing.T) {
		c, err := wsactor.New("ws://127.0.0.1:1/")
		if err != nil {
			t.Fatal(err)
		}
		if c.ReadyState() != wsactor.StateIdle {
			t.Fatal(c.ReadyState())
		}
		if err := c.Close(1000, ""); err != nil {
			t.Fatal(err)
		}
		if _, ok := <-c.Events(); ok {
			t.Fatal("event after Close on idle")
		}
		if err := c.Connect(ctxT(t)); !errors.Is(err, wsactor.ErrClosed) {
			t.Fatalf("Connect after Close = %v", err)
		}
		if c.Wait() != nil {
			t.Fatal("terminal event for a never-connected conn")
		}
	})
	t.Run("close timeout", func(t *testing.T) {
		t.Parallel()
		url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
			_, _ = io.Copy(io.Discard, br) // reads our close, never answers
			return nil
		})
		c := dialOpen(t, url, wsactor.WithCloseTimeout(100*time.Millisecond))
		start := time.Now()
		_ = c.Close(1000, "")
		cl := mustClose(t, mustTerminal(t, c))
		if cl.Code != 1006 || cl.Sent != 1000 || cl.Clean || !errors.Is(cl.Err, wsactor.ErrCloseTimeout) {
			t.Fatalf("close %+v", cl)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("close took %v", d)
		}
	})
	t.Run("abort", func(t *testing.T) {
		t.Parallel()
		c := dialOpen(t, echoURL(t))
		c.Abort()
		c.Abort()
		cl := mustClose(t, mustTerminal(t, c))
		if cl.Code != 1006 || !errors.Is(cl.Err, wsactor.ErrAborted) {
			t.Fatalf("close %+v", cl)
		}
	})
	t.Run("close does not wait for an absent consumer", func(t *testing.T) {
		t.Parallel()
		url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
			for range 100 {
				if _, err := nc.Write(frame(ws.OpText, true, []byte("unread"))); err != nil {
					return nil
				}
			}
			if err := expectClose(br, 1000); err != nil {
				return err
			}
			_, _ = nc.Write(closeFrame(1000, ""))
			return nil
		})
		c := dialOpen(t, url, wsactor.WithEventBuffer(4))
		// Wait until the actor is blocked on the full channel.
		pollUntil(t, func() string { return fmt.Sprintf("stats %+v", c.Stats()) },
			func() bool { return c.Stats().EventsQueue >= 4 })
		_ = c.Close(1000, "")
		select {
		case <-c.Done():
		case <-time.After(waitFor):
			t.Fatal("connection did not end without a consumer")
		}
		ev, _ := terminal(t, c)
		mustClose(t, ev)
	})
}

// TestCallbacks covers the adapter's semantics (contract 7).
func TestCallbacks(t *testing.T) {
	t.Parallel()
	c, err := wsactor.New(echoURL(t), wsactor.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	closed := make(chan *wsactor.Close, 1)
	var lateCancel func()
	c.OnOpen(func(o *wsactor.Open) {
		add("open1")
		if err := o.Conn().SendText(context.Background(), "one"); err != nil {
			t.Errorf("Send from handler: %v", err)
		}
	})
	c.OnOpen(func(*wsactor.Open) { add("open2") })
	var cancel2 func()
	c.OnMessage(func(m *wsactor.Message) {
		add("m1:" + m.Text())
		if m.Text() == "one" {
			cancel2() // still runs for this event
			lateCancel = c.OnMessage(func(m *wsactor.Message) { add("late:" + m.Text()) })
			panic("handler panic is recovered")
		}
		if m.Text() == "two" {
			_ = m.Conn().Close(1000, "from handler")
		}
	})
	cancel2 = c.OnMessage(func(m *wsactor.Message) {
		add("m2:" + m.Text())
		if m.Text() == "one" {
			_ = m.Conn().SendText(context.Background(), "two")
		}
	})
	c.OnClose(func(cl *wsactor.Close) { add("close"); closed <- cl })
	c.OnError(func(*wsactor.Error) { add("error") })
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var cl *wsactor.Close
	select {
	case cl = <-closed:
	case <-time.After(waitFor):
		t.Fatal("no close")
	}
	<-c.Done()
	cancel2()
	lateCancel()
	lateCancel()
	mu.Lock()
	defer mu.Unlock()
	want := "open1 open2 m1:one m2:one m1:two late:two close"
	if got := strings.Join(log, " "); got != want {
		t.Fatalf("calls:\n got %s\nwant %s", got, want)
	}
	if cl.Sent != 1000 || !cl.Clean {
		t.Fatalf("close %+v", cl)
	}
}

// TestLogChannels: unknown names are errors naming them; channels set and
// cleared at runtime change what is logged.
func TestLogChannels(t *testing.T) {
	t.Parallel()
	var ce *wsactor.ConfigError
	if _, err := wsactor.New("ws://x/", wsactor.WithAccessLog("connect", "bogus", "nope")); !errors.As(err, &ce) || !strings.Contains(err.Error(), "bogus,nope") {
		t.Fatalf("New with unknown channels = %v", err)
	}
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	c, err := wsactor.New(echoURL(t), wsactor.WithLogger(logger), wsactor.WithAccessLog("connect"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetAccessLogChannels("frame_header", "wrong"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "wrong") {
		t.Fatalf("Set with unknown = %v", err)
	}
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, c)
	if err := c.SendText(ctxT(t), "a"); err != nil {
		t.Fatal(err)
	}
	next(t, c)
	if s := buf.String(); !strings.Contains(s, "channel=connect") || strings.Contains(s, "channel=frame_header") {
		t.Fatalf("log before Set:\n%s", s)
	}
	if err := c.SetAccessLogChannels("frame_header", "message_header"); err != nil {
		t.Fatal(err)
	}
	if err := c.SendText(ctxT(t), "b"); err != nil {
		t.Fatal(err)
	}
	next(t, c)
	if s := buf.String(); !strings.Contains(s, "channel=frame_header") || !strings.Contains(s, "channel=message_header") {
		t.Fatalf("log after Set:\n%s", s)
	}
	if err := c.ClearAccessLogChannels("all"); err != nil {
		t.Fatal(err)
	}
	before := len(buf.String())
	if err := c.SendText(ctxT(t), "c"); err != nil {
		t.Fatal(err)
	}
	next(t, c)
	if err := c.SetErrorLogChannels("devel"); err != nil {
		t.Fatal(err)
	}
	if err := c.ClearErrorLogChannels("all"); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(1000, "")
	mustTerminal(t, c)
	if s := buf.String()[before:]; s != "" {
		t.Fatalf("logged after Clear(all):\n%s", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestEventBufferDefault: the channel holds DefaultEventBuffer events, or
// DefaultBatchEventBuffer with WithBatchDelivery, plus the terminal slot;
// WithEventBuffer wins in either order.
func TestEventBufferDefault(t *testing.T) {
	t.Parallel()
	cases := []struct {
		opts []wsactor.Option
		want int
	}{
		{nil, wsactor.DefaultEventBuffer + 1},
		{[]wsactor.Option{wsactor.WithBatchDelivery()}, wsactor.DefaultBatchEventBuffer + 1},
		{[]wsactor.Option{wsactor.WithBatchDelivery(), wsactor.WithEventBuffer(100)}, 101},
		{[]wsactor.Option{wsactor.WithEventBuffer(100), wsactor.WithBatchDelivery()}, 101},
		{[]wsactor.Option{wsactor.WithEventBuffer(3)}, 4},
	}
	for i, tc := range cases {
		c, err := wsactor.New("ws://127.0.0.1:1/", tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := cap(c.Events()); got != tc.want {
			t.Errorf("case %d: channel capacity %d, want %d", i, got, tc.want)
		}
		c.Abort()
	}
}

// TestEventChannelMadeByFirstConsumer: with the default event buffer the
// channel is made by the connection's first consumer: Events() and callbacks
// get DefaultEventBuffer slots, a first Receive DefaultReceiveEventBuffer,
// and a message that arrives before any of them makes the actor make it
// with DefaultEventBuffer. The Open waiting in the provisional channel comes
// first in every case, before the message.
func TestEventChannelMadeByFirstConsumer(t *testing.T) {
	t.Parallel()
	quiet := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		_, _ = io.Copy(io.Discard, br) // until the client goes
		return nil
	})
	early := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		if _, err := nc.Write(frame(ws.OpText, true, []byte("early"))); err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, br)
		return nil
	})
	cases := []struct {
		name    string
		url     string
		consume func(t *testing.T, c *wsactor.Conn) // takes the Open
		want    int
	}{
		{"Events", quiet, func(t *testing.T, c *wsactor.Conn) { mustOpen(t, c) }, wsactor.DefaultEventBuffer + 1},
		{"Receive", quiet, func(t *testing.T, c *wsactor.Conn) {
			if ev, err := c.Receive(ctxT(t)); err != nil {
				t.Fatal(err)
			} else if _, ok := ev.(*wsactor.Open); !ok {
				t.Fatalf("first event %T, want *Open", ev)
			}
		}, wsactor.DefaultReceiveEventBuffer + 1},
		{"callbacks", quiet, func(t *testing.T, c *wsactor.Conn) {
			opened := make(chan struct{})
			c.OnOpen(func(*wsactor.Open) { close(opened) })
			<-opened
		}, wsactor.DefaultEventBuffer + 1},
		{"message first", early, func(t *testing.T, c *wsactor.Conn) {
			pollUntil(t, func() string { return "the early message was not delivered" },
				func() bool { return c.Stats().EventsQueue == 2 })
			for _, want := range []string{"*wsactor.Open", "*wsactor.Message"} {
				ev, err := c.Receive(ctxT(t))
				if err != nil {
					t.Fatal(err)
				}
				if got := fmt.Sprintf("%T", ev); got != want {
					t.Fatalf("event %T, want %s", ev, want)
				}
			}
		}, wsactor.DefaultEventBuffer + 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := wsactor.Dial(ctxT(t), tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { c.Abort(); c.Wait() }()
			tc.consume(t, c)
			if got := cap(c.Events()); got != tc.want {
				t.Errorf("channel capacity %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	t.Parallel()
	var ce *wsactor.ConfigError
	cases := []struct {
		url  string
		opts []wsactor.Option
	}{
		{url: "http://example.com/"},
		{url: "ws://"},
		{url: "ws://host:0/"},
		{url: "ws://host:65536/"},
		{url: "ws://host:abc/"},
		{url: "ws://host/#frag"},
		{url: "ws://user:pw@host/"},
		{url: "ws://ho st/"},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithHeader(http.Header{"Bad Name": {"v"}})}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithHeader(http.Header{"X-A": {"v\r\nInjected: 1"}})}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithHeader(http.Header{"Sec-WebSocket-Key": {"x"}})}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithHeader(http.Header{"Upgrade": {"x"}})}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithHeader(http.Header{"Host": {"x"}})}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithProtocols("")}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithProtocols("a b")}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithProtocols("a", "a")}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithMaxMessageSize(-1)}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithEventBuffer(0)}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithErrorLog("fatal", "loud")}},
		{url: "ws://h/", opts: []wsactor.Option{wsactor.WithInboundPolicy(wsactor.Policy(9))}},
	}
	for _, tc := range cases {
		if _, err := wsactor.New(tc.url, tc.opts...); !errors.As(err, &ce) {
			t.Errorf("New(%q) = %v, want *ConfigError", tc.url, err)
		}
	}
	for _, ok := range []string{"WS://h/", "wss://h:443/p?q=1", "ws://[::1]:80/", "ws://h"} {
		if _, err := wsactor.New(ok, wsactor.WithHeader(http.Header{"Authorization": {"Bearer x"}}), wsactor.WithProtocols("a", "b")); err != nil {
			t.Errorf("New(%q) = %v", ok, err)
		}
	}
}

// TestSendErrors: ErrNotOpen outside Open, ErrInvalidUTF8 for bad text,
// ErrQueueFull from TrySend, ctx ending a blocked Send.
func TestSendErrors(t *testing.T) {
	t.Parallel()
	c, err := wsactor.New("ws://127.0.0.1:1/")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SendText(ctxT(t), "x"); !errors.Is(err, wsactor.ErrNotOpen) {
		t.Fatalf("Send on idle = %v", err)
	}
	_ = c.Close(1000, "")

	stall := make(chan struct{})
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		<-stall // never reads while the test fills the queue
		return nil
	})
	c = dialOpen(t, url, wsactor.WithSendQueue(4, 1<<20))
	defer close(stall)
	if err := c.Send(ctxT(t), wsactor.Text, []byte{0xff}); !errors.Is(err, wsactor.ErrInvalidUTF8) {
		t.Fatalf("bad text = %v", err)
	}
	big := make([]byte, 256<<10)
	var full bool
	for range 10000 {
		if err := c.TrySend(wsactor.Binary, big); errors.Is(err, wsactor.ErrQueueFull) {
			full = true
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if !full {
		t.Fatal("TrySend never reported ErrQueueFull against a server that does not read")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The writer may still move some of the queue into the kernel's buffer;
	// once that is full too, Send must give up with the ctx's error.
	for i := 0; ; i++ {
		err := c.SendBinary(ctx, big)
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil || i > 10000 {
			t.Fatalf("blocked Send with ended ctx = %v after %d sends", err, i)
		}
	}
}

// TestMessageRelease: released payloads are reused for later messages, and
// a payload that was not released is never touched again.
func TestMessageRelease(t *testing.T) {
	t.Parallel()
	const n = 200
	payload := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 600+i%3000) }
	url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
		for i := range n {
			if _, err := nc.Write(frame(ws.OpBinary, true, payload(i))); err != nil {
				return err
			}
		}
		if _, err := nc.Write(closeFrame(1000, "")); err != nil {
			return err
		}
		return expectClose(br, 1000)
	})
	c := dialOpen(t, url)
	var kept []*wsactor.Message
	for i := 0; ; i++ {
		ev := next(t, c)
		m, ok := ev.(*wsactor.Message)
		if !ok {
			break
		}
		if !bytes.Equal(m.Data, payload(i)) {
			t.Fatalf("message %d corrupted", i)
		}
		if i%2 == 0 {
			m.Release() // m must not be used after this
		} else {
			kept = append(kept, m)
		}
	}
	for j, m := range kept {
		if !bytes.Equal(m.Data, payload(2*j+1)) {
			t.Fatalf("kept message %d changed after later messages reused released buffers", 2*j+1)
		}
	}
}

// TestBatchDelivery: with WithBatchDelivery a backlog arrives as *Batch
// events, every message once and in order; callbacks see single messages.
func TestBatchDelivery(t *testing.T) {
	t.Parallel()
	const n = 5000
	push := func(nc net.Conn, br *bufio.Reader) error {
		var out []byte
		for i := range n {
			out = append(out, frame(ws.OpText, true, []byte(strconv.Itoa(i)))...)
		}
		out = append(out, closeFrame(1000, "")...)
		if _, err := nc.Write(out); err != nil {
			return err
		}
		return expectClose(br, 1000)
	}
	c := dialOpen(t, scripted(t, push), wsactor.WithBatchDelivery())
	var got []string
	batches := 0
	for ev := range c.Events() {
		switch e := ev.(type) {
		case *wsactor.Message:
			got = append(got, e.Text())
		case *wsactor.Batch:
			batches++
			if len(e.Messages) < 2 || e.Conn() != c {
				t.Fatalf("batch of %d", len(e.Messages))
			}
			for _, m := range e.Messages {
				got = append(got, m.Text())
			}
			if batches%2 == 0 {
				e.Release() // recycled for later messages, whose text is checked below
			}
		}
	}
	if batches == 0 {
		t.Fatal("no Batch event for a backlog of 5000 messages")
	}
	for i := range n {
		if got[i] != strconv.Itoa(i) {
			t.Fatalf("message %d = %q", i, got[i])
		}
	}
	if len(got) != n || c.Stats().MessagesIn != n || c.Stats().Dropped != 0 {
		t.Fatalf("got %d messages, stats %+v", len(got), c.Stats())
	}

	// Callbacks flatten batches.
	cb, err := wsactor.New(scripted(t, push), wsactor.WithBatchDelivery())
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	cb.OnMessage(func(m *wsactor.Message) { seen = append(seen, m.Text()) })
	if err := cb.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cb.Wait()
	if len(seen) != n || seen[n-1] != strconv.Itoa(n-1) {
		t.Fatalf("callbacks saw %d messages", len(seen))
	}
}

// TestKeepalive: a silent peer gets a ping after the interval and, without
// a pong, the connection fails with ErrPongTimeout; a peer that answers
// keeps the connection open across several pings.
func TestKeepalive(t *testing.T) {
	t.Parallel()
	t.Run("no pong", func(t *testing.T) {
		t.Parallel()
		url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
			f, err := readClientFrame(br)
			if err != nil {
				return err
			}
			if f.Header.OpCode != ws.OpPing {
				return fmt.Errorf("first client frame %v, want ping", f.Header.OpCode)
			}
			return expectClose(br, 1008)
		})
		c := dialOpen(t, url, wsactor.WithKeepalive(50*time.Millisecond, 50*time.Millisecond))
		cl := mustClose(t, mustTerminal(t, c))
		if cl.Sent != 1008 || !errors.Is(cl.Err, wsactor.ErrPongTimeout) {
			t.Fatalf("close %+v", cl)
		}
	})
	t.Run("pongs keep it open", func(t *testing.T) {
		t.Parallel()
		url := scripted(t, func(nc net.Conn, br *bufio.Reader) error {
			for i := 0; i < 3; i++ {
				f, err := readClientFrame(br)
				if err != nil {
					return err
				}
				if f.Header.OpCode != ws.OpPing {
					return fmt.Errorf("client frame %v, want ping", f.Header.OpCode)
				}
				if _, err := nc.Write(frame(ws.OpPong, true, f.Payload)); err != nil {
					return err
				}
			}
			if _, err := nc.Write(closeFrame(1000, "enough")); err != nil {
				return err
			}
			return expectClose(br, 1000)
		})
		c := dialOpen(t, url, wsactor.WithKeepalive(30*time.Millisecond, time.Second))
		cl := mustClose(t, mustTerminal(t, c))
		if cl.Code != 1000 || cl.Reason != "enough" || !cl.Clean || cl.Err != nil {
			t.Fatalf("close %+v", cl)
		}
	})
}

// TestCallbacksError: a failed handshake runs the OnError handlers only.
func TestCallbacksError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String() + "/"
	ln.Close() // nothing listens: connection refused
	c, err := wsactor.New(url, wsactor.WithErrorLog("none"))
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	var got error
	c.OnOpen(func(*wsactor.Open) { calls = append(calls, "open") })
	c.OnClose(func(*wsactor.Close) { calls = append(calls, "close") })
	c.OnError(func(e *wsactor.Error) { calls = append(calls, "error"); got = e.Err })
	if err := c.Connect(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ev := c.Wait() // returns after the handlers ran
	if len(calls) != 1 || calls[0] != "error" || !errors.Is(got, wsactor.ErrRefused) {
		t.Fatalf("calls %v, err %v", calls, got)
	}
	if e, ok := ev.(*wsactor.Error); !ok || e.Err != got {
		t.Fatalf("Wait = %v", ev)
	}
}

// TestDoneAnyTime: Done is made when first asked for (an open connection
// keeps no channel for it), so it must be closed whether it is asked for
// before the end, around it, or on a connection that never connected.
func TestDoneAnyTime(t *testing.T) {
	t.Parallel()
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	t.Run("asked before the end", func(t *testing.T) {
		c := dialOpen(t, echoURL(t))
		d := c.Done()
		if closed(d) {
			t.Fatal("Done closed while open")
		}
		if c.Done() != d {
			t.Fatal("Done returned another channel")
		}
		_ = c.Close(wsactor.StatusNormalClosure, "")
		mustClose(t, mustTerminal(t, c))
		select {
		case <-d:
		case <-time.After(waitFor):
			t.Fatal("Done not closed after the terminal event")
		}
	})
	t.Run("asked around the end", func(t *testing.T) {
		c := dialOpen(t, echoURL(t))
		_ = c.Close(wsactor.StatusNormalClosure, "")
		mustClose(t, mustTerminal(t, c))
		// The first Done is made just before or just after the last
		// goroutine returns: either way it must end up closed.
		pollUntil(t, func() string { return "Done not closed" }, func() bool { return closed(c.Done()) })
		if ev := c.Wait(); ev == nil {
			t.Fatal("Wait returned no terminal event")
		}
	})
	t.Run("never connected", func(t *testing.T) {
		c, err := wsactor.New(echoURL(t))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close(wsactor.StatusNormalClosure, "")
		if !closed(c.Done()) { // made after the end: closed when made
			t.Fatal("Done of a connection closed while idle is not closed")
		}
	})
}
