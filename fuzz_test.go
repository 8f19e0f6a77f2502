package wsactor_test

// Fuzz targets, black-box through the public API. The "network" is an
// in-memory net.Conn (fuzzConn) given to the client with WithNetDial: it
// answers the client's upgrade request with a correct Sec-WebSocket-Accept
// and then serves the fuzz input, in reads of varying sizes, followed by
// EOF. Everything the client writes is kept and checked.
//
//	go test -run '^$' -fuzz FuzzFrameReader -fuzztime 60s -fuzzminimizetime 3s .
//	go test -run '^$' -fuzz FuzzReceive -fuzztime 60s -fuzzminimizetime 3s .
//	go test -run '^$' -fuzz FuzzHandshakeResponse -fuzztime 60s -fuzzminimizetime 3s .
//
// FuzzReceive is the exception to the in-memory network: it serves the same
// input over a loopback TCP socket and consumes it with Receive, whose
// caller reads the socket itself only on a real socket.
//
// (-fuzzminimizetime: the default minimises every new interesting input for
// up to 60 s, which looks like a stall at "0 execs/sec". If an iteration
// ever really hangs, WSACTOR_FUZZ_WATCHDOG=/path/file makes it dump every
// goroutine's stack to that file.)
//
// FuzzFrameReader also compares the client with a small reference decoder
// of RFC 6455 (fuzzReference): same messages, same close code sent, same
// terminal Close.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/wsactor/wsactor"
)

const (
	// fuzzMaxMessage is small so that fuzz inputs reach the limit.
	fuzzMaxMessage = 1 << 10
	// fuzzDeadline bounds one iteration; no iteration should come close.
	fuzzDeadline = 10 * time.Second
	// fuzzAcceptToken in a FuzzHandshakeResponse input is replaced by the
	// correct Sec-WebSocket-Accept value.
	fuzzAcceptToken = "{{ACCEPT}}"
)

// fuzzReadSizes are the successive caps on the bytes one Read returns:
// frames and the response head arrive split at every possible point.
var fuzzReadSizes = [...]int{1, 3, 7, 64, 4096, 2, 1 << 20, 5}

// ---------------------------------------------------------------------------
// The in-memory connection.

type fuzzConn struct {
	respond func(accept string) []byte

	ready  chan struct{} // closed once the response is available
	closed chan struct{}

	mu       sync.Mutex
	req      []byte // the client's bytes until the request is complete
	out      []byte // server bytes not yet read
	reads    int
	written  []byte // the client's bytes after the request
	readDL   time.Time
	isClosed bool
	reqErr   error
}

func newFuzzConn(respond func(accept string) []byte) *fuzzConn {
	return &fuzzConn{respond: respond, ready: make(chan struct{}), closed: make(chan struct{})}
}

func (c *fuzzConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	dl := c.readDL
	c.mu.Unlock()
	var timeout <-chan time.Time
	if !dl.IsZero() {
		t := time.NewTimer(time.Until(dl))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-c.ready:
	case <-c.closed:
		return 0, net.ErrClosed
	case <-timeout:
		return 0, os.ErrDeadlineExceeded
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed {
		return 0, net.ErrClosed
	}
	if !c.readDL.IsZero() && !time.Now().Before(c.readDL) {
		return 0, os.ErrDeadlineExceeded
	}
	if len(c.out) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.out), fuzzReadSizes[c.reads%len(fuzzReadSizes)])
	c.reads++
	copy(p, c.out[:n])
	c.out = c.out[n:]
	return n, nil
}

func (c *fuzzConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.isClosed {
		return 0, net.ErrClosed
	}
	select {
	case <-c.ready:
		if len(c.written) < 1<<20 {
			c.written = append(c.written, p...)
		}
		return len(p), nil
	default:
	}
	c.req = append(c.req, p...)
	if i := bytes.Index(c.req, []byte("\r\n\r\n")); i >= 0 {
		rest := c.req[i+4:]
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(c.req[:i+4])))
		var accept string
		if err != nil {
			c.reqErr = err
		} else {
			h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			accept = base64.StdEncoding.EncodeToString(h[:])
		}
		c.out = c.respond(accept)
		c.written = append(c.written, rest...)
		close(c.ready)
	}
	return len(p), nil
}

func (c *fuzzConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isClosed {
		c.isClosed = true
		close(c.closed)
	}
	return nil
}

func (c *fuzzConn) clientBytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.written...)
}

func (c *fuzzConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000} }
func (c *fuzzConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *fuzzConn) SetDeadline(t time.Time) error {
	return c.SetReadDeadline(t)
}
func (c *fuzzConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDL = t
	c.mu.Unlock()
	return nil
}
func (c *fuzzConn) SetWriteDeadline(time.Time) error { return nil } // writes never block

// ---------------------------------------------------------------------------
// One iteration: connect, consume every event, check the invariants.

type fuzzResult struct {
	dialErr error
	open    *wsactor.Open
	msgs    []*wsactor.Message
	close   *wsactor.Close
	errEv   *wsactor.Error
	wire    func() []byte // what the client wrote after its request
}

func fuzzRun(t *testing.T, respond func(accept string) []byte) fuzzResult {
	t.Helper()
	baseline := runtime.NumGoroutine()
	fc := newFuzzConn(respond)
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) { return fc, nil }
	return fuzzConsume(t, baseline, "ws://fuzz.invalid/", []wsactor.Option{wsactor.WithNetDial(dial)}, nil, fc.clientBytes, nil)
}

// fuzzConsume dials url, consumes every event (through Events(), or when
// pulling is set through Receive, calling pulling once a Receive runs) and
// checks the invariants; settle, if set, waits for the server before
// goroutines are counted.
func fuzzConsume(t *testing.T, baseline int, url string, opts []wsactor.Option, pulling func(c *wsactor.Conn), wire func() []byte, settle func()) fuzzResult {
	t.Helper()
	if d := os.Getenv("WSACTOR_FUZZ_WATCHDOG"); d != "" {
		// Debug aid: dump every goroutine if an iteration hangs.
		wd := time.AfterFunc(fuzzDeadline+5*time.Second, func() {
			buf := make([]byte, 4<<20)
			buf = buf[:runtime.Stack(buf, true)]
			_ = os.WriteFile(d, buf, 0o644)
		})
		defer wd.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), fuzzDeadline)
	defer cancel()
	c, err := wsactor.Dial(ctx, url, append([]wsactor.Option{
		wsactor.WithMaxMessageSize(fuzzMaxMessage),
		wsactor.WithProtocols("chat", "superchat"),
		wsactor.WithHandshakeTimeout(fuzzDeadline / 2),
		wsactor.WithCloseTimeout(time.Second),
		wsactor.WithErrorLog("none")}, opts...)...)
	if c == nil {
		t.Fatalf("Dial returned no *Conn: %v", err)
	}
	res := fuzzResult{dialErr: err, wire: wire}
	deadline := time.NewTimer(fuzzDeadline)
	defer deadline.Stop()
	events := c.Events()
	if pulling != nil {
		// Receive delivers on this channel instead (one goroutine, so the
		// deadline below still bounds the wait).
		ch := make(chan wsactor.Event)
		go func() {
			defer close(ch)
			for {
				wsactor.ExpectReply(c) // every call reads the socket itself when it can
				ev, err := c.Receive(ctx)
				if err != nil {
					return // ErrClosed after the terminal event, or the deadline
				}
				ch <- ev
			}
		}()
		events = ch
		go pulling(c)
	}
	var term wsactor.Event
	for term == nil {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("event channel closed before a terminal event")
			}
			if ev.Conn() != c {
				t.Fatalf("%T event belongs to another connection", ev)
			}
			switch e := ev.(type) {
			case *wsactor.Open:
				if res.open != nil || len(res.msgs) != 0 {
					t.Fatal("Open is not the first event, or came twice")
				}
				res.open = e
			case *wsactor.Message:
				if res.open == nil {
					t.Fatal("Message before Open")
				}
				if len(e.Data) > fuzzMaxMessage {
					t.Fatalf("delivered a %d-byte message, MaxMessageSize is %d", len(e.Data), fuzzMaxMessage)
				}
				switch e.Type {
				case wsactor.Text:
					if !utf8.Valid(e.Data) {
						t.Fatalf("delivered text that is not UTF-8: %q", e.Data)
					}
				case wsactor.Binary:
				default:
					t.Fatalf("message type %v", e.Type)
				}
				res.msgs = append(res.msgs, e)
			case *wsactor.Close:
				if res.open == nil {
					t.Fatal("Close without Open (the handshake failed: want Error)")
				}
				res.close, term = e, e
			case *wsactor.Error:
				if res.open != nil {
					t.Fatal("Error after Open")
				}
				res.errEv, term = e, e
			default:
				t.Fatalf("unknown event %T", ev)
			}
		case <-deadline.C:
			c.Abort()
			t.Fatalf("no terminal event within %v (state %v)", fuzzDeadline, c.ReadyState())
		}
	}
	select {
	case ev, ok := <-events:
		if ok {
			t.Fatalf("%T event after the terminal event", ev)
		}
	case <-deadline.C:
		t.Fatal("event channel not closed after the terminal event")
	}
	select {
	case <-c.Done():
	case <-deadline.C:
		t.Fatal("Done not closed after the terminal event")
	}
	if w := c.Wait(); w != term {
		t.Fatalf("Wait returned %T, not the terminal event", w)
	}
	if s := c.ReadyState(); s != wsactor.StateClosed {
		t.Fatalf("ReadyState %v after the terminal event", s)
	}
	if err := c.SendText(context.Background(), "x"); !errors.Is(err, wsactor.ErrNotOpen) {
		t.Fatalf("Send after the end: %v, want ErrNotOpen", err)
	}
	// The handshake outcome and Dial agree.
	switch {
	case res.errEv != nil:
		if res.dialErr == nil || !errors.Is(res.errEv.Err, res.dialErr) {
			t.Fatalf("Dial error %v, Error event %v", res.dialErr, res.errEv.Err)
		}
		fuzzCheckHandshakeErr(t, res.errEv.Err)
	case res.dialErr != nil:
		t.Fatalf("Dial failed (%v) but the connection opened", res.dialErr)
	}
	if res.open != nil {
		if p := res.open.Protocol; p != "" && p != "chat" && p != "superchat" {
			t.Fatalf("Open.Protocol %q was not offered", p)
		}
		if len(res.open.Extensions) != 0 {
			t.Fatalf("Open.Extensions %q, none offered", res.open.Extensions)
		}
		if c.Protocol() != res.open.Protocol {
			t.Fatalf("Protocol() %q, Open.Protocol %q", c.Protocol(), res.open.Protocol)
		}
	}
	if settle != nil {
		settle()
	}
	if !fuzzPollGoroutines(baseline) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("goroutines: %d, %d before the iteration\n%s", runtime.NumGoroutine(), baseline, buf)
	}
	return res
}

func fuzzPollGoroutines(baseline int) bool {
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > baseline {
		select {
		case <-tick.C:
		case <-deadline.C:
			return runtime.NumGoroutine() <= baseline
		}
	}
	return true
}

// fuzzCheckHandshakeErr: every handshake error is exactly one kind, or a
// *HandshakeError for a non-101 status.
func fuzzCheckHandshakeErr(t *testing.T, err error) {
	t.Helper()
	kinds := []error{wsactor.ErrDNS, wsactor.ErrRefused, wsactor.ErrTLS, wsactor.ErrHandshakeTimeout,
		wsactor.ErrBadAccept, wsactor.ErrBadSubprotocol, wsactor.ErrBadExtension, wsactor.ErrBadUpgrade,
		wsactor.ErrBadResponse, wsactor.ErrResponseTooLarge, wsactor.ErrNetwork}
	var matched []string
	for _, k := range kinds {
		if errors.Is(err, k) {
			matched = append(matched, k.Error())
		}
	}
	var he *wsactor.HandshakeError
	if errors.As(err, &he) {
		matched = append(matched, "*HandshakeError")
		if he.StatusCode == 101 {
			t.Fatalf("HandshakeError with status 101: %v", err)
		}
		if len(he.Body) > 1024 {
			t.Fatalf("HandshakeError.Body has %d bytes, at most 1 KiB", len(he.Body))
		}
	}
	if len(matched) != 1 {
		t.Fatalf("handshake error %q matches %d kinds %q, want exactly one", err, len(matched), matched)
	}
	if errors.Is(err, wsactor.ErrHandshakeTimeout) {
		t.Fatalf("handshake timed out although the server answered at once: %v", err)
	}
}

// ---------------------------------------------------------------------------
// FuzzFrameReader: the input is everything the server sends after a
// correct 101.

func FuzzFrameReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		res := fuzzRun(t, func(accept string) []byte {
			return append([]byte(response101(accept)), in...)
		})
		if res.open == nil {
			t.Fatalf("handshake failed: %v", res.dialErr)
		}
		fuzzCompare(t, in, res)
	})
}

// FuzzHandshakeResponse: the input is the whole response, the accept token
// replaced by the correct value.
func FuzzHandshakeResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		res := fuzzRun(t, func(accept string) []byte {
			return bytes.ReplaceAll(in, []byte(fuzzAcceptToken), []byte(accept))
		})
		if res.close != nil {
			cl := res.close
			if cl.Clean && (cl.Err != nil || cl.Sent == 0) {
				t.Fatalf("Clean Close with Err %v, Sent %d", cl.Err, cl.Sent)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// The reference decoder.

type fuzzEnd int

const (
	fuzzEndEOF       fuzzEnd = iota // input ended at a frame boundary
	fuzzEndTruncated                // input ended inside a frame
	fuzzEndClose                    // a valid close frame
	fuzzEndFail                     // a violation: the client must fail the connection
)

type fuzzOutcome struct {
	msgs        []*wsactor.Message
	pings       [][]byte
	end         fuzzEnd
	code        wsactor.StatusCode // peer's close code (fuzzEndClose), or the code to fail with
	reason      string
	badPeerCode bool // failed because the peer's close code is invalid
	why         string
}

func fuzzWireCode(code wsactor.StatusCode) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}

// fuzzValidPrefix reports whether p is valid UTF-8 or can still become
// valid UTF-8 with more bytes.
func fuzzValidPrefix(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	// Split off an incomplete last sequence (at most 3 bytes).
	for k := 1; k <= 3 && k <= len(p); k++ {
		tail := p[len(p)-k:]
		if !utf8.RuneStart(tail[0]) || tail[0] < 0xc0 {
			continue
		}
		return utf8.Valid(p[:len(p)-k]) && fuzzValidSeqPrefix(tail)
	}
	return false
}

// fuzzValidSeqPrefix: tail is the start of some valid sequence (RFC 3629).
func fuzzValidSeqPrefix(tail []byte) bool {
	b0 := tail[0]
	n, lo, hi := 0, byte(0x80), byte(0xbf)
	switch {
	case b0 >= 0xc2 && b0 <= 0xdf:
		n = 2
	case b0 == 0xe0:
		n, lo = 3, 0xa0
	case b0 >= 0xe1 && b0 <= 0xec, b0 == 0xee, b0 == 0xef:
		n = 3
	case b0 == 0xed:
		n, hi = 3, 0x9f
	case b0 == 0xf0:
		n, lo = 4, 0x90
	case b0 >= 0xf1 && b0 <= 0xf3:
		n = 4
	case b0 == 0xf4:
		n, hi = 4, 0x8f
	default:
		return false
	}
	if len(tail) >= n {
		return false
	}
	if len(tail) >= 2 && (tail[1] < lo || tail[1] > hi) {
		return false
	}
	for _, b := range tail[min(len(tail), 2):] {
		if b < 0x80 || b > 0xbf {
			return false
		}
	}
	return true
}

func fuzzReference(in []byte, limit int64) fuzzOutcome {
	var o fuzzOutcome
	fail := func(code wsactor.StatusCode, why string) fuzzOutcome {
		o.end, o.code, o.why = fuzzEndFail, code, why
		return o
	}
	trunc := func(why string) fuzzOutcome {
		o.end, o.why = fuzzEndTruncated, why
		return o
	}
	var (
		inMsg bool
		typ   byte
		msg   []byte
	)
	p := in
	for {
		if len(p) == 0 {
			o.end = fuzzEndEOF
			return o
		}
		if len(p) < 2 {
			return trunc("header")
		}
		b0, b1 := p[0], p[1]
		need := 2
		switch b1 & 0x7f {
		case 126:
			need += 2
		case 127:
			need += 8
		}
		masked := b1&0x80 != 0
		if masked {
			need += 4
		}
		if len(p) < need {
			return trunc("header")
		}
		var length uint64
		switch l := b1 & 0x7f; l {
		case 126:
			length = uint64(p[2])<<8 | uint64(p[3])
		case 127:
			for _, b := range p[2:10] {
				length = length<<8 | uint64(b)
			}
			if length>>63 != 0 {
				return fail(wsactor.StatusProtocolError, "length with the top bit set")
			}
		default:
			length = uint64(l)
		}
		p = p[need:]
		fin, rsv, op := b0&0x80 != 0, b0>>4&7, b0&0xf
		if rsv != 0 {
			return fail(wsactor.StatusProtocolError, "rsv")
		}
		if masked {
			return fail(wsactor.StatusProtocolError, "masked")
		}
		switch op {
		case 0x8, 0x9, 0xa:
			if !fin {
				return fail(wsactor.StatusProtocolError, "fragmented control")
			}
			if length > 125 {
				return fail(wsactor.StatusProtocolError, "long control")
			}
			if uint64(len(p)) < length {
				return trunc("control payload")
			}
			pl := p[:length]
			p = p[length:]
			switch op {
			case 0x9:
				o.pings = append(o.pings, append([]byte{}, pl...))
			case 0x8:
				switch {
				case len(pl) == 1:
					return fail(wsactor.StatusProtocolError, "1-byte close")
				case len(pl) == 0:
					o.code = wsactor.StatusNoStatusReceived
				default:
					code := wsactor.StatusCode(uint16(pl[0])<<8 | uint16(pl[1]))
					if !fuzzWireCode(code) {
						o.badPeerCode = true
						return fail(wsactor.StatusProtocolError, "close code")
					}
					if !utf8.Valid(pl[2:]) {
						return fail(wsactor.StatusInvalidFramePayloadData, "close reason")
					}
					o.code, o.reason = code, string(pl[2:])
				}
				o.end = fuzzEndClose
				return o
			}
		case 0x0, 0x1, 0x2:
			if op == 0 && !inMsg {
				return fail(wsactor.StatusProtocolError, "orphan continuation")
			}
			if op != 0 && inMsg {
				return fail(wsactor.StatusProtocolError, "interleaved message")
			}
			if op != 0 {
				inMsg, typ, msg = true, op, []byte{}
			}
			if length > uint64(limit)-uint64(len(msg)) {
				return fail(wsactor.StatusMessageTooBig, "too big")
			}
			avail := min(uint64(len(p)), length)
			msg = append(msg, p[:avail]...)
			p = p[avail:]
			if typ == 0x1 && !fuzzValidPrefix(msg) {
				return fail(wsactor.StatusInvalidFramePayloadData, "text")
			}
			if avail < length {
				return trunc("data payload")
			}
			if fin {
				if typ == 0x1 && !utf8.Valid(msg) {
					return fail(wsactor.StatusInvalidFramePayloadData, "text")
				}
				o.msgs = append(o.msgs, &wsactor.Message{Type: wsactor.MessageType(typ), Data: msg})
				inMsg, msg = false, nil
			}
		default:
			return fail(wsactor.StatusProtocolError, "reserved opcode")
		}
	}
}

// fuzzCompare checks the client against the reference decoder.
func fuzzCompare(t *testing.T, in []byte, res fuzzResult) {
	t.Helper()
	ref := fuzzReference(in, fuzzMaxMessage)
	cl := res.close
	describe := func() string {
		return fmt.Sprintf("reference: end %d code %d (%s), %d msgs, %d pings; client: Close{Code %d, Reason %q, Sent %d, Clean %v, Err %v}, %d msgs",
			ref.end, ref.code, ref.why, len(ref.msgs), len(ref.pings), cl.Code, cl.Reason, cl.Sent, cl.Clean, cl.Err, len(res.msgs))
	}
	if len(res.msgs) != len(ref.msgs) {
		t.Fatalf("%d messages, want %d; %s", len(res.msgs), len(ref.msgs), describe())
	}
	for i, m := range res.msgs {
		if m.Type != ref.msgs[i].Type || !bytes.Equal(m.Data, ref.msgs[i].Data) {
			t.Fatalf("message %d: %v %q, want %v %q", i, m.Type, m.Data, ref.msgs[i].Type, ref.msgs[i].Data)
		}
	}
	switch ref.end {
	case fuzzEndEOF, fuzzEndTruncated:
		if cl.Code != wsactor.StatusAbnormalClosure || cl.Sent != 0 || cl.Clean || !errors.Is(cl.Err, io.ErrUnexpectedEOF) {
			t.Fatalf("want Close{1006, Sent 0, Err unexpected EOF}; %s", describe())
		}
	case fuzzEndClose:
		echo := ref.code
		if echo == wsactor.StatusNoStatusReceived {
			echo = wsactor.StatusNormalClosure
		}
		if cl.Code != ref.code || cl.Reason != ref.reason || cl.Sent != echo || !cl.Clean || cl.Err != nil {
			t.Fatalf("want a clean Close{%d %q, Sent %d}; %s", ref.code, ref.reason, echo, describe())
		}
	case fuzzEndFail:
		wantCode := wsactor.StatusAbnormalClosure
		if ref.badPeerCode {
			wantCode = wsactor.StatusProtocolError
		}
		var okErr bool
		switch ref.code {
		case wsactor.StatusProtocolError:
			var pe *wsactor.ProtocolError
			okErr = errors.As(cl.Err, &pe)
		case wsactor.StatusInvalidFramePayloadData:
			okErr = errors.Is(cl.Err, wsactor.ErrInvalidUTF8)
		case wsactor.StatusMessageTooBig:
			okErr = errors.Is(cl.Err, wsactor.ErrMessageTooBig)
		}
		if cl.Sent != ref.code || cl.Code != wantCode || cl.Clean || !okErr {
			t.Fatalf("want Close{Code %d, Sent %d, a matching Err}; %s", wantCode, ref.code, describe())
		}
	}
	// What the client wrote: masked frames, one pong per ping (all of them
	// when a close frame was sent), then its close frame, then nothing.
	wire := bufio.NewReader(bytes.NewReader(res.wire()))
	var pongs [][]byte
	var sentClose *ws.Frame
	for {
		fr, err := ws.ReadFrame(wire)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("client wrote a bad frame: %v", err)
		}
		if !fr.Header.Masked {
			t.Fatal("client frame not masked")
		}
		fr = ws.UnmaskFrameInPlace(fr)
		if sentClose != nil {
			t.Fatalf("client wrote %v after its close frame", fr.Header.OpCode)
		}
		switch fr.Header.OpCode {
		case ws.OpPong:
			pongs = append(pongs, fr.Payload)
		case ws.OpClose:
			sentClose = &fr
		default:
			t.Fatalf("client wrote an unexpected %v frame", fr.Header.OpCode)
		}
	}
	if len(pongs) > len(ref.pings) || (cl.Sent != 0 && len(pongs) != len(ref.pings)) {
		t.Fatalf("client wrote %d pongs for %d pings; %s", len(pongs), len(ref.pings), describe())
	}
	for i, p := range pongs {
		if !bytes.Equal(p, ref.pings[i]) {
			t.Fatalf("pong %d payload %q, ping was %q", i, p, ref.pings[i])
		}
	}
	switch {
	case cl.Sent == 0 && sentClose != nil:
		t.Fatalf("client wrote a close frame but Close.Sent is 0")
	case cl.Sent != 0 && sentClose == nil:
		t.Fatalf("Close.Sent %d but no close frame on the wire", cl.Sent)
	case sentClose != nil:
		code, _ := ws.ParseCloseFrameData(sentClose.Payload)
		if wsactor.StatusCode(code) != cl.Sent {
			t.Fatalf("close frame on the wire has code %d, Close.Sent %d", code, cl.Sent)
		}
	}
}

// ---------------------------------------------------------------------------
// FuzzReceive: FuzzFrameReader's input and checks over a loopback TCP
// socket, consumed through Receive, so that the Receive caller reads and
// parses the frames itself (the fake conn of FuzzFrameReader is not a raw
// socket, where Receive only waits on Events()). The server writes the
// input in small pieces, so the caller meets frames cut anywhere.

func FuzzReceive(f *testing.F) {
	for _, seed := range [][]byte{
		append(frame(ws.OpText, true, []byte("hi")), closeFrame(ws.StatusNormalClosure, "bye")...),
		append(frame(ws.OpPing, true, []byte("p")), frame(ws.OpBinary, true, bytes.Repeat([]byte{7}, 300))...),
		append(frame(ws.OpText, false, []byte("frag")), frame(ws.OpContinuation, true, []byte("ment"))...),
		{0x83, 0x00},       // reserved opcode
		{0x81, 0x7e, 0x04}, // a header cut short
		[]byte("80"),       // a close frame with RSV bits and no payload
	} {
		f.Add(seed)
	}
	// One listener for the whole run (iterations run one at a time in a
	// process), and no TIME_WAIT left behind per iteration (see
	// fuzzServeTCP): thousands of iterations must not use up the
	// ephemeral ports that the tests after them need.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { ln.Close() })
	f.Fuzz(func(t *testing.T, in []byte) {
		baseline := runtime.NumGoroutine()
		var (
			mu    sync.Mutex
			wrote []byte
		)
		done := make(chan error, 1)
		start := make(chan struct{})
		go func() { done <- fuzzServeTCP(ln, in, start, &mu, &wrote) }()
		var serverErr error
		opts := []wsactor.Option{wsactor.WithNetDial(fuzzDialNoLinger), wsactor.WithIdleDetach(time.Millisecond)}
		pulling := func(c *wsactor.Conn) {
			// The input is written once a Receive has taken the actor (it
			// parks within a millisecond or two), so the caller reads it.
			deadline := time.Now().Add(fuzzDeadline / 2)
			for wsactor.Pulls(c) == 0 && !wsactor.Pulling(c) && time.Now().Before(deadline) {
				time.Sleep(50 * time.Microsecond)
			}
			close(start)
		}
		res := fuzzConsume(t, baseline, "ws://"+ln.Addr().String()+"/", opts, pulling, func() []byte {
			mu.Lock()
			defer mu.Unlock()
			return append([]byte(nil), wrote...)
		}, func() { serverErr = <-done })
		if serverErr != nil {
			t.Fatal("server:", serverErr)
		}
		if res.open == nil {
			t.Fatalf("handshake failed: %v", res.dialErr)
		}
		fuzzCompare(t, in, res)
	})
}

// fuzzDialNoLinger dials a plain TCP socket (Receive still reads it itself)
// whose close is abortive: a client that fails the connection closes first,
// and must not leave a TIME_WAIT per iteration either. On loopback a write
// has reached the peer when it returns, so nothing written is lost.
func fuzzDialNoLinger(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	_ = nc.(*net.TCPConn).SetLinger(0)
	return nc, nil
}

// fuzzServeTCP accepts one connection, answers its handshake, writes in in
// pieces of fuzzReadSizes once start is closed, closes its write side and keeps what the client
// writes until the client closes.
func fuzzServeTCP(ln net.Listener, in []byte, start <-chan struct{}, mu *sync.Mutex, wrote *[]byte) error {
	nc, err := ln.Accept()
	if err != nil {
		return err
	}
	// The client has closed by the time this closes: an abortive close
	// leaves no TIME_WAIT (the write side was shut down first, so this end
	// would otherwise wait).
	_ = nc.(*net.TCPConn).SetLinger(0)
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(fuzzDeadline))
	br := bufio.NewReader(nc)
	req, err := http.ReadRequest(br)
	if err != nil {
		return err
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if _, err := nc.Write([]byte(response101(base64.StdEncoding.EncodeToString(h[:])))); err != nil {
		return err
	}
	<-start
	for i := 0; len(in) > 0; i++ {
		n := min(len(in), fuzzReadSizes[i%len(fuzzReadSizes)])
		if _, err := nc.Write(in[:n]); err != nil {
			break // the client may close first (it failed the connection)
		}
		in = in[n:]
	}
	_ = nc.(*net.TCPConn).CloseWrite()
	buf := make([]byte, 4096)
	for {
		n, err := br.Read(buf)
		mu.Lock()
		if len(*wrote) < 1<<20 {
			*wrote = append(*wrote, buf[:n]...)
		}
		mu.Unlock()
		if err != nil {
			return nil // EOF or reset: the client is done
		}
	}
}
