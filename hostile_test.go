package wsactor_test

// Hostile servers: each one tries to hang, flood or exhaust the client. Every
// case must end with a typed error (Dial error + Error event) or a Close
// carrying the right code, within the configured (short) timeouts, with
// bounded memory, and without leaking a goroutine or a file descriptor.

import (
	"bufio"
	"bytes"
	"context"
	be "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
)

// Short limits used by every hostile case, and the slack allowed on top of
// them (the race detector on two cores is slow, but not seconds slow).
const (
	hostileHandshake = 300 * time.Millisecond
	hostileCloseT    = 300 * time.Millisecond
	hostileWriteT    = 300 * time.Millisecond
	hostileSlack     = 2 * time.Second
)

func hostileOpts(extra ...wsactor.Option) []wsactor.Option {
	return append([]wsactor.Option{
		wsactor.WithHandshakeTimeout(hostileHandshake),
		wsactor.WithCloseTimeout(hostileCloseT),
		wsactor.WithErrorLog("none"),
	}, extra...)
}

// ---------------------------------------------------------------------------
// Leak accounting: open file descriptors and goroutines.

func hostileFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

type hostileBase struct{ fds, goroutines int }

// hostileBaseline records the fd and goroutine counts. It first makes the
// runtime create its netpoller descriptors, which live for the whole process.
func hostileBaseline(t testing.TB) hostileBase {
	t.Helper()
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	return hostileBase{fds: hostileFDs(t), goroutines: runtime.NumGoroutine()}
}

// settle polls (with a deadline) until both counts are back to the
// baseline.
func (b hostileBase) settle(t testing.TB) {
	t.Helper()
	if !hostilePoll(waitFor, func() bool {
		return hostileFDs(t) <= b.fds && runtime.NumGoroutine() <= b.goroutines
	}) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("leak: %d fds (baseline %d), %d goroutines (baseline %d)\n%s",
			hostileFDs(t), b.fds, runtime.NumGoroutine(), b.goroutines, buf)
	}
}

// hostilePoll evaluates cond every few milliseconds until it holds or d has
// passed.
func hostilePoll(d time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return cond()
		}
	}
}

// hostileHeap returns HeapInuse and TotalAlloc after a GC.
func hostileHeap() (inuse, total uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.TotalAlloc
}

const mib = 1 << 20

// hostileAccept reads the upgrade request and answers a correct 101.
func hostileAccept(nc net.Conn) error {
	_, accept, err := readRequest(nc)
	if err != nil {
		return fmt.Errorf("reading the upgrade request: %w", err)
	}
	_, err = io.WriteString(nc, response101(accept))
	return err
}

// hostileHeader encodes a server frame header (unmasked) with an arbitrary
// 64-bit length.
func hostileHeader(fin bool, op byte, length uint64) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	switch {
	case length <= 125:
		return []byte{b0, byte(length)}
	case length <= 0xffff:
		return []byte{b0, 126, byte(length >> 8), byte(length)}
	}
	return be.BigEndian.AppendUint64([]byte{b0, 127}, length)
}

// ---------------------------------------------------------------------------
// Handshake-time hostility: the Dial error and the Error event.

// hostileDialFail dials url, expects the handshake to fail with want (both
// the returned error and the Error event) and returns how long it took.
func hostileDialFail(t *testing.T, url string, want error, opts ...wsactor.Option) time.Duration {
	t.Helper()
	start := time.Now()
	c, err := wsactor.Dial(ctxT(t), url, hostileOpts(opts...)...)
	elapsed := time.Since(start)
	if err == nil {
		c.Abort()
		t.Fatalf("Dial succeeded, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Errorf("Dial error = %v, want errors.Is %v", err, want)
	}
	if c == nil {
		t.Fatal("Dial returned no *Conn after New succeeded")
	}
	ev, msgs := terminal(t, c)
	if len(msgs) != 0 {
		t.Errorf("%d messages before a failed handshake", len(msgs))
	}
	e, ok := ev.(*wsactor.Error)
	if !ok {
		t.Fatalf("terminal event %T, want *Error", ev)
	}
	if !errors.Is(e.Err, want) {
		t.Errorf("Error event = %v, want errors.Is %v", e.Err, want)
	}
	if s := c.ReadyState(); s != wsactor.StateClosed {
		t.Errorf("ReadyState after failure = %v, want closed", s)
	}
	return elapsed
}

// TestHostileSlowloris: the response trickles in, one header byte every
// 50 ms, forever. The handshake timeout must end it.
func TestHostileSlowloris(t *testing.T) {
	base := hostileBaseline(t)
	srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
		if _, _, err := readRequest(nc); err != nil {
			return err
		}
		if _, err := io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nX-Slow: "); err != nil {
			return nil
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return nil
			case <-tick.C:
			}
			if _, err := nc.Write([]byte{'a'}); err != nil {
				return nil // the client hung up: expected
			}
		}
	})
	elapsed := hostileDialFail(t, srv.URL(), wsactor.ErrHandshakeTimeout)
	if elapsed > hostileHandshake+hostileSlack {
		t.Errorf("handshake failed after %v, timeout is %v", elapsed, hostileHandshake)
	}
	srv.stop(t)
	base.settle(t)
}

// TestHostileSilentServer: TCP is accepted, the request read, nothing ever
// answered.
func TestHostileSilentServer(t *testing.T) {
	base := hostileBaseline(t)
	srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
		_, _ = io.Copy(io.Discard, nc) // until the client hangs up
		return nil
	})
	elapsed := hostileDialFail(t, srv.URL(), wsactor.ErrHandshakeTimeout)
	if elapsed > hostileHandshake+hostileSlack {
		t.Errorf("handshake failed after %v, timeout is %v", elapsed, hostileHandshake)
	}
	srv.stop(t)
	base.settle(t)
}

// TestHostileHugeHeaders: response heads of several MiB, as many lines or
// as one line, must fail with ErrResponseTooLarge without being buffered.
func TestHostileHugeHeaders(t *testing.T) {
	const size = 4 * mib
	status := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	manyShort := func() []byte {
		var b bytes.Buffer
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "X-H%d: v\r\n", i)
		}
		return b.Bytes()
	}
	manyLong := func() []byte {
		var b bytes.Buffer
		val := strings.Repeat("v", 8<<10)
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "X-H%d: %s\r\n", i, val)
		}
		return b.Bytes()
	}
	oneLine := func() []byte {
		return []byte("X-Huge: " + strings.Repeat("a", size) + "\r\n")
	}
	hugeStatus := func() []byte { return nil }
	for _, tc := range []struct {
		name   string
		status string
		head   func() []byte
	}{
		{"many-short-lines", status, manyShort},
		{"many-8KiB-lines", status, manyLong},
		{"one-huge-line", status, oneLine},
		{"huge-status-line", "HTTP/1.1 101 " + strings.Repeat("S", size) + "\r\n", hugeStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := hostileBaseline(t)
			body := append([]byte(tc.status), tc.head()...)
			body = append(body, "\r\n"...)
			srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
				if _, _, err := readRequest(nc); err != nil {
					return err
				}
				for p := body; len(p) > 0; {
					n := min(len(p), 64<<10)
					if _, err := nc.Write(p[:n]); err != nil {
						return nil // the client gave up: expected
					}
					p = p[n:]
				}
				<-quit
				return nil
			})
			_, total0 := hostileHeap()
			hostileDialFail(t, srv.URL(), wsactor.ErrResponseTooLarge,
				wsactor.WithHandshakeTimeout(5*time.Second)) // the size limit must trip, not the timeout
			_, total1 := hostileHeap()
			if d := total1 - total0; d > 2*mib {
				t.Errorf("handshake allocated %d bytes for a %d-byte response head; want < 2 MiB", d, len(body))
			}
			srv.stop(t)
			base.settle(t)
		})
	}
}

// TestHostileBadAccept: a 101 with a wrong or missing Sec-WebSocket-Accept.
func TestHostileBadAccept(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp func(accept string) string
	}{
		{"wrong", func(string) string { return response101("dGhlIHNhbXBsZSBub25jZQ==") }},
		{"key-echoed", func(string) string { return response101("x3JJHMbDL1EzLkh9GBhXDw==") }},
		{"truncated", func(a string) string { return response101(a[:len(a)-2]) }},
		{"missing", func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := hostileBaseline(t)
			srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
				_, accept, err := readRequest(nc)
				if err != nil {
					return err
				}
				if _, err := io.WriteString(nc, tc.resp(accept)); err != nil {
					return nil
				}
				_, _ = io.Copy(io.Discard, nc)
				return nil
			})
			elapsed := hostileDialFail(t, srv.URL(), wsactor.ErrBadAccept)
			if elapsed > hostileSlack {
				t.Errorf("bad accept detected after %v", elapsed)
			}
			srv.stop(t)
			base.settle(t)
		})
	}
}

// ---------------------------------------------------------------------------
// Frame-level hostility after a correct 101.

// hostileDialOpen dials url and consumes the Open event.
func hostileDialOpen(t *testing.T, url string, opts ...wsactor.Option) *wsactor.Conn {
	t.Helper()
	c, err := wsactor.Dial(ctxT(t), url, hostileOpts(opts...)...)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(c.Abort)
	mustOpen(t, c)
	return c
}

// TestHostileHugeFrameLength: a frame header declaring 2^63-1 bytes must be
// refused with 1009 before anything is allocated; one with the top bit set
// (2^63, forbidden by RFC 6455 5.2) with 1002.
func TestHostileHugeFrameLength(t *testing.T) {
	for _, tc := range []struct {
		name    string
		length  uint64
		code    wsactor.StatusCode
		wantErr func(error) bool
		errName string
	}{
		{"2^63-1", 1<<63 - 1, wsactor.StatusMessageTooBig,
			func(err error) bool { return errors.Is(err, wsactor.ErrMessageTooBig) }, "ErrMessageTooBig"},
		{"2^63", 1 << 63, wsactor.StatusProtocolError,
			func(err error) bool { var pe *wsactor.ProtocolError; return errors.As(err, &pe) }, "*ProtocolError"},
		{"2^64-1", 1<<64 - 1, wsactor.StatusProtocolError,
			func(err error) bool { var pe *wsactor.ProtocolError; return errors.As(err, &pe) }, "*ProtocolError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := hostileBaseline(t)
			gotClose := make(chan error, 1)
			srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
				if err := hostileAccept(nc); err != nil {
					return err
				}
				if _, err := nc.Write(hostileHeader(true, 0x2, tc.length)); err != nil {
					return err
				}
				_ = nc.SetReadDeadline(time.Now().Add(waitFor))
				gotClose <- expectClose(nc, ws.StatusCode(tc.code))
				return nil
			})
			inuse0, total0 := hostileHeap()
			start := time.Now()
			c := hostileDialOpen(t, srv.URL()) // default MaxMessageSize (32 MiB)
			ev, msgs := terminal(t, c)
			elapsed := time.Since(start)
			inuse1, total1 := hostileHeap()
			cl := mustClose(t, ev)
			if len(msgs) != 0 {
				t.Errorf("%d messages delivered", len(msgs))
			}
			if cl.Sent != tc.code {
				t.Errorf("Close.Sent = %d, want %d (%+v)", cl.Sent, tc.code, *cl)
			}
			if !tc.wantErr(cl.Err) {
				t.Errorf("Close.Err = %v, want %s", cl.Err, tc.errName)
			}
			if cl.Clean {
				t.Errorf("Close.Clean = true after failing the connection")
			}
			if elapsed > hostileCloseT+hostileSlack {
				t.Errorf("connection ended after %v", elapsed)
			}
			select {
			case err := <-gotClose:
				if err != nil {
					t.Errorf("server: close frame from the client: %v", err)
				}
			case <-time.After(waitFor):
				t.Error("server never finished reading the client's close")
			}
			if inuse1 > inuse0 && inuse1-inuse0 > 4*mib {
				t.Errorf("HeapInuse grew by %d bytes", inuse1-inuse0)
			}
			if d := total1 - total0; d > 4*mib {
				t.Errorf("allocated %d bytes for a frame declaring %d bytes and carrying none", d, tc.length)
			}
			srv.stop(t)
			base.settle(t)
		})
	}
}

// TestHostileEndlessFragments: a text message fragmented forever, 1 KiB per
// fragment, each fragment followed by a ping. The pongs prove the client
// has read fragment n; it must answer pongs while the total is within
// MaxMessageSize (1 MiB = 1024 fragments) and close with 1009 right after
// the 1025th fragment.
func TestHostileEndlessFragments(t *testing.T) {
	base := hostileBaseline(t)
	const limit = 1 << 20
	frag := bytes.Repeat([]byte("é"), 512) // 1 KiB of valid UTF-8, never split
	type result struct {
		pongs int
		err   error
	}
	res := make(chan result, 1)
	srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
		if err := hostileAccept(nc); err != nil {
			return err
		}
		_ = nc.SetDeadline(time.Now().Add(waitFor))
		br := bufio.NewReader(nc)
		pongs := 0
		for i := 0; ; i++ {
			op := byte(0x0)
			if i == 0 {
				op = 0x1
			}
			out := append(hostileHeader(false, op, uint64(len(frag))), frag...)
			out = append(out, hostileHeader(true, 0x9, 4)...)
			out = be.BigEndian.AppendUint32(out, uint32(i))
			if _, err := nc.Write(out); err != nil {
				res <- result{pongs, fmt.Errorf("write of fragment %d: %w", i+1, err)}
				return nil
			}
			f, err := readClientFrame(br)
			if err != nil {
				res <- result{pongs, fmt.Errorf("after fragment %d: %w", i+1, err)}
				return nil
			}
			switch f.Header.OpCode {
			case 0xa:
				if len(f.Payload) != 4 || be.BigEndian.Uint32(f.Payload) != uint32(i) {
					res <- result{pongs, fmt.Errorf("pong %d has payload %x", i, f.Payload)}
					return nil
				}
				pongs++
			case 0x8:
				code := be.BigEndian.Uint16(f.Payload)
				if code != uint16(wsactor.StatusMessageTooBig) {
					res <- result{pongs, fmt.Errorf("client closed with %d after fragment %d, want 1009", code, i+1)}
				} else {
					res <- result{pongs, nil}
				}
				return nil
			default:
				res <- result{pongs, fmt.Errorf("unexpected client frame %v", f.Header.OpCode)}
				return nil
			}
		}
	})
	inuse0, _ := hostileHeap()
	c := hostileDialOpen(t, srv.URL(), wsactor.WithMaxMessageSize(limit))
	ev, msgs := terminal(t, c)
	cl := mustClose(t, ev)
	if len(msgs) != 0 {
		t.Errorf("%d messages delivered", len(msgs))
	}
	if cl.Sent != wsactor.StatusMessageTooBig || !errors.Is(cl.Err, wsactor.ErrMessageTooBig) {
		t.Errorf("Close = %+v, want Sent 1009 and Err ErrMessageTooBig", *cl)
	}
	select {
	case r := <-res:
		if r.err != nil {
			t.Errorf("server: %v", r.err)
		}
		if want := limit / len(frag); r.pongs != want {
			t.Errorf("client answered %d pongs before closing, want %d (closed after %d KiB, limit %d KiB)",
				r.pongs, want, r.pongs+1, limit>>10)
		}
	case <-time.After(waitFor):
		t.Error("server never saw the client's close")
	}
	inuse1, _ := hostileHeap()
	if inuse1 > inuse0 && inuse1-inuse0 > 4*mib {
		t.Errorf("HeapInuse grew by %d bytes", inuse1-inuse0)
	}
	srv.stop(t)
	base.settle(t)
}

// TestHostileStalledReader: the server stops reading while we send. Send
// blocks once the socket buffers and the send queue are full and returns
// the ctx error; the write timeout then fails the connection.
func TestHostileStalledReader(t *testing.T) {
	base := hostileBaseline(t)
	srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
		if err := hostileAccept(nc); err != nil {
			return err
		}
		<-quit // never read again
		return nil
	})
	c := hostileDialOpen(t, srv.URL(),
		wsactor.WithWriteTimeout(hostileWriteT),
		wsactor.WithSendQueue(8, 512<<10))
	payload := make([]byte, 64<<10)
	var (
		sendErr  error
		blocked  time.Duration
		sent     int
		failedAt time.Time
	)
	for sent < 512*mib {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		start := time.Now()
		sendErr = c.SendBinary(ctx, payload)
		blocked = time.Since(start)
		cancel()
		if sendErr != nil {
			failedAt = time.Now()
			break
		}
		sent += len(payload)
	}
	if !errors.Is(sendErr, context.DeadlineExceeded) {
		t.Fatalf("Send after %d bytes: %v, want context.DeadlineExceeded", sent, sendErr)
	}
	if blocked < 40*time.Millisecond {
		t.Errorf("Send returned the ctx error after %v, it should have blocked ~50ms", blocked)
	}
	ev, _ := terminal(t, c)
	cl := mustClose(t, ev)
	if !errors.Is(cl.Err, wsactor.ErrWriteTimeout) {
		t.Errorf("Close.Err = %v, want ErrWriteTimeout (%+v)", cl.Err, *cl)
	}
	if cl.Code != wsactor.StatusAbnormalClosure {
		t.Errorf("Close.Code = %d, want 1006", cl.Code)
	}
	if d := time.Since(failedAt); d > hostileWriteT+hostileSlack {
		t.Errorf("write timeout took %v to end the connection", d)
	}
	if err := c.SendBinary(context.Background(), payload); !errors.Is(err, wsactor.ErrNotOpen) {
		t.Errorf("Send after the Close event: %v, want ErrNotOpen", err)
	}
	srv.stop(t)
	base.settle(t)
}

// hostileWatchConn counts the bytes read from the socket and reports each
// Read that starts once a given total has arrived, with the size of the
// buffer offered: that is the reader blocked on a payload that never comes.
type hostileWatchConn struct {
	net.Conn
	got     atomic.Int64
	want    atomic.Int64
	blocked chan int
}

func (w *hostileWatchConn) Read(p []byte) (int, error) {
	if want := w.want.Load(); want > 0 && w.got.Load() >= want {
		select {
		case w.blocked <- len(p):
		default:
		}
	}
	n, err := w.Conn.Read(p)
	w.got.Add(int64(n))
	return n, err
}

// TestHostileDeclaredNeverSent: a frame header declares 32 MiB (the default
// limit, so it is accepted) and then nothing, or only part of it, arrives.
// The reader may only grow its buffer as bytes arrive; Close (via the close
// timeout) or Abort ends the connection.
func TestHostileDeclaredNeverSent(t *testing.T) {
	const declared = 32 << 20
	for _, tc := range []struct {
		name  string
		sent  int  // payload bytes actually sent
		abort bool // end with Abort rather than Close + close timeout
	}{
		{"nothing/close-timeout", 0, false},
		{"nothing/abort", 0, true},
		{"200KiB/close-timeout", 200 << 10, false},
		{"200KiB/abort", 200 << 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := hostileBaseline(t)
			// Everything the server will ever send: the 101 (its accept value
			// always has 28 characters), the frame header, the partial payload.
			total := len(response101(strings.Repeat("x", 28))) + len(hostileHeader(true, 0x2, declared)) + tc.sent
			srv := serveRaw(t, func(nc net.Conn, quit <-chan struct{}) error {
				_, accept, err := readRequest(nc)
				if err != nil {
					return err
				}
				out := append([]byte(response101(accept)), hostileHeader(true, 0x2, declared)...)
				out = append(out, make([]byte, tc.sent)...)
				if len(out) != total {
					return fmt.Errorf("server sends %d bytes, test expects %d", len(out), total)
				}
				if _, err := nc.Write(out); err != nil {
					return err
				}
				<-quit // never send the rest, never read
				return nil
			})
			watch := &hostileWatchConn{blocked: make(chan int, 1)}
			watch.want.Store(int64(total))
			dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
				var d net.Dialer
				nc, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				watch.Conn = nc
				return watch, nil
			}
			inuse0, total0 := hostileHeap()
			c := hostileDialOpen(t, srv.URL(), wsactor.WithNetDial(dial))
			var offered int
			select {
			case offered = <-watch.blocked:
			case <-time.After(waitFor):
				t.Fatal("the reader never waited for the rest of the payload")
			}
			inuse1, total1 := hostileHeap()
			t.Logf("reader waits with a %d-byte buffer; HeapInuse %+d, allocated %d bytes", offered, int64(inuse1)-int64(inuse0), total1-total0)
			if offered > 1*mib {
				t.Errorf("reader offered a %d-byte buffer for a payload of which %d bytes had arrived", offered, tc.sent)
			}
			if inuse1 > inuse0 && inuse1-inuse0 > 1*mib {
				t.Errorf("HeapInuse grew by %d bytes while %d of %d declared bytes had arrived",
					inuse1-inuse0, tc.sent, declared)
			}
			if d := total1 - total0; d > 2*mib {
				t.Errorf("allocated %d bytes while %d of %d declared bytes had arrived", d, tc.sent, declared)
			}
			select {
			case ev := <-c.Events():
				t.Fatalf("event %T while the payload is incomplete", ev)
			default:
			}
			start := time.Now()
			if tc.abort {
				c.Abort()
			} else if err := c.Close(wsactor.StatusNormalClosure, "bye"); err != nil {
				t.Fatal(err)
			}
			ev, msgs := terminal(t, c)
			elapsed := time.Since(start)
			cl := mustClose(t, ev)
			if len(msgs) != 0 {
				t.Errorf("%d messages delivered", len(msgs))
			}
			if cl.Code != wsactor.StatusAbnormalClosure || cl.Clean {
				t.Errorf("Close = %+v, want Code 1006, not clean", *cl)
			}
			if tc.abort {
				if !errors.Is(cl.Err, wsactor.ErrAborted) {
					t.Errorf("Close.Err = %v, want ErrAborted", cl.Err)
				}
				if elapsed > hostileSlack {
					t.Errorf("Abort took %v", elapsed)
				}
			} else {
				if !errors.Is(cl.Err, wsactor.ErrCloseTimeout) {
					t.Errorf("Close.Err = %v, want ErrCloseTimeout", cl.Err)
				}
				if cl.Sent != wsactor.StatusNormalClosure {
					t.Errorf("Close.Sent = %d, want 1000", cl.Sent)
				}
				if elapsed < hostileCloseT/2 || elapsed > hostileCloseT+hostileSlack {
					t.Errorf("close timeout of %v ended the connection after %v", hostileCloseT, elapsed)
				}
			}
			srv.stop(t)
			base.settle(t)
		})
	}
}
