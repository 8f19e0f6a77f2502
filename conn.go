package wsactor

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/sync/errgroup"
)

// Conn is one WebSocket client connection. It is created by New (or Dial),
// started once by Connect, and ends with exactly one terminal event.
//
// Ownership: the actor goroutine started by Connect owns the socket's read
// side and every state transition caused by the peer; the write side belongs
// to the writer (writer.go). All exported methods are safe for concurrent use.
type Conn struct {
	hs     *config // handshake options and URL; dropped once the handshake ends
	lim    connLimits
	logs   logs
	events chan Event
	w      writer
	stats  counters
	cb     atomic.Pointer[callbacks] // made by the first On* registration
	group  errgroup.Group

	ac actor // the actor's state (only the actor touches it before actOn is set)

	state    atomic.Int32  // a ReadyState
	actOn    atomic.Bool   // the actor runs its read loop: act returns it
	timerOps atomic.Uint32 // hold timer and linger deadline set or fired (tests: they back off)

	// Receive (receive.go).
	pull       atomic.Int32  // pullNone, pullHeld or pullBusy: who runs the actor
	pullMode   atomic.Bool   // a Receive waited for a reply: an idle actor leaves reading to it
	pullWant   atomic.Int32  // Receive calls waiting for an event
	recvStream atomic.Bool   // the last Receive found a message already waiting (a stream)
	ending     atomic.Bool   // stopped or failed (set under mu before the actor is woken)
	pulls      atomic.Uint64 // Receive calls that ran the actor
	recvSent   atomic.Uint64 // stats.msgsOut answered: sent before the last Receive that returned a message
	pullReady  chan struct{} // a Receive may take the actor (made by the first Receive)

	mu             sync.Mutex // guards the fields below but batch and policy
	batch          bool       // WithBatchDelivery (set by New; placed here to pack with the flags)
	policy         uint8      // the inbound Policy (set by New; a byte, to pack with the flags)
	closeRequested bool
	stopped        bool // Close or Abort was called: stop waiting for the consumer
	aborted        bool
	ended          bool       // every goroutine of the connection has returned
	closeCode      StatusCode // with closeRequested
	nc             net.Conn   // set once, before the actor and the writer use it (they read it unlocked)
	closeDeadline  monoTime
	stop           chan struct{} // closed when stopped becomes true; made by stopCh
	cause          error         // first local failure (write error, abort)
	live           int           // running goroutines in group
	protocol       string
	terminal       Event
	done           chan struct{} // closed once ended; made by Done
}

// New validates url and options and returns an idle connection; nothing
// touches the network until Connect. Every invalid input is reported here as
// a *ConfigError: the URL (scheme ws or wss, host, port 1..65535, no
// fragment), header names and values, library-owned headers, subprotocols,
// limits and log channel names.
func New(rawURL string, opts ...Option) (*Conn, error) {
	cfg := config{lim: defaultLimits()}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if cfg.header != nil {
		if cfg.header, err = validateHeader(cfg.header); err != nil {
			return nil, err
		}
	}
	if strings.ContainsAny(cfg.host, "\r\n\x00 ") {
		return nil, &ConfigError{Field: "host", Value: cfg.host, Msg: "contains white space or control characters"}
	}
	if err := validateProtocols(cfg.protocols); err != nil {
		return nil, err
	}
	if cfg.batchDelivery && !cfg.eventBufferSet {
		cfg.lim.eventBuffer = DefaultBatchEventBuffer
	}
	if err := cfg.lim.validate(); err != nil {
		return nil, err
	}
	if cfg.policy < Block || cfg.policy > Disconnect {
		return nil, &ConfigError{Field: "policy", Value: cfg.policy.String(), Msg: "unknown inbound policy"}
	}
	access, err := channelBits("access", accessChannels, cfg.accessLog)
	if err != nil {
		return nil, err
	}
	errs := defaultErrorChannels
	if cfg.errorLogSet {
		if errs, err = channelBits("error", errorChannels, cfg.errorLog); err != nil {
			return nil, err
		}
	}
	cfg.url = u
	c := &Conn{
		hs:     &cfg,
		lim:    cfg.lim.connLimits,
		policy: uint8(cfg.policy),
		batch:  cfg.batchDelivery,
	}
	if cfg.batchDelivery || cfg.eventBufferSet {
		c.events = make(chan Event, cfg.lim.eventBuffer+1) // +1: see deliverMessage
	} else {
		c.events = make(chan Event, 1) // provisional: see eventsFor
	}
	c.state.Store(int32(StateIdle))
	c.logs.access.Store(access)
	c.logs.errs.Store(errs)
	c.logs.logger = cfg.logger
	if c.logs.logger == nil {
		c.logs.logger = defaultLogger()
	}
	c.logs.url = u.String()
	c.w.init(c)
	return c, nil
}

// Dial creates a connection and connects it: New followed by Connect. It
// returns when the connection is open or the opening handshake has failed;
// in the second case the error is the handshake error (the same as the
// Error event's) and the returned *Conn, if any, has ended. The Open event
// is still delivered on Events(), so a select loop sees the whole story.
func Dial(ctx context.Context, rawURL string, opts ...Option) (*Conn, error) {
	c, err := New(rawURL, opts...)
	if err != nil {
		return nil, err
	}
	hs := c.hs // the actor drops c.hs when the handshake ends
	opened := make(chan struct{})
	hs.opened = opened // before Connect: the actor closes it (see run)
	if err := c.Connect(ctx); err != nil {
		return c, err
	}
	select {
	case <-opened:
	case <-ctx.Done():
		// The actor sees the same ctx and fails the handshake promptly.
		<-opened
	}
	return c, hs.dialErr
}

// Connect starts the connection's actor and returns at once; the outcome
// arrives as an Open or Error event. ctx bounds the opening handshake only
// (as net.Dialer's does): cancelling it later does not affect an open
// connection. A second Connect returns ErrAlreadyConnected; Connect after
// Close on an idle connection returns ErrClosed.
func (c *Conn) Connect(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ReadyState(c.state.Load()) {
	case StateIdle:
	case StateClosed:
		if c.live == 0 && c.terminal == nil {
			return ErrClosed
		}
		return ErrAlreadyConnected
	default:
		return ErrAlreadyConnected
	}
	c.state.Store(int32(StateConnecting))
	c.live++
	c.group.Go(func() error {
		c.run(ctx)
		return nil
	})
	return nil
}

// Events returns the connection's event channel. It is bounded (see
// WithEventBuffer and WithEventBytes) and closed right after the terminal
// event. Callbacks (OnOpen...) and Receive consume this same channel: use
// one of the three per connection.
func (c *Conn) Events() <-chan Event { return c.eventsFor(DefaultEventBuffer) }

// The event channel of a connection with the default event buffer is made
// by its first consumer: Events() or a callback registration with
// DefaultEventBuffer slots, a Receive with DefaultReceiveEventBuffer (see
// WithEventBuffer), or the actor with DefaultEventBuffer when it has more
// than the Open to deliver first. Until then the connection holds a
// provisional channel with one slot, for the Open event. A made channel has
// at least two slots (the buffer is at least one, plus the terminal's), so
// a capacity of one marks the provisional channel. The field changes once,
// under c.mu; whoever reads it without c.mu loads it atomically (evch).

// evch returns the event channel as it is now.
func (c *Conn) evch() chan Event {
	p := atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(&c.events)))
	return *(*chan Event)(unsafe.Pointer(&p))
}

// eventsFor returns the event channel, made with n slots (plus the
// terminal's) if it was still provisional.
func (c *Conn) eventsFor(n int) chan Event {
	if ch := c.evch(); cap(ch) != 1 {
		return ch
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eventsLocked(n)
}

// eventsLocked is eventsFor with c.mu held.
func (c *Conn) eventsLocked(n int) chan Event {
	ch := c.events
	if cap(ch) != 1 {
		return ch
	}
	made := make(chan Event, n+1)
	select {
	case ev := <-ch: // the Open (the actor sends it under c.mu)
		made <- ev
	default:
	}
	atomic.StorePointer((*unsafe.Pointer)(unsafe.Pointer(&c.events)), *(*unsafe.Pointer)(unsafe.Pointer(&made)))
	return made
}

// ReadyState reports the connection's state. Send decides with this same
// state: it succeeds only while ReadyState is StateOpen.
func (c *Conn) ReadyState() ReadyState { return ReadyState(c.state.Load()) }

// Protocol returns the subprotocol the server selected ("" before Open or
// when none was selected).
func (c *Conn) Protocol() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.protocol
}

// URL returns the connection's URL.
func (c *Conn) URL() string { return c.logs.url }

// Done returns a channel closed when the connection has ended: the terminal
// event is in the channel, the socket is closed and every goroutine of the
// connection (including the callback dispatcher) has returned.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil { // made on first use: most connections are never asked
		c.done = make(chan struct{})
		if c.ended {
			close(c.done)
		}
	}
	return c.done
}

// endedLocked marks the connection ended and closes Done if it was made.
func (c *Conn) endedLocked() {
	c.ended = true
	if c.done != nil {
		close(c.done)
	}
}

// Wait blocks until Done and returns the terminal event (*Close or *Error).
// For a connection closed while idle it returns nil.
func (c *Conn) Wait() Event {
	<-c.Done()
	_ = c.group.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.terminal
}

// Send queues one message for writing. It is safe from any number of
// goroutines; each message is written as one whole frame, never interleaved
// with another, and the caller may reuse p as soon as Send returns. When
// the send queue is full Send waits for room until ctx is done. It returns
// ErrNotOpen outside StateOpen and ErrInvalidUTF8 for text that is not valid
// UTF-8 (nothing is sent).
func (c *Conn) Send(ctx context.Context, typ MessageType, p []byte) error {
	if err := c.checkSend(typ, p); err != nil {
		return err
	}
	return c.w.enqueue(ctx, byte(typ), p, true)
}

// SendText sends a text message (see Send).
func (c *Conn) SendText(ctx context.Context, s string) error {
	// The conversion does not escape: the bytes are copied into the queue.
	return c.Send(ctx, Text, []byte(s))
}

// SendBinary sends a binary message (see Send).
func (c *Conn) SendBinary(ctx context.Context, p []byte) error { return c.Send(ctx, Binary, p) }

// TrySend is Send that never waits: it returns ErrQueueFull at once when the
// send queue has no room.
func (c *Conn) TrySend(typ MessageType, p []byte) error {
	if err := c.checkSend(typ, p); err != nil {
		return err
	}
	return c.w.enqueue(context.Background(), byte(typ), p, false)
}

func (c *Conn) checkSend(typ MessageType, p []byte) error {
	if ReadyState(c.state.Load()) != StateOpen {
		return ErrNotOpen
	}
	switch typ {
	case Text:
		if !utf8.Valid(p) {
			return ErrInvalidUTF8
		}
	case Binary:
	default:
		return &ConfigError{Field: "message type", Value: typ.String(), Msg: "must be Text or Binary"}
	}
	return nil
}

// Close starts the closing handshake with code and reason. The code must be
// sendable (1000-1003, 1007-1014, 3000-4999) and the reason at most 123
// bytes of valid UTF-8; otherwise Close returns a *CloseError and changes
// nothing. Close is idempotent (nil while closing or closed) and does not
// block: completion is the Close event (see Done and Wait), bounded by the
// close timeout. Before the handshake has finished, Close suppresses the
// Open event and sends code and reason as soon as the connection opens. On
// an idle connection it moves straight to StateClosed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if !validWireCode(code) {
		return &CloseError{Code: code, Reason: reason, Msg: "code may not be sent (use 1000-1003, 1007-1014 or 3000-4999)"}
	}
	if len(reason) > 123 {
		return &CloseError{Code: code, Reason: reason, Msg: "reason longer than 123 bytes"}
	}
	if !utf8.ValidString(reason) {
		return &CloseError{Code: code, Reason: reason, Msg: "reason is not valid UTF-8"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch ReadyState(c.state.Load()) {
	case StateIdle:
		c.state.Store(int32(StateClosed))
		c.stopLocked()
		close(c.eventsLocked(DefaultEventBuffer))
		c.endedLocked()
		return nil
	case StateConnecting:
		c.closeRequested, c.closeCode = true, code
		if c.hs != nil {
			c.hs.closeReason = reason // sent once the handshake is over (run)
		}
		c.state.Store(int32(StateClosing))
		c.stopLocked()
		return nil
	case StateOpen:
		c.closeRequested, c.closeCode = true, code
		if !c.w.enqueueClose(code, reason) {
			return nil // the actor is already closing
		}
		c.state.Store(int32(StateClosing))
		c.stopLocked()
		c.armCloseTimeoutLocked()
		if c.logs.on(logDebugClose) {
			c.logs.alog(logDebugClose, "close requested", codeAttr("code", code), strAttr("reason", reason))
		}
		return nil
	}
	return nil
}

// Abort ends the connection at once without a closing handshake. The
// terminal event is a Close with code 1006 and Err ErrAborted (an Error
// with ErrAborted while connecting). Idempotent.
func (c *Conn) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ReadyState(c.state.Load()) == StateIdle {
		c.state.Store(int32(StateClosed))
		c.stopLocked()
		close(c.eventsLocked(DefaultEventBuffer))
		c.endedLocked()
		return
	}
	if c.aborted || ReadyState(c.state.Load()) == StateClosed {
		return
	}
	c.aborted = true
	if c.cause == nil {
		c.cause = ErrAborted
	}
	c.stopLocked()
	if hs := c.hs; hs != nil {
		if hs.cancel != nil {
			hs.cancel() // the dial
		}
		if hs.nc != nil {
			_ = hs.nc.Close() // the upgrade
		}
	}
	c.closeSocketLocked()
}

// closeSocketLocked closes the socket so that the actor's read returns,
// waking the actor if it is parked in the shared poller (Abort, fail).
func (c *Conn) closeSocketLocked() {
	if c.nc != nil {
		_ = c.nc.Close()
	}
	c.wakeActorLocked()
}

// wakeActorLocked resumes the actor if it is parked in the shared poller or
// held between Receive calls, so that it sees what just changed (socket
// closed, close deadline set).
func (c *Conn) wakeActorLocked() {
	if a := c.act(); a != nil {
		a.unpark()
	}
}

func (c *Conn) stopLocked() {
	if !c.stopped {
		c.stopped = true
		c.ending.Store(true)
		if c.stop != nil {
			close(c.stop)
		}
	}
}

// armCloseTimeoutLocked bounds the closing handshake: the actor's blocked
// read returns when the deadline passes.
func (c *Conn) armCloseTimeoutLocked() {
	if !c.closeDeadline.IsZero() || c.nc == nil {
		return
	}
	c.closeDeadline = monoNow().Add(c.lim.closeTimeout)
	_ = c.nc.SetReadDeadline(c.closeDeadline.Time())
	c.wakeActorLocked()
}

// fail records the first local cause of failure and closes the socket so
// that the actor's read returns. Used by the writer and Abort.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cause == nil {
		c.cause = err
	}
	c.ending.Store(true)
	c.closeSocketLocked()
}

func (c *Conn) localCause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cause
}
