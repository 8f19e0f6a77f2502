package wsactor

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Option configures a connection. Options are applied and validated by New;
// an invalid value makes New return a *ConfigError.
type Option func(*config)

type config struct {
	url            *url.URL // set by New
	protocols      []string
	header         http.Header
	host           string
	tlsConfig      *tls.Config
	netDial        func(ctx context.Context, network, addr string) (net.Conn, error)
	lim            limits
	policy         Policy
	batchDelivery  bool
	eventBufferSet bool // WithEventBuffer was given
	accessLog      []string
	errorLog       []string
	errorLogSet    bool
	logger         *slog.Logger

	// The opening handshake's state (the config lives only as long as it).
	// opened, set by Dial before Connect, is closed when the handshake has
	// ended either way; dialErr holds its error (written before the close).
	opened  chan struct{}
	dialErr error
	cancel  context.CancelFunc // cancels the dial (guarded by Conn.mu): Abort
	// closeReason is the reason of a Close called while connecting (guarded
	// by Conn.mu); the close frame goes out once the handshake is over.
	closeReason string
	nc          net.Conn // the socket once dialed (guarded by Conn.mu): Abort closes it
}

// WithProtocols offers subprotocols to the server, in order of preference.
// Each must be a non-empty HTTP token; duplicates are rejected.
func WithProtocols(protocols ...string) Option {
	return func(c *config) { c.protocols = append(c.protocols, protocols...) }
}

// WithHeader adds headers to the opening handshake request. Names must be
// HTTP tokens and values free of CR, LF and NUL. Headers the library owns
// (Sec-WebSocket-*, Upgrade, Connection, Host) are rejected; use WithHost
// for Host.
func WithHeader(h http.Header) Option {
	return func(c *config) {
		if c.header == nil {
			c.header = http.Header{}
		}
		for k, vs := range h {
			c.header[k] = append(c.header[k], vs...)
		}
	}
}

// WithHost sets the Host header of the request (default: the URL's host).
func WithHost(host string) Option { return func(c *config) { c.host = host } }

// WithTLSConfig sets the TLS configuration for wss URLs: root CAs, client
// certificates, minimum version. Certificates and host names are verified
// unless the config sets InsecureSkipVerify, the only way to turn that off.
func WithTLSConfig(cfg *tls.Config) Option { return func(c *config) { c.tlsConfig = cfg } }

// WithNetDial replaces the function that opens the TCP connection (for
// proxies, custom resolvers or tests that wrap the net.Conn).
func WithNetDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) Option {
	return func(c *config) { c.netDial = dial }
}

// WithMaxMessageSize sets the largest accepted incoming message, in bytes
// (default 32 MiB). 0 allows only empty messages. A larger message fails the
// connection with close code 1009.
func WithMaxMessageSize(n int64) Option { return func(c *config) { c.lim.maxMessageSize = n } }

// WithHandshakeTimeout bounds the opening handshake (default 10 s; 0 = only
// the Connect context bounds it).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.lim.handshakeTimeout = d }
}

// WithCloseTimeout bounds the closing handshake (default 5 s).
func WithCloseTimeout(d time.Duration) Option { return func(c *config) { c.lim.closeTimeout = d } }

// WithWriteTimeout bounds each socket write (default 30 s; 0 = none). A
// write that times out fails the connection with ErrWriteTimeout.
func WithWriteTimeout(d time.Duration) Option { return func(c *config) { c.lim.writeTimeout = d } }

// WithEventBuffer sets how many events the Events() channel holds. The
// default is 32 (DefaultEventBuffer), or 8 with WithBatchDelivery, or 8
// when the connection's first consumer is Receive: without this option
// (and without WithBatchDelivery) the channel is made by the first call
// of Events(), a callback registration or Receive, or, if a message
// arrives before any of them, by the actor with 32. The channel has one
// more slot, kept for the terminal event; under the Block policy a message
// may take it too.
func WithEventBuffer(n int) Option {
	return func(c *config) { c.lim.eventBuffer, c.eventBufferSet = n, true }
}

// WithEventBytes sets the byte budget of messages delivered to the channel
// but not yet received (default 64 MiB). A single message larger than the
// budget is still delivered when the channel is empty.
func WithEventBytes(n int64) Option { return func(c *config) { c.lim.eventBytes = n } }

// WithSendQueue bounds the outbound queue by message count and encoded bytes
// (defaults 1024 and 4 MiB). A message larger than the byte bound is still
// accepted when the queue is empty.
func WithSendQueue(messages int, bytes int64) Option {
	return func(c *config) { c.lim.sendQueue, c.lim.sendQueueBytes = messages, bytes }
}

// WithBatchDelivery lets the connection deliver a *Batch event holding
// several messages when more than one is ready at once (a backlog), instead
// of one Message event each. For consumers of high-rate streams of small
// messages: it divides the channel operations and wake-ups by up to 256.
// Callbacks are unaffected (OnMessage runs for each message of a batch).
// Unless WithEventBuffer says otherwise, the channel then holds
// DefaultBatchEventBuffer (8) events.
func WithBatchDelivery() Option { return func(c *config) { c.batchDelivery = true } }

// WithMaxResponseHeaderBytes bounds the handshake response's status line and
// headers (default 64 KiB); a larger response fails with ErrResponseTooLarge.
func WithMaxResponseHeaderBytes(n int) Option {
	return func(c *config) { c.lim.maxResponseHead = n }
}

// WithKeepalive sends a ping after interval of silence from the peer and
// fails the connection (close 1008, ErrPongTimeout) when nothing arrives
// within timeout after it. Off by default.
func WithKeepalive(interval, timeout time.Duration) Option {
	return func(c *config) { c.lim.pingInterval, c.lim.pongTimeout = interval, timeout }
}

// WithIdleDetach sets how long a connection with nothing to read keeps its
// actor goroutine before the goroutine exits and the socket is watched by
// one poller shared by all connections (Linux, plain ws:// sockets): the
// actor parks after one to two periods of this length without a frame
// (default 20 ms). Thousands of idle connections then cost no goroutine,
// stack or read buffer; a frame, Close, Abort or a keepalive deadline
// starts a fresh goroutine where the old one stopped, which costs a few
// microseconds once per idle period. On a busy connection the period
// doubles each time it passes with frames, up to half a second (or after,
// if longer), and starts again from after once the actor has parked: a
// connection that was busy parks within about a second of going quiet,
// and a busy one pays a deadline update a couple of times a second rather
// than one per period. 0 detaches as soon as the socket is empty; a
// negative value never detaches.
func WithIdleDetach(after time.Duration) Option {
	return func(c *config) { c.lim.idleDetach = after }
}

// WithAccessLog enables access log channels at creation (default "none").
func WithAccessLog(channels ...string) Option {
	return func(c *config) { c.accessLog = append(c.accessLog, channels...) }
}

// WithErrorLog sets the error log channels at creation (default
// library, info, warn, rerror, fatal).
func WithErrorLog(channels ...string) Option {
	return func(c *config) { c.errorLog = append(c.errorLog, channels...); c.errorLogSet = true }
}

// WithLogger sets the logger (default: a text handler on stderr). Each record
// has the attributes log (access or error), channel and url.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// parseURL validates a ws/wss URL.
func parseURL(raw string) (*url.URL, error) {
	bad := func(msg string) error { return &ConfigError{Field: "url", Value: raw, Msg: msg} }
	if strings.ContainsAny(raw, " \t\r\n\x00") {
		return nil, bad("contains white space or control characters")
	}
	if strings.Contains(raw, "#") {
		return nil, bad("fragments are not allowed in WebSocket URLs")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad(err.Error())
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, bad("scheme must be ws or wss")
	}
	if u.Opaque != "" {
		return nil, bad("URL must be absolute (ws://host/...)")
	}
	if u.User != nil {
		return nil, bad("user information is not supported; send an Authorization header instead")
	}
	if u.Hostname() == "" {
		return nil, bad("host is missing")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("port must be 1..65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, bad("empty port")
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func validateHeader(h http.Header) (http.Header, error) {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if !isToken(k) {
			return nil, &ConfigError{Field: "header", Value: k, Msg: "name is not an HTTP token"}
		}
		ck := textproto.CanonicalMIMEHeaderKey(k)
		switch {
		case strings.HasPrefix(ck, "Sec-Websocket-"), ck == "Upgrade", ck == "Connection":
			return nil, &ConfigError{Field: "header", Value: k, Msg: "is set by the library"}
		case ck == "Host":
			return nil, &ConfigError{Field: "header", Value: k, Msg: "use WithHost to set Host"}
		}
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, &ConfigError{Field: "header", Value: k, Msg: "value contains CR, LF or NUL"}
			}
		}
		out[ck] = append(out[ck], vs...)
	}
	return out, nil
}

func validateProtocols(ps []string) error {
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		if !isToken(p) {
			return &ConfigError{Field: "protocol", Value: p, Msg: "must be a non-empty HTTP token"}
		}
		if seen[p] {
			return &ConfigError{Field: "protocol", Value: p, Msg: "offered twice"}
		}
		seen[p] = true
	}
	return nil
}
