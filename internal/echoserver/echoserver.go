// Package echoserver is an in-process WebSocket echo server for tests and for
// the wsload load generator. It is built on github.com/gobwas/ws (server
// side) and listens on the loopback interface.
//
// Every text or binary message is echoed back as one frame of the same type
// once all its fragments have arrived. Pings are answered with pongs, pongs
// are ignored, and a close frame is echoed back (same code and reason) before
// the server closes the TCP connection. Protocol violations are answered with
// a close frame carrying 1002 (protocol error), 1007 (invalid UTF-8) or 1009
// (message too big).
//
// The server runs one goroutine per connection and reuses per-connection
// buffers. Close stops the listener and every connection goroutine and waits
// for them, so tests can use goleak after it.
package echoserver

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Addr is the address to listen on. Default "127.0.0.1:0".
	Addr string

	// MaxMessageSize is the largest reassembled message the server accepts;
	// larger messages are answered with close 1009. Default 64 MiB.
	MaxMessageSize int64

	// Protocols, if set, are the subprotocols the server accepts; the first
	// one offered by the client that is in this list is selected.
	Protocols []string

	// HandshakeTimeout bounds reading the upgrade request and writing the
	// response. Default 10s.
	HandshakeTimeout time.Duration

	// WriteTimeout bounds every frame write (0: none). A client that does not
	// read its echoes for that long gets disconnected.
	WriteTimeout time.Duration

	// CloseTimeout bounds how long the server keeps reading (and
	// discarding) after it failed a connection with a close frame, waiting
	// for the client's close frame. Default 5s.
	CloseTimeout time.Duration

	// ReadBufferSize and WriteBufferSize size the per-connection bufio
	// buffers. Default 4096 each.
	ReadBufferSize, WriteBufferSize int

	// NoUTF8Check disables validation of text messages (they are then
	// echoed even if they are not valid UTF-8).
	NoUTF8Check bool
}

// Stats are cumulative counters of a Server.
type Stats struct {
	Accepted       int64 // TCP connections accepted
	Upgraded       int64 // successful WebSocket handshakes
	HandshakeFails int64 // failed WebSocket handshakes
	Active         int64 // connections currently being served
	Messages       int64 // messages echoed
	Bytes          int64 // payload bytes echoed
	Pings          int64 // pings answered
	Closes         int64 // close frames received from clients
	ProtocolErrors int64 // connections failed with 1002/1007/1009
}

// Server is a running echo server.
type Server struct {
	opts Options
	ln   net.Listener
	url  string

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool

	wg        sync.WaitGroup // accept loop + connection goroutines
	closeOnce sync.Once
	closeErr  error

	accepted, upgraded, hsFails, active atomic.Int64
	messages, bytes, pings, closes      atomic.Int64
	protoErrs                           atomic.Int64
}

// Start listens on opts.Addr (default 127.0.0.1:0) and serves in the
// background until Close.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = 64 << 20
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.CloseTimeout <= 0 {
		opts.CloseTimeout = 5 * time.Second
	}
	if opts.ReadBufferSize <= 0 {
		opts.ReadBufferSize = 4096
	}
	if opts.WriteBufferSize <= 0 {
		opts.WriteBufferSize = 4096
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("echoserver: %w", err)
	}
	s := &Server{
		opts:  opts,
		ln:    ln,
		url:   "ws://" + ln.Addr().String() + "/",
		conns: make(map[*conn]struct{}),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// URL returns the server's WebSocket URL, e.g. "ws://127.0.0.1:34567/".
func (s *Server) URL() string { return s.url }

// Addr returns the listener address ("127.0.0.1:34567").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Stats returns a snapshot of the server counters.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted:       s.accepted.Load(),
		Upgraded:       s.upgraded.Load(),
		HandshakeFails: s.hsFails.Load(),
		Active:         s.active.Load(),
		Messages:       s.messages.Load(),
		Bytes:          s.bytes.Load(),
		Pings:          s.pings.Load(),
		Closes:         s.closes.Load(),
		ProtocolErrors: s.protoErrs.Load(),
	}
}

// Close stops the listener, closes every connection without a closing
// handshake and waits until all server goroutines have returned. It is
// idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		err := s.ln.Close()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.closeErr = err
		}
	})
	s.wg.Wait()
	return s.closeErr
}

// Shutdown stops accepting, sends a close frame with code 1001 (going away)
// to every open connection and waits until the clients have answered and the
// connections are gone, or until ctx is done; then it behaves like Close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	_ = s.ln.Close()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.sendClose(ws.StatusGoingAway, "server shutdown")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	<-done
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Probably EMFILE or similar: back off like net/http does.
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.accepted.Add(1)
		c := &conn{srv: s, nc: nc}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.active.Add(1)
		go c.serve()
	}
}

// conn is one server-side connection.
type conn struct {
	srv *Server
	nc  net.Conn

	wmu          sync.Mutex // guards bw, hdr and closeSent
	bw           *bufio.Writer
	whdr         [ws.MaxHeaderSize]byte
	closeSent    bool
	pendingClose []byte // close frame asked for before the upgrade finished
}

func (c *conn) serve() {
	s := c.srv
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.active.Add(-1)
		s.wg.Done()
	}()

	up := ws.Upgrader{
		ReadBufferSize:  s.opts.ReadBufferSize,
		WriteBufferSize: s.opts.WriteBufferSize,
	}
	if len(s.opts.Protocols) > 0 {
		up.Protocol = func(p []byte) bool {
			for _, want := range s.opts.Protocols {
				if string(p) == want {
					return true
				}
			}
			return false
		}
	}
	_ = c.nc.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	if _, err := up.Upgrade(c.nc); err != nil {
		s.hsFails.Add(1)
		return
	}
	_ = c.nc.SetDeadline(time.Time{})
	s.upgraded.Add(1)

	c.wmu.Lock()
	c.bw = bufio.NewWriterSize(c.nc, s.opts.WriteBufferSize)
	if c.pendingClose != nil && !c.closeSent {
		c.closeSent = true
		_ = c.writeLocked(ws.OpClose, c.pendingClose)
	}
	c.wmu.Unlock()
	c.readLoop(bufio.NewReaderSize(c.nc, s.opts.ReadBufferSize))
}

// readLoop reads frames until the connection ends. Every return path leaves
// the connection ready to be closed.
func (c *conn) readLoop(br *bufio.Reader) {
	s := c.srv
	var (
		hbuf    [ws.MaxHeaderSize - 2]byte
		ctrl    [ws.MaxControlFramePayloadSize]byte
		msg     []byte // reassembled data message, reused
		msgOp   ws.OpCode
		inFrag  bool
		maxSize = s.opts.MaxMessageSize
	)
	for {
		h, err := ws.ReadHeaderBuffer(br, hbuf[:])
		if err != nil {
			return
		}
		state := ws.StateServerSide
		if inFrag {
			state |= ws.StateFragmented
		}
		if err := ws.CheckHeader(h, state); err != nil {
			c.fail(ws.StatusProtocolError, err.Error())
			c.drain(br, h.Length)
			return
		}

		if h.OpCode.IsControl() {
			p := ctrl[:h.Length]
			if _, err := io.ReadFull(br, p); err != nil {
				return
			}
			ws.Cipher(p, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				s.pings.Add(1)
				if c.write(ws.OpPong, p) != nil {
					return
				}
			case ws.OpPong:
			case ws.OpClose:
				s.closes.Add(1)
				if !c.handleClose(p) {
					c.drain(br, 0)
				}
				return
			}
			continue
		}

		// Data frame (text, binary or continuation).
		if h.OpCode != ws.OpContinuation {
			msgOp = h.OpCode
			msg = msg[:0]
		}
		if h.Length > maxSize-int64(len(msg)) {
			c.fail(ws.StatusMessageTooBig, "message too big")
			c.drain(br, h.Length)
			return
		}
		n := len(msg)
		msg, err = readPayload(br, msg, h.Length)
		if err != nil {
			return
		}
		ws.Cipher(msg[n:], h.Mask, 0)
		if !h.Fin {
			inFrag = true
			continue
		}
		inFrag = false
		if msgOp == ws.OpText && !s.opts.NoUTF8Check && !utf8.Valid(msg) {
			c.fail(ws.StatusInvalidFramePayloadData, "invalid UTF-8")
			c.drain(br, 0)
			return
		}
		if c.write(msgOp, msg) != nil {
			return
		}
		s.messages.Add(1)
		s.bytes.Add(int64(len(msg)))
		// Do not pin a huge buffer for the rest of the connection.
		if cap(msg) > 1<<20 {
			msg = nil
		}
	}
}

// readPayload appends n bytes from r to buf. The buffer grows as bytes
// arrive, so a peer cannot make the server allocate a declared but unsent
// length.
func readPayload(r io.Reader, buf []byte, n int64) ([]byte, error) {
	const chunk = 64 << 10
	for n > 0 {
		step := int(min(n, chunk))
		buf = slices.Grow(buf, step)
		l := len(buf)
		buf = buf[:l+step]
		if _, err := io.ReadFull(r, buf[l:]); err != nil {
			return buf[:l], err
		}
		n -= int64(step)
	}
	return buf, nil
}

// handleClose answers a close frame received from the client. It reports
// whether the close frame was valid (false: the server failed the
// connection with its own close frame instead of echoing).
func (c *conn) handleClose(p []byte) bool {
	switch {
	case len(p) == 0:
		c.sendCloseRaw(nil)
	case len(p) == 1:
		c.fail(ws.StatusProtocolError, "close payload of 1 byte")
		return false
	default:
		code := ws.StatusCode(binary.BigEndian.Uint16(p))
		if err := ws.CheckCloseFrameData(code, string(p[2:])); err != nil {
			st := ws.StatusProtocolError
			if errors.Is(err, ws.ErrProtocolInvalidUTF8) {
				st = ws.StatusInvalidFramePayloadData
			}
			c.fail(st, err.Error())
			return false
		}
		c.sendCloseRaw(p) // echo code and reason
	}
	return true
}

// drain is called after the server failed the connection with a close
// frame: it discards what the client still sends until the client's close
// frame (or an error, or CloseTimeout), so that closing the socket does not
// reset it while the client is still reading the server's close frame.
// skip is the length of a payload still to be discarded first.
func (c *conn) drain(br *bufio.Reader, skip int64) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.CloseTimeout))
	if !c.drainPayload(br, skip) {
		return
	}
	var hbuf [ws.MaxHeaderSize - 2]byte
	for {
		h, err := ws.ReadHeaderBuffer(br, hbuf[:])
		if err != nil {
			return
		}
		if !c.drainPayload(br, h.Length) || h.OpCode == ws.OpClose {
			return
		}
	}
}

func (c *conn) drainPayload(br *bufio.Reader, n int64) bool {
	m, err := io.CopyN(io.Discard, br, n)
	return err == nil && m == n
}

// fail sends a close frame for a protocol violation.
func (c *conn) fail(code ws.StatusCode, reason string) {
	c.srv.protoErrs.Add(1)
	c.sendClose(code, reason)
}

func (c *conn) sendClose(code ws.StatusCode, reason string) {
	if len(reason) > ws.MaxControlFramePayloadSize-2 {
		reason = reason[:ws.MaxControlFramePayloadSize-2]
	}
	c.sendCloseRaw(ws.NewCloseFrameBody(code, reason))
}

// sendCloseRaw sends a close frame with payload p unless one was sent
// already.
func (c *conn) sendCloseRaw(p []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return
	}
	if c.bw == nil {
		// Still upgrading (the 101 may already be on the wire): send it as
		// soon as the connection is set up.
		c.pendingClose = p
		return
	}
	c.closeSent = true
	_ = c.writeLocked(ws.OpClose, p)
}

// write sends one unfragmented frame. Data and pong frames are not sent
// after a close frame.
func (c *conn) write(op ws.OpCode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent {
		return nil
	}
	return c.writeLocked(op, p)
}

func (c *conn) writeLocked(op ws.OpCode, p []byte) error {
	if wt := c.srv.opts.WriteTimeout; wt > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(wt))
	}
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p))}
	if err := ws.WriteHeaderBuffer(c.bw, h, c.whdr[:]); err != nil {
		return err
	}
	if _, err := c.bw.Write(p); err != nil {
		return err
	}
	return c.bw.Flush()
}
