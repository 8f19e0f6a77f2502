package wsactor

import "time"

// Default limits. Every one can be changed with an option; the memory a
// connection holds is bounded by them whatever the peer and the consumer do:
// roughly EventBytes (undelivered messages) + MaxMessageSize (the message
// being read) + SendQueueBytes (unwritten frames) + 256 KiB (messages parsed
// while more were waiting, not yet handed over) + a few KiB of buffers.
const (
	// DefaultMaxMessageSize is the largest message accepted (R's default).
	// A message of exactly this size passes; one byte more fails the
	// connection with 1009.
	DefaultMaxMessageSize = 32 << 20
	// DefaultHandshakeTimeout bounds the TCP connect, TLS and HTTP upgrade.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultCloseTimeout bounds the closing handshake.
	DefaultCloseTimeout = 5 * time.Second
	// DefaultWriteTimeout bounds one write to the socket; a peer that stops
	// reading fails the connection after it.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultEventBuffer is the capacity of the Events() channel (without
	// WithBatchDelivery or a first Receive).
	DefaultEventBuffer = 32
	// DefaultReceiveEventBuffer is its capacity when Receive consumes the
	// connection first (see WithEventBuffer): a Receive that waits reads
	// the socket itself, and one that finds messages streaming in reads
	// the next ones itself too, so the channel only holds what arrives
	// between calls; a deeper one is memory that every idle connection
	// keeps (BenchmarkReceive/*/receive measures the same with 8 slots as
	// with 32).
	DefaultReceiveEventBuffer = 8
	// DefaultBatchEventBuffer is its capacity with WithBatchDelivery: a
	// Batch carries up to 256 messages, so eight events already hold a
	// backlog of up to 2048 messages, and each slot more is 16 bytes that
	// every connection keeps, idle or not. Server push measures the same
	// with 8 slots as with 32 (BenchmarkReceive/*/batch).
	DefaultBatchEventBuffer = 8
	// DefaultEventBytes is the byte budget of undelivered messages.
	DefaultEventBytes = 64 << 20
	// DefaultSendQueue is how many messages may wait to be written.
	DefaultSendQueue = 1024
	// DefaultSendQueueBytes is how many encoded bytes may wait to be written.
	DefaultSendQueueBytes = 4 << 20
	// DefaultMaxResponseHeaderBytes bounds the size of the handshake response
	// head (status line and headers).
	DefaultMaxResponseHeaderBytes = 64 << 10
	// DefaultIdleDetach is how long an idle connection's actor waits for
	// the next frame before its goroutine exits (see WithIdleDetach).
	DefaultIdleDetach = 20 * time.Millisecond
)

// defaultIdleDetach is DefaultIdleDetach; tests may change it (export_test.go).
var defaultIdleDetach = DefaultIdleDetach

// limits is the resolved set of limits of one connection. The config
// keeps all of them; the Conn keeps only connLimits, those it consults
// once the handshake is over.
type limits struct {
	connLimits
	handshakeTimeout time.Duration
	maxResponseHead  int
	eventBuffer      int // the channel's capacity (less one) says it after New
}

// connLimits are the limits an open connection consults.
type connLimits struct {
	maxMessageSize int64
	closeTimeout   time.Duration
	writeTimeout   time.Duration
	eventBytes     int64
	sendQueue      int
	sendQueueBytes int64
	pingInterval   time.Duration
	pongTimeout    time.Duration
	idleDetach     time.Duration // < 0: never
	holdPeriod     time.Duration // the first hold period (receive.go); tests may change it
}

func defaultLimits() limits {
	return limits{
		connLimits: connLimits{
			maxMessageSize: DefaultMaxMessageSize,
			closeTimeout:   DefaultCloseTimeout,
			writeTimeout:   DefaultWriteTimeout,
			eventBytes:     DefaultEventBytes,
			sendQueue:      DefaultSendQueue,
			sendQueueBytes: DefaultSendQueueBytes,
			idleDetach:     defaultIdleDetach,
			holdPeriod:     holdPeriod,
		},
		handshakeTimeout: DefaultHandshakeTimeout,
		maxResponseHead:  DefaultMaxResponseHeaderBytes,
		eventBuffer:      DefaultEventBuffer,
	}
}

func (l *limits) validate() error {
	neg := func(name string, v int64) error {
		if v < 0 {
			return &ConfigError{Field: "limit", Value: name, Msg: "must not be negative"}
		}
		return nil
	}
	for _, c := range []struct {
		n string
		v int64
	}{
		{"MaxMessageSize", l.maxMessageSize},
		{"HandshakeTimeout", int64(l.handshakeTimeout)},
		{"CloseTimeout", int64(l.closeTimeout)},
		{"WriteTimeout", int64(l.writeTimeout)},
		{"EventBytes", l.eventBytes},
		{"SendQueueBytes", l.sendQueueBytes},
		{"PingInterval", int64(l.pingInterval)},
		{"PongTimeout", int64(l.pongTimeout)},
	} {
		if err := neg(c.n, c.v); err != nil {
			return err
		}
	}
	if l.eventBuffer < 1 {
		return &ConfigError{Field: "limit", Value: "EventBuffer", Msg: "must be at least 1"}
	}
	if l.sendQueue < 1 {
		return &ConfigError{Field: "limit", Value: "SendQueue", Msg: "must be at least 1"}
	}
	if l.maxResponseHead < 256 {
		return &ConfigError{Field: "limit", Value: "MaxResponseHeaderBytes", Msg: "must be at least 256"}
	}
	return nil
}
