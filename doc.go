// Package wsactor is a WebSocket client (RFC 6455) built as an actor: each
// connection is one goroutine that owns the socket's read side, parses
// frames with github.com/gobwas/ws and delivers a typed Event union on a
// bounded channel. It offers the client interface of R's websocket package
// (open, message, close and error events; send; close with code and
// reason; readyState; subprotocols; headers; maxMessageSize;
// websocketpp-style log channels), done the Go way.
//
// # Connecting
//
// New validates a URL and options without touching the network; Connect
// starts the actor; Dial does both and returns once the connection is open
// or the opening handshake failed. Every handshake failure is typed:
// ErrDNS, ErrRefused, ErrTLS, ErrHandshakeTimeout, ErrBadAccept,
// ErrBadSubprotocol, ErrBadExtension, ErrBadUpgrade, ErrResponseTooLarge,
// or a *HandshakeError with the status, headers and the first 1 KiB of the
// body of a non-101 reply. wss verifies certificates and host names unless a
// *tls.Config given with WithTLSConfig says otherwise.
//
// # Events
//
// Events() delivers *Open, then every *Message in wire order (fragments
// reassembled, text validated as UTF-8, the receiver owns Data), then
// exactly one terminal event: *Close for a connection that opened, *Error
// for one whose handshake failed. The channel is closed right after the
// terminal event. Close carries the peer's code and reason (1005 for an
// empty close frame, 1006 when none arrived), whether the closing handshake
// was clean, the code this side sent, and the local cause (ErrMessageTooBig,
// ErrInvalidUTF8, *ProtocolError, ErrCloseTimeout, ErrAborted, a net error).
//
// For high message rates, (*Message).Release hands a message's struct and
// buffer back for reuse (a releasing consumer receives without allocating),
// and WithBatchDelivery delivers a backlog as one *Batch event.
//
// A select loop is the primary interface:
//
//	for ev := range c.Events() {
//		switch e := ev.(type) {
//		case *wsactor.Message:
//			handle(e.Data)
//		case *wsactor.Close:
//			log.Println("closed", e.Code, e.Err)
//		}
//	}
//
// OnOpen, OnMessage, OnClose and OnError are an adapter over the same
// channel: a dispatcher goroutine, running only while the connection is
// busy (it waits for the next event while the actor lingers before
// parking), calls the handlers in registration order.
//
// Receive(ctx) returns the same stream one event at a time, for clients
// that wait for each reply: while the connection is quiet the caller's
// goroutine runs the actor's read loop itself, so a reply costs no
// goroutine hand-off. Between calls the actor is held; after a hold period
// without a Receive (250 ms, growing to half a second while Receive keeps
// coming) its own goroutine reads again (pings, the closing handshake).
// Use one style per connection.
//
// # Concurrency
//
// Every method of Conn is safe for concurrent use. Send may be called from
// any number of goroutines; each message is one frame, written whole. Pings
// are answered by the actor, close frames are handled by it, and no
// goroutine of a connection outlives its terminal event: the actor and the
// callback dispatcher run in an errgroup, the writer goroutine exists only
// while frames are queued, and Done is closed when all have returned.
//
// # Idle connections
//
// On Linux an idle ws:// connection's actor goroutine exits after a short
// linger (WithIdleDetach, default 20 ms) and one epoll instance shared by
// all connections resumes it, on a fresh goroutine of the same errgroup,
// when a frame arrives, the peer goes away, Close or Abort is called, a
// write fails or a deadline passes. With callbacks, whose dispatcher also
// runs only on demand, an idle connection holds no goroutine at all.
//
// # Backpressure and limits
//
// The event channel is bounded by count (WithEventBuffer) and bytes
// (WithEventBytes). When it is full the inbound Policy decides: Block
// (default) stops reading so TCP flow control slows the server, DropNewest
// and DropOldest drop and count, Disconnect closes with 1008. The send
// queue is bounded too (WithSendQueue): Send waits for room until its
// context ends, TrySend fails fast with ErrQueueFull. Queued frames are
// coalesced into one write. So the memory a connection holds is bounded by
// its limits whatever the peer or the consumer does. Incoming messages are
// limited by WithMaxMessageSize (default 32 MiB; larger fails with 1009),
// and buffers grow as bytes arrive, never on a length the peer declared.
//
// # Closing
//
// Close(code, reason) validates its arguments before changing any state, is
// idempotent, does not block, and runs the closing handshake bounded by the
// close timeout. Called before the handshake completes it suppresses Open and
// sends the given code once connected. Abort ends the connection at once.
// After Close or Abort the connection ends even if nobody reads Events().
//
// # Logs
//
// Access and error log channels carry websocketpp's names (connect,
// disconnect, control, frame_header, message_header, ... and devel,
// library, info, warn, rerror, fatal). They are set with WithAccessLog and
// WithErrorLog, changed at runtime with SetAccessLogChannels and friends,
// and written through a *slog.Logger with the channel as an attribute.
package wsactor
