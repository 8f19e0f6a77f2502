package wsactor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// handshakeResult is what the opening handshake produced.
type handshakeResult struct {
	nc         net.Conn
	buffered   []byte // frames the server sent right after the 101
	protocol   string
	extensions []string
	header     http.Header
}

// limitConn bounds how many bytes the handshake may read, so a response
// with megabytes of headers (or a single endless header line, which
// gobwas/ws would buffer whole) fails with ErrResponseTooLarge.
type limitConn struct {
	net.Conn
	left int
}

func (l *limitConn) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, ErrResponseTooLarge
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.Conn.Read(p)
	l.left -= n
	return n, err
}

// handshake dials and upgrades with gobwas/ws. The returned error is
// already classified (see classifyDialError).
//
// The handshake timeout and cancellation cost no goroutine and as few
// allocations as they can (what a dial leaves behind fragments the heap that
// thousands of idle connections live in): the TCP (and user NetDial) dial
// runs under one context with the handshake's deadline, cancelled by Abort;
// the upgrade runs with the same deadline set on the socket, Abort closes the
// socket, and only a ctx that can be cancelled gets an AfterFunc. gobwas/ws
// runs only the upgrade (Dialer.Upgrade) on the socket dialSocket opened, so
// it starts no watcher goroutine and does not parse the URL a second time.
func (c *Conn) handshake(ctx context.Context) (*handshakeResult, error) {
	res := &handshakeResult{header: http.Header{}}
	var statusErr *HandshakeError
	deadline := time.Now().Add(c.hs.lim.handshakeTimeout)
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c.mu.Lock()
	if c.aborted {
		c.mu.Unlock()
		return nil, ErrAborted
	}
	c.hs.cancel = cancel
	c.mu.Unlock()
	d := ws.Dialer{
		Protocols:       c.hs.protocols,
		Host:            c.hs.host,
		ReadBufferSize:  readBufSize,
		WriteBufferSize: 1024,
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			statusErr = readStatusError(status, resp)
		},
		OnHeader: func(k, v []byte) error {
			if len(res.header) >= 1000 {
				return ErrResponseTooLarge
			}
			res.header.Add(string(k), string(v))
			return nil
		},
	}
	if c.hs.header != nil {
		d.Header = ws.HandshakeHeaderHTTP(c.hs.header)
	}
	if c.logs.on(logDebugHandshake) {
		c.logs.alog(logDebugHandshake, "opening handshake", strAttr("protocols", fmt.Sprint(c.hs.protocols)))
	}
	failed := func(err error) error {
		if ne := net.Error(nil); ctx.Err() != nil && errors.As(err, &ne) && ne.Timeout() {
			err = ctx.Err() // the upgrade was cut short by ctx, not by the handshake timeout
		}
		if statusErr != nil {
			if c.logs.on(logHTTP) {
				c.logs.alog(logHTTP, "handshake rejected", intAttr("status", int64(statusErr.StatusCode)),
					intAttr("body_bytes", int64(len(statusErr.Body))))
			}
			return statusErr
		}
		return classifyDialError(err)
	}
	nc, err := c.dialSocket(dctx)
	if err != nil {
		return nil, failed(err)
	}
	_ = nc.SetDeadline(deadline)
	c.mu.Lock()
	if c.aborted {
		_ = nc.Close() // the upgrade fails at once
	} else {
		c.hs.nc = nc // Abort closes it
	}
	c.mu.Unlock()
	var stop func() bool // stops the AfterFunc that cancels the upgrade
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	}
	br, hs, err := d.Upgrade(&limitConn{Conn: nc, left: c.hs.lim.maxResponseHead + readBufSize}, c.hs.url)
	if stop != nil && !stop() && err == nil {
		err = ctx.Err() // cancelled as the upgrade ended: the deadline may be spoilt
	}
	if err != nil {
		_ = nc.Close()
		return nil, failed(err)
	}
	_ = nc.SetDeadline(time.Time{})
	if br != nil {
		if n := br.Buffered(); n > 0 {
			p, _ := br.Peek(n)
			res.buffered = append([]byte(nil), p...)
		}
		ws.PutReader(br)
	}
	res.nc = nc
	res.protocol = hs.Protocol
	if c.logs.on(logDebugHandshake) {
		c.logs.alog(logDebugHandshake, "opening handshake complete", strAttr("status", "101"),
			strAttr("protocol", hs.Protocol), intAttr("headers", int64(len(res.header))),
			intAttr("buffered", int64(len(res.buffered))))
	}
	for _, e := range hs.Extensions {
		res.extensions = append(res.extensions, string(e.Name))
	}
	return res, nil
}

// dialSocket opens the connection to the URL's host (through WithNetDial's
// function if given) and, for wss, wraps it in TLS; the TLS handshake runs
// with the upgrade's first write, under the same deadline. It is what
// gobwas/ws's Dialer.Dial does before its Upgrade, without parsing the URL
// again or making closures for its hooks.
func (c *Conn) dialSocket(ctx context.Context) (net.Conn, error) {
	u := c.hs.url
	hostname, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "wss" {
			port = "443"
		}
	}
	addr := net.JoinHostPort(hostname, port)
	var nc net.Conn
	var err error
	if c.hs.netDial != nil {
		nc, err = c.hs.netDial(ctx, "tcp", addr)
	} else {
		var nd net.Dialer
		nc, err = nd.DialContext(ctx, "tcp", addr)
	}
	if err == nil && nc == nil {
		err = errors.New("wsactor: the NetDial function returned no connection")
	}
	if err != nil {
		return nil, err
	}
	if u.Scheme != "wss" {
		return nc, nil
	}
	var cfg *tls.Config
	if c.hs.tlsConfig != nil {
		cfg = c.hs.tlsConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = hostname
	}
	return tls.Client(nc, cfg), nil
}

// readStatusError turns a non-101 response into a *HandshakeError with the
// headers and the first 1 KiB of the body.
func readStatusError(status int, resp io.Reader) *HandshakeError {
	he := &HandshakeError{StatusCode: status, Header: http.Header{}}
	r, err := http.ReadResponse(bufio.NewReaderSize(resp, 1024), nil)
	if err != nil {
		return he
	}
	defer r.Body.Close()
	he.Header = r.Header
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1024))
	he.Body = body
	return he
}

// classifyDialError wraps err with exactly one kind (ErrDNS, ErrRefused,
// ErrTLS, ErrHandshakeTimeout, ErrBad*, ErrResponseTooLarge or ErrNetwork)
// while keeping err reachable through errors.As.
func classifyDialError(err error) error {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		unkErr  x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invErr  x509.CertificateInvalidError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
		netErr  net.Error
	)
	kind := ErrNetwork
	switch {
	case errors.Is(err, ErrResponseTooLarge):
		kind = ErrResponseTooLarge
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("wsactor: failed to connect: %w", err)
	case errors.As(err, &dnsErr):
		kind = ErrDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		kind = ErrRefused
	case errors.As(err, &certErr), errors.As(err, &unkErr), errors.As(err, &hostErr),
		errors.As(err, &invErr), errors.As(err, &recErr), errors.As(err, &alert):
		kind = ErrTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		kind = ErrHandshakeTimeout
	case errors.Is(err, ws.ErrHandshakeBadSecAccept):
		kind = ErrBadAccept
	case errors.Is(err, ws.ErrHandshakeBadSubProtocol):
		kind = ErrBadSubprotocol
	case errors.Is(err, ws.ErrHandshakeBadExtensions):
		kind = ErrBadExtension
	case errors.Is(err, ws.ErrHandshakeBadUpgrade), errors.Is(err, ws.ErrHandshakeBadConnection):
		kind = ErrBadUpgrade
	case errors.Is(err, ws.ErrMalformedResponse), errors.Is(err, ws.ErrHandshakeBadProtocol):
		kind = ErrBadResponse
	}
	if kind == err {
		return fmt.Errorf("wsactor: failed to connect: %w", err)
	}
	return fmt.Errorf("wsactor: failed to connect: %w: %w", kind, err)
}
