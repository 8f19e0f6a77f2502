// Package rogue is an in-process WebSocket server for tests that behaves as
// badly as a test asks it to.
//
// A Server listens on 127.0.0.1:0. For every TCP connection it runs the
// opening handshake chosen by Options.Mode (a correct RFC 6455 one or a
// hostile one) and then the test's Script, which drives the connection
// through a *Peer: write raw bytes or hand-built frames (any opcode, RSV
// bits, fin flag, declared length; one frame split over several TCP writes),
// read the client's masked frames, expect a close code, wait for the client
// to close TCP.
//
// Scripts never call t.Errorf: they return an error, and the test collects
// it from its own goroutine with Server.Result or Server.Close. Close stops
// every goroutine the server started (listener, connections, scripts), so
// goleak stays quiet.
package rogue

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mode chooses how the server answers the opening handshake.
type Mode int

const (
	// ModeOK answers with a correct 101 (plus Options.Early in the same
	// write, if set).
	ModeOK Mode = iota
	// ModeSilent accepts the TCP connection, reads the request and never
	// answers.
	ModeSilent
	// ModeSlowloris writes the response one byte every Options.Interval,
	// forever (a 101 status line followed by an endless header).
	ModeSlowloris
	// ModeHugeHeaders answers a 101 whose headers total
	// Options.HeaderBytes (default 4 MiB).
	ModeHugeHeaders
	// ModeBadAccept answers a 101 with a wrong Sec-WebSocket-Accept.
	ModeBadAccept
	// ModeStatus answers with Options.Status (e.g. 403) and Options.Body.
	ModeStatus
	// ModeNoUpgrade answers a 101 without the Upgrade header.
	ModeNoUpgrade
	// ModeRaw writes Options.Raw verbatim as the response.
	ModeRaw
)

// Options configure a Server. The zero value is a correct server.
type Options struct {
	Mode Mode
	// Early is written in the same TCP write as the 101 response (ModeOK,
	// ModeBadAccept, ModeNoUpgrade): frames that arrive "with" the handshake.
	Early []byte
	// Protocol and Extensions are sent as Sec-WebSocket-Protocol and
	// Sec-WebSocket-Extensions when non-empty.
	Protocol, Extensions string
	// Header holds extra response headers.
	Header http.Header
	// Interval between two bytes in ModeSlowloris (default 10ms).
	Interval time.Duration
	// HeaderBytes is the header size in ModeHugeHeaders (default 4 MiB).
	HeaderBytes int
	// Status and Body for ModeStatus.
	Status int
	Body   []byte
	// Raw is the response for ModeRaw.
	Raw []byte
	// Timeout bounds every blocking Peer operation (default 5s).
	Timeout time.Duration
}

// Script drives one connection after the handshake. A nil Script waits for
// the client to close TCP.
type Script func(p *Peer) error

// Server is a rogue WebSocket server. Create it with Start.
type Server struct {
	ln     net.Listener
	opts   Options
	script Script
	done   chan struct{}
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	pending  []error // results not yet taken by Result
	accepted int
	notify   chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Start listens on 127.0.0.1:0 and serves every connection with opts and
// script.
func Start(opts Options, script Script) (*Server, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Millisecond
	}
	if opts.HeaderBytes <= 0 {
		opts.HeaderBytes = 4 << 20
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rogue: failed to listen: %w", err)
	}
	s := &Server{
		ln:     ln,
		opts:   opts,
		script: script,
		done:   make(chan struct{}),
		conns:  make(map[net.Conn]struct{}),
		notify: make(chan struct{}, 1),
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// New starts a server for a test: it fails the test if the server cannot
// start and, at cleanup, closes it and reports the script errors that no
// Result call collected.
func New(tb testing.TB, opts Options, script Script) *Server {
	tb.Helper()
	s, err := Start(opts, script)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("rogue server: %v", err)
		}
	})
	return s
}

// Addr returns host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns ws://host:port/.
func (s *Server) URL() string { return "ws://" + s.Addr() + "/" }

// Accepted returns the number of TCP connections accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Result waits up to d for the next connection's script to finish and
// returns its error. It returns an error if none finished in time.
func (s *Server) Result(d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if len(s.pending) > 0 {
			err := s.pending[0]
			s.pending = s.pending[1:]
			s.mu.Unlock()
			return err
		}
		s.mu.Unlock()
		select {
		case <-s.notify:
		case <-timer.C:
			return fmt.Errorf("rogue: no script finished within %v", d)
		}
	}
}

// Close stops the listener, closes every connection, waits for all server
// goroutines to return, and returns the joined errors of the scripts whose
// result was not taken by Result. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		s.mu.Lock()
		var errs []error
		for _, err := range s.pending {
			if err != nil {
				errs = append(errs, err)
			}
		}
		s.pending = nil
		s.mu.Unlock()
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // listener closed
		}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			c.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.accepted++
		n := s.accepted
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c, n)
	}
}

func (s *Server) serve(c net.Conn, n int) {
	defer s.wg.Done()
	err := s.run(c)
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	if err != nil {
		err = fmt.Errorf("rogue conn #%d: %w", n, err)
	}
	s.pending = append(s.pending, err)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Server) run(c net.Conn) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("script panicked: %v", r)
		}
	}()
	p := &Peer{Conn: c, br: bufio.NewReaderSize(c, 64<<10), Timeout: s.opts.Timeout, done: s.done}
	if err := s.handshake(p); err != nil {
		return err
	}
	if s.opts.Mode == ModeSlowloris {
		return nil
	}
	if s.script == nil {
		p.SetTimeout(time.Hour) // until the client or Close ends it
		p.WaitEOF()
		return nil
	}
	return s.script(p)
}

// acceptKey computes Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2).
func acceptKey(key string) string {
	h := sha1.New()
	io.WriteString(h, key+"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (s *Server) handshake(p *Peer) error {
	o := &s.opts
	p.Conn.SetReadDeadline(time.Now().Add(o.Timeout))
	req, err := http.ReadRequest(p.br)
	p.Conn.SetReadDeadline(time.Time{})
	if err != nil {
		if o.Mode == ModeOK {
			return fmt.Errorf("failed to read handshake request: %w", err)
		}
		return nil // hostile modes do not care
	}
	p.Request = req
	key := req.Header.Get("Sec-WebSocket-Key")
	if o.Mode == ModeOK {
		switch {
		case req.Method != http.MethodGet:
			return fmt.Errorf("handshake: method %q, want GET", req.Method)
		case !strings.EqualFold(req.Header.Get("Upgrade"), "websocket"):
			return fmt.Errorf("handshake: Upgrade %q, want websocket", req.Header.Get("Upgrade"))
		case !headerHasToken(req.Header, "Connection", "upgrade"):
			return fmt.Errorf("handshake: Connection %q lacks upgrade", req.Header.Get("Connection"))
		case req.Header.Get("Sec-WebSocket-Version") != "13":
			return fmt.Errorf("handshake: Sec-WebSocket-Version %q, want 13", req.Header.Get("Sec-WebSocket-Version"))
		}
		if k, err := base64.StdEncoding.DecodeString(key); err != nil || len(k) != 16 {
			return fmt.Errorf("handshake: Sec-WebSocket-Key %q is not 16 base64 bytes", key)
		}
	}

	var b strings.Builder
	head := func(upgrade bool, accept string) {
		b.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
		if upgrade {
			b.WriteString("Upgrade: websocket\r\n")
		}
		b.WriteString("Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n")
		if o.Protocol != "" {
			b.WriteString("Sec-WebSocket-Protocol: " + o.Protocol + "\r\n")
		}
		if o.Extensions != "" {
			b.WriteString("Sec-WebSocket-Extensions: " + o.Extensions + "\r\n")
		}
		for k, vs := range o.Header {
			for _, v := range vs {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
	}
	// Write errors in the hostile modes are expected (the client gives up).
	switch o.Mode {
	case ModeOK, ModeBadAccept, ModeNoUpgrade:
		accept := acceptKey(key)
		if o.Mode == ModeBadAccept {
			accept = acceptKey(key + "x")
		}
		head(o.Mode != ModeNoUpgrade, accept)
		b.WriteString("\r\n")
		err := p.Write(append([]byte(b.String()), o.Early...))
		if o.Mode == ModeOK && err != nil {
			return fmt.Errorf("failed to write handshake response: %w", err)
		}
		return nil
	case ModeSilent:
		return nil
	case ModeSlowloris:
		resp := "HTTP/1.1 101 Switching Protocols\r\nX-Slow: "
		t := time.NewTicker(o.Interval)
		defer t.Stop()
		for i := 0; ; i++ {
			c := byte('a')
			if i < len(resp) {
				c = resp[i]
			}
			p.Conn.SetWriteDeadline(time.Now().Add(o.Timeout))
			if _, err := p.Conn.Write([]byte{c}); err != nil {
				return nil
			}
			select {
			case <-s.done:
				return nil
			case <-t.C:
			}
		}
	case ModeHugeHeaders:
		head(true, acceptKey(key))
		line := "X-Pad: " + strings.Repeat("p", 8000) + "\r\n"
		for b.Len() < o.HeaderBytes {
			b.WriteString(line)
		}
		b.WriteString("\r\n")
		p.SetTimeout(time.Hour) // the client may stop reading; Close unblocks
		p.Write([]byte(b.String()))
		p.SetTimeout(o.Timeout)
		return nil
	case ModeStatus:
		st := o.Status
		if st == 0 {
			st = http.StatusForbidden
		}
		fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n", st, http.StatusText(st), len(o.Body))
		for k, vs := range o.Header {
			for _, v := range vs {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
		b.WriteString("\r\n")
		p.Write(append([]byte(b.String()), o.Body...))
		return nil
	case ModeRaw:
		p.Write(o.Raw)
		return nil
	}
	return fmt.Errorf("unknown mode %d", o.Mode)
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
