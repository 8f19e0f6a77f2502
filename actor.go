package wsactor

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// Frame opcodes (RFC 6455 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// actor is the state the actor goroutine keeps while reading. Only that
// goroutine touches it.
type actor struct {
	c *Conn
	*actorHot
	// rc is the socket's RawConn (nil for TLS, wrapped conns, non-Unix),
	// set before the writer opens and never changed: the reading state's
	// raw helper and the writer's raw writer are made from it, and Receive
	// callers and the writer read it.
	rc syscall.RawConn

	// Message being reassembled.
	msg     []byte
	cur     *Message // the Message a.msg is being read into, if sized
	u8      utf8Stream
	inMsg   bool
	msgType MessageType

	closeSent    bool // our close frame is queued
	closeRecvd   bool // the peer's close frame arrived
	peerCode     StatusCode
	failCode     StatusCode // code we failed the connection with, 0 if none
	badPeerClose bool       // the peer's close frame had an invalid code
	pingOut      bool       // keepalive ping outstanding
	payFin       bool       // the current data frame ends its message (see payLeft)
	peerReason   string
	failErr      error

	flight inflight

	// Read deadlines (see setDeadline). Only the actor touches these.
	kaDeadline monoTime      // keepalive: when the next ping or the pong is due; zero when off
	lingerDL   monoTime      // the idle linger deadline set on the socket; zero when none
	lingerFor  time.Duration // the linger period: idleDetach, doubled per busy period (armLinger)
	idleReads  uint32        // reads that ended an idle wait
	armReads   uint32        // idleReads when the linger deadline was set
	park       parkState     // registration with the shared poller (idle detach)

	// The data frame being read (see payload): a puller may stop between
	// reads, and whoever runs the actor next goes on from here.
	payLeft int64 // payload bytes of the current data frame not yet read

	pullState // Receive runs the actor in its caller's goroutine (receive.go)
}

// act returns the connection's actor once it runs its read loop (its
// unpark wakes it when parked), nil before.
func (c *Conn) act() *actor {
	if c.actOn.Load() {
		return &c.ac
	}
	return nil
}

// actorHot is the actor's reading state: what it needs only while it runs
// (reads frames, builds and batches messages). An actor that parks in the
// shared poller gives it back to hotPool and takes one again when it
// resumes (takeHot), so an idle connection keeps none of it, and the raw
// socket helper in it comes with its read functions already bound. An actor
// that never parks (TLS, wrapped conns, non-Unix, idle detach off) keeps
// its own.
type actorHot struct {
	rd    frameReader
	rawv  rawIO       // rd.raw points here when the socket is raw
	h     frameHeader // the frame being handled
	alloc payloadAlloc

	batch      []*Message // parsed, not yet handed over (see queue)
	batchBytes int        // payload bytes in batch

	inMsgs, inBytes uint64 // received, not yet added to c.stats (see publish)
}

var hotPool = sync.Pool{New: func() any { return new(actorHot) }}

// takeHot gives the actor that is about to run its reading state.
func (a *actor) takeHot() {
	if a.actorHot != nil {
		return
	}
	h := hotPool.Get().(*actorHot)
	h.rd.nc, h.rd.a = a.c.nc, a
	if a.rc != nil {
		h.rawv.init(a.rc, &h.rd)
		h.rd.raw = &h.rawv
	}
	a.actorHot = h
}

// dropHot detaches the reading state of an actor about to park, or
// returns nil (and keeps it) when it holds anything the next run needs:
// bytes read but not parsed, messages not handed over, an error a peek
// saw. The caller puts it back in hotPool once the actor is parked, or
// gives it back to the actor if it could not park.
func (a *actor) dropHot() *actorHot {
	h := a.actorHot
	if h == nil || h.rd.buffered() > 0 || len(h.batch) > 0 || h.inMsgs > 0 || h.rawv.hasPending() {
		return nil
	}
	a.actorHot = nil
	return h
}

// putHot returns h to hotPool, empty.
func putHot(h *actorHot) {
	h.reset()
	hotPool.Put(h)
}

// reset empties h for the next actor: the read buffer and the released
// messages taken for reuse go back to their shared pools, the batch array
// and the allocator's slabs are dropped; the raw helper's bound read
// functions and the (empty) stock array stay.
func (h *actorHot) reset() {
	h.rd.releaseBuf()
	h.alloc.returnStock()
	stock := h.alloc.stock
	h.rawv.reset()
	h.rd = frameReader{}
	h.h = frameHeader{}
	h.alloc = payloadAlloc{stock: stock}
	h.batch, h.batchBytes = nil, 0
}

// errParked ends a read loop whose actor parked in the shared poller: the
// goroutine returns and a fresh one continues when the socket is ready.
var errParked = errors.New("wsactor: actor parked")

// run is the actor: the opening handshake, then the read loop, then the
// terminal event. It is the only goroutine that reads the socket.
func (c *Conn) run(ctx context.Context) {
	hr, err := c.handshake(ctx)
	hs := c.hs
	c.mu.Lock()
	c.hs = nil // only the handshake needs it
	if err == nil && c.aborted {
		_ = hr.nc.Close()
		err = ErrAborted
	}
	if err != nil {
		if c.aborted {
			err = ErrAborted
		}
		c.mu.Unlock()
		if c.logs.eon(elogRerror) {
			c.logs.elog(elogRerror, "opening handshake failed", errAttr(err))
		}
		if c.logs.on(logFail) {
			c.logs.alog(logFail, "connection failed", errAttr(err))
		}
		hs.dialErr = err
		hs.dialEnded()
		c.finish(&Error{conn: c, Err: err})
		return
	}
	c.nc = hr.nc
	c.protocol = hr.protocol
	closing := c.closeRequested
	if !closing {
		c.state.Store(int32(StateOpen))
	}
	rc := rawConnOf(hr.nc) // nil for TLS and wrapped conns
	c.ac.rc = rc           // before open: the writer reads it (under its lock) to write inline
	c.w.open(!closing)
	if closing {
		c.w.enqueueClose(c.closeCode, hs.closeReason)
		c.armCloseTimeoutLocked()
	}
	c.mu.Unlock()

	a := &c.ac // in Conn: one allocation per connection, not two
	a.c = c
	a.takeHot()
	a.park.fd = -1
	if rc != nil && c.lim.idleDetach >= 0 {
		a.park.fd = socketFD(rc)
	}
	if len(hr.buffered) > 0 {
		// Frames the server wrote right after the 101 (contract 12).
		a.rd.buf = make([]byte, max(readBufSize, len(hr.buffered)))
		a.rd.w = copy(a.rd.buf, hr.buffered)
	}
	a.closeSent = closing
	if c.logs.on(logConnect) {
		c.logs.alog(logConnect, "connected", strAttr("protocol", hr.protocol))
	}
	hs.dialEnded()
	if !closing {
		c.deliverOpen(&Open{conn: c, Protocol: hr.protocol, Extensions: hr.extensions, Header: hr.header})
	}
	if c.lim.pingInterval > 0 {
		a.armKeepalive()
	}
	// The read loop continues on a fresh goroutine: the handshake (DNS,
	// TLS, HTTP parsing) grew this one's stack, and an idle connection
	// should not keep that stack for its whole life.
	c.mu.Lock()
	c.live++
	c.actOn.Store(true)
	c.mu.Unlock()
	c.group.Go(a.readSide)
	c.exitMember()
}

// dialEnded wakes Dial, if it waits (it sets opened before Connect).
func (hs *config) dialEnded() {
	if hs.opened != nil {
		close(hs.opened)
	}
}

// readSide is the actor's goroutine once the connection is open, and the
// goroutine that resumes it after it parked (idle detach).
func (a *actor) readSide() error {
	err := a.loop()
	if err == errParked {
		return nil // a's state now belongs to the shared poller or a Receive
	}
	a.end(err)
	return nil
}

// loop reads frames until the connection ends and returns the reason the
// read side stopped (io.EOF after a clean close).
func (a *actor) loop() error {
	// This frame stays small: it is on the stack, with the read below it,
	// for the whole idle life of a connection, and a small idle stack lets
	// the runtime shrink the goroutine's stack to its minimum.
	a.takeHot() // a resumed actor gave its reading state back when it parked
	if err := a.resume(); err != nil {
		return err
	}
	h := a.actorHot // kept until the loop ends (parking ends it)
	for {
		if err := h.rd.header(&h.h); err != nil {
			return a.headerError(err)
		}
		if err := a.frame(); err != nil {
			return err
		}
	}
}

//go:noinline
func (a *actor) headerError(err error) error {
	if err == errParked {
		return err // the usual way out of an idle read: errors.As would allocate
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return a.failWith(StatusProtocolError, pe)
	}
	return err
}

// frame handles one frame whose header is in a.h.
//
//go:noinline
func (a *actor) frame() error {
	c := a.c
	h := &a.h
	if a.pingOut {
		a.pingOut = false
		a.armKeepalive()
	}
	acc := c.logs.access.Load() // one load per frame for every channel below
	if acc&logFrameHeader != 0 {
		a.logFrame(h)
	}
	if h.rsv != 0 {
		return a.protocolError("reserved bits set without a negotiated extension")
	}
	if h.masked {
		return a.protocolError("masked frame from server")
	}
	switch h.op {
	case opPing, opPong, opClose:
		if err := a.control(h); err != nil {
			return err
		}
		if a.closeRecvd {
			if a.pulling {
				return errHandoff // awaitEOF waits in the actor's own goroutine
			}
			return a.awaitEOF()
		}
	case opText, opBinary, opContinuation:
		return a.data(h)
	default:
		return a.protocolError("reserved opcode " + strconv.Itoa(int(h.op)))
	}
	return nil
}

func (a *actor) control(h *frameHeader) error {
	c := a.c
	if !h.fin {
		return a.protocolError("fragmented control frame")
	}
	if h.length > 125 {
		return a.protocolError("control frame payload longer than 125 bytes")
	}
	p, err := a.rd.next(int(h.length)) // valid until the next read
	if err != nil {
		return err
	}
	switch h.op {
	case opPing:
		if c.logs.on(logControl) {
			c.logs.alog(logControl, "ping received", intAttr("length", h.length))
		}
		c.w.enqueueControl(opPong, p)
	case opPong:
		if c.logs.on(logControl) {
			c.logs.alog(logControl, "pong received", intAttr("length", h.length))
		}
	case opClose:
		if c.logs.on(logControl) {
			c.logs.alog(logControl, "close received", intAttr("length", h.length))
		}
		switch {
		case len(p) == 1:
			return a.protocolError("close frame with a 1-byte payload")
		case len(p) == 0:
			a.peerCode = StatusNoStatusReceived
		default:
			code := StatusCode(binary.BigEndian.Uint16(p))
			if !validWireCode(code) {
				a.badPeerClose = true
				return a.protocolError("invalid close code " + strconv.Itoa(int(code)))
			}
			if !utf8.Valid(p[2:]) {
				return a.failWith(StatusInvalidFramePayloadData, ErrInvalidUTF8)
			}
			a.peerCode, a.peerReason = code, string(p[2:])
		}
		a.closeRecvd = true
		if !a.closeSent {
			echo := a.peerCode
			if echo == StatusNoStatusReceived {
				echo = StatusNormalClosure
			}
			a.sendClose(echo, "")
		}
	}
	return nil
}

// data handles a text, binary or continuation frame.
func (a *actor) data(h *frameHeader) error {
	c := a.c
	switch {
	case h.op == opContinuation && !a.inMsg:
		return a.protocolError("continuation frame without a message to continue")
	case h.op != opContinuation && a.inMsg:
		return a.protocolError("new data frame before the previous message finished")
	}
	if a.closeSent {
		// RFC 6455 1.4: data after our close frame is discarded.
		if h.op != opContinuation {
			a.inMsg = !h.fin
		} else if h.fin {
			a.inMsg = false
		}
		return a.rd.skip(h.length)
	}
	if h.op != opContinuation {
		a.inMsg = true
		a.msgType = MessageType(h.op)
		a.msg, a.cur = nil, nil
		a.u8.reset()
	}
	total := int64(len(a.msg)) + h.length
	if total > c.lim.maxMessageSize || total < 0 {
		return a.failWith(StatusMessageTooBig, ErrMessageTooBig)
	}
	a.payLeft, a.payFin = h.length, h.fin
	return a.payload()
}

// resume goes on where the actor stopped when it stopped inside a frame:
// a puller (Receive) may stop between the reads of a data frame's payload,
// and the peer's close may have been read by a puller.
func (a *actor) resume() error {
	if a.closeRecvd {
		return a.awaitEOF()
	}
	if a.payLeft > 0 {
		return a.payload()
	}
	return nil
}

// payload reads the rest of the current data frame (a.payLeft bytes) and,
// when the frame ends its message, hands the message over.
func (a *actor) payload() error {
	c := a.c
	if err := a.readPayload(); err != nil {
		return err
	}
	if !a.payFin {
		return nil
	}
	a.inMsg = false
	if a.msgType == Text && !a.u8.complete() {
		return a.failWith(StatusInvalidFramePayloadData, ErrInvalidUTF8)
	}
	m := a.cur
	if m == nil {
		m = a.alloc.plain()
	}
	m.conn, m.Type, m.Data = c, a.msgType, a.msg
	if m.Data == nil {
		m.Data = []byte{}
	}
	a.msg, a.cur = nil, nil
	a.inMsgs++ // published with the delivery (see publish)
	a.inBytes += uint64(len(m.Data))
	if c.logs.access.Load()&(logMessageHeader|logMessagePayload) != 0 {
		a.logMessage(m)
	}
	return a.queue(m)
}

// logFrame and logMessage build their log attributes out of line: frame
// and payload run on a Receive caller's stack, and their frames stay small
// when nothing is logged.
//
//go:noinline
func (a *actor) logFrame(h *frameHeader) {
	a.c.logs.alog(logFrameHeader, "frame", intAttr("opcode", int64(h.op)), boolAttr("fin", h.fin), intAttr("length", h.length))
}

//go:noinline
func (a *actor) logMessage(m *Message) {
	c := a.c
	acc := c.logs.access.Load()
	if acc&logMessageHeader != 0 {
		c.logs.alog(logMessageHeader, "message", strAttr("type", m.Type.String()), intAttr("length", int64(len(m.Data))))
	}
	if acc&logMessagePayload != 0 {
		c.logs.alog(logMessagePayload, "message payload", strAttr("payload", payloadString(m.Data)))
	}
}

// growStep is how far beyond the bytes that have arrived the message buffer
// may grow at once: a peer's declared length is trusted only this far
// (contract 9: never allocate on a peer-declared length).
const growStep = 64 << 10

// readPayload appends the current frame's a.payLeft payload bytes to
// a.msg, validating text as it arrives. a.payLeft counts down as bytes
// arrive, so a read that stops (errPullStop) loses nothing.
func (a *actor) readPayload() error {
	n := a.payLeft
	if n == 0 {
		return nil
	}
	if a.msg == nil && a.payFin && n <= growStep {
		a.cur = a.alloc.sized(int(n))
		a.msg = a.cur.own[:0]
	}
	for n > 0 {
		if len(a.msg) == cap(a.msg) {
			// Grow geometrically over the whole message (fragments of a few
			// bytes must not copy it per fragment) but never past twice what
			// has arrived plus one step, nor past MaxMessageSize.
			have := int64(len(a.msg))
			want := len(a.msg) + int(min(max(min(n, growStep), have), a.c.lim.maxMessageSize-have))
			nb := make([]byte, len(a.msg), want)
			copy(nb, a.msg)
			a.msg = nb
		}
		room := a.msg[len(a.msg):cap(a.msg)]
		if int64(len(room)) > n {
			room = room[:n]
		}
		k, err := a.rd.read(room)
		if err != nil {
			return err
		}
		chunk := room[:k]
		a.msg = a.msg[:len(a.msg)+k]
		n -= int64(k)
		a.payLeft = n
		if a.msgType == Text && !a.u8.feed(chunk) {
			return a.failWith(StatusInvalidFramePayloadData, ErrInvalidUTF8)
		}
	}
	return nil
}

// protocolError fails the connection with 1002.
func (a *actor) protocolError(reason string) error {
	return a.failWith(StatusProtocolError, &ProtocolError{Reason: reason})
}

// failWith sends close code and returns cause, which ends the read loop
// (RFC 6455 7.1.7: _Fail the WebSocket Connection_).
func (a *actor) failWith(code StatusCode, cause error) error {
	if a.failErr == nil {
		a.failErr = cause
		if !a.closeSent {
			a.failCode = code
			a.sendClose(code, "")
		}
	}
	c := a.c
	if c.logs.eon(elogRerror) {
		c.logs.elog(elogRerror, "failing connection", codeAttr("code", code), errAttr(cause))
	}
	return cause
}

// sendClose queues our close frame and moves to Closing.
func (a *actor) sendClose(code StatusCode, reason string) {
	c := a.c
	a.closeSent = true
	c.mu.Lock()
	defer c.mu.Unlock()
	c.w.enqueueClose(code, reason)
	c.state.Store(int32(StateClosing))
	c.armCloseTimeoutLocked()
}

// awaitEOF waits, after the close frames have crossed, for the server to
// close TCP (RFC 6455 7.1.1), bounded by the close timeout.
func (a *actor) awaitEOF() error {
	for {
		if a.rd.w > a.rd.r {
			a.rd.r = a.rd.w // nothing may follow a close frame; ignore it
		}
		if err := a.rd.readMore(); err != nil {
			return err
		}
	}
}

// onTimeout decides what a read deadline means: an earlier deadline than
// the real one (the idle linger) or one that moved later, the close
// timeout, or a keepalive tick. It returns nil to retry the read.
func (a *actor) onTimeout(err error) error {
	c := a.c
	if a.pulling && a.pullCtx.Err() != nil {
		return errPullStop // Receive's context ended (see interruptPull)
	}
	if a.idleHit.Swap(false) {
		// interruptIdle came after the wait it was for ended.
		a.setDeadline(0)
		return nil
	}
	if a.wantHit.Swap(false) {
		// wantActor: a Receive waits for a reply.
		a.setDeadline(0)
		if !a.pulling && a.goWait.Load()&1 == 1 {
			return errWanted // in the goroutine's idle read: idleRead gives the actor up
		}
		return nil // it came after that wait ended
	}
	c.mu.Lock()
	closing := !c.closeDeadline.IsZero()
	real := a.deadlineLocked()
	c.mu.Unlock()
	now := monoNow()
	// Not the real deadline: the idle linger, or a deadline moved later.
	if now.Before(real) || (real.IsZero() && !a.lingerDL.IsZero()) {
		a.setDeadline(0) // wait on with the real deadline
		return nil
	}
	if closing {
		return ErrCloseTimeout
	}
	if c.lim.pingInterval > 0 {
		if a.pingOut {
			return a.failWith(StatusPolicyViolation, ErrPongTimeout)
		}
		a.pingOut = true
		c.w.enqueueControl(opPing, nil)
		if c.logs.on(logControl) {
			c.logs.alog(logControl, "keepalive ping sent")
		}
		a.kaDeadline = now.Add(c.lim.pongTimeout)
		a.setDeadline(0)
		return nil
	}
	return err
}

func (a *actor) armKeepalive() {
	a.kaDeadline = monoNow().Add(a.c.lim.pingInterval)
	a.setDeadline(0)
}

// setDeadline sets the socket's read deadline to the earliest of the close
// deadline (or, when not closing, the keepalive deadline) and linger (zero:
// no linger), and records whether linger is the one set.
func (a *actor) setDeadline(linger monoTime) {
	c := a.c
	c.mu.Lock()
	d := a.deadlineLocked()
	a.lingerDL = 0
	if !linger.IsZero() && (d.IsZero() || linger.Before(d)) {
		d, a.lingerDL = linger, linger
	}
	_ = c.nc.SetReadDeadline(d.Time())
	c.mu.Unlock()
}

// deadlineLocked is the connection's real read deadline: the close
// deadline while closing, else the keepalive deadline (zero: none). c.mu is
// held.
func (a *actor) deadlineLocked() monoTime {
	if d := a.c.closeDeadline; !d.IsZero() {
		return d
	}
	return a.kaDeadline
}

// idleWait waits for the next frame with nothing buffered (frameReader's
// idle path) when idle detach is on. It waits in the runtime's poller for
// the linger time (WithIdleDetach); when nothing arrives by then it parks
// the actor in the shared poller and returns errParked, which ends this
// goroutine: an idle connection holds no goroutine, stack or read buffer.
func (a *actor) idleWait() error {
	rd := &a.rd
	for {
		rd.r, rd.w = 0, 0
		var (
			n     int
			err   error
			again bool
		)
		if a.park.fd >= 0 && a.c.lim.idleDetach == 0 {
			n, again, err = rd.raw.readNow() // no linger: park as soon as empty
		} else if a.pulling {
			// A Receive waits without a linger deadline; the hold timer
			// tells it when it has waited a whole period (holdTick).
			a.makeHold()
			a.waitGen.Add(1)
			a.armHold()
			n, err = rd.raw.tryRead()
			a.waitGen.Add(1)
			again = err != nil && isTimeout(err) && a.idleHit.Swap(false)
		} else {
			a.armLinger()
			a.goWait.Add(1)
			n, err = rd.raw.tryRead()
			a.goWait.Add(1)
			if err != nil && isTimeout(err) && a.wantHit.Swap(false) {
				// A Receive waits for a reply (wantActor): it reads
				// from here on.
				a.setDeadline(0)
				if a.c.pullWant.Load() > 0 && a.release() {
					return errParked
				}
				continue
			}
			if err != nil && isTimeout(err) && !a.lingerDL.IsZero() && !monoNow().Before(a.lingerDL) {
				if a.idleReads != a.armReads {
					// Frames arrived during this linger period: a busy
					// connection. Linger another, longer, period.
					a.lingerDL = 0
					a.lingerFor = min(2*a.lingerFor, max(backoffCap, a.c.lim.idleDetach))
					continue
				}
				again = true // a whole linger period without a frame
				a.lingerFor = 0
			}
		}
		switch {
		case again:
			a.c.lingerEnded()
			if a.pulling {
				return errPullIdle // Receive parks the actor and waits (actor.pull)
			}
			if a.c.pullWant.Load() > 0 && a.release() {
				return errParked // a Receive waits: it reads from here on
			}
			if a.parkIdle() {
				return errParked
			}
			// The socket cannot be watched: wait here from now on.
			a.park.fd = -1
			a.setDeadline(0)
		case err == nil && n == 0:
			return io.EOF
		case err == nil:
			rd.w = n
			a.idleReads++
			return nil
		case !isTimeout(err):
			return err
		default:
			if err := a.onTimeout(err); err != nil {
				return err
			}
		}
	}
}

// armLinger sets the linger deadline if none is set. It is not moved while
// frames arrive: when it expires, idleWait looks at whether any did
// (idleReads) and lingers another period if so, twice as long (up to
// backoffCap, or idleDetach if that is longer). A busy connection thus pays
// no deadline update per message and, after a few periods, about two a
// second; a connection that goes quiet parks after one to two periods of
// the length it had reached, and starts again from idleDetach.
func (a *actor) armLinger() {
	if a.park.fd < 0 || !a.lingerDL.IsZero() {
		return
	}
	if a.lingerFor == 0 {
		a.lingerFor = a.c.lim.idleDetach
	}
	a.armReads = a.idleReads
	a.c.timerOps.Add(1)
	a.setDeadline(monoNow().Add(a.lingerFor))
	if cb := a.c.cb.Load(); cb != nil && !cb.linger.Load() {
		cb.linger.Store(true) // a dispatcher may wait for the next event
	}
}

// parkIdle hands the actor to the shared poller with its next deadline. It
// fails once the connection is failing (the socket may be closed and its
// descriptor reused).
func (a *actor) parkIdle() bool {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cause != nil || c.aborted {
		return false
	}
	// The expired linger comes off the socket: whoever runs the actor next
	// (its goroutine, resumed, or a Receive) reads with the real deadline.
	d := a.deadlineLocked()
	a.lingerDL = 0
	_ = c.nc.SetReadDeadline(d.Time())
	a.trimIdle()
	c.w.trimIdle() // c.mu before w.mu, as everywhere
	h := a.dropHot()
	if !sharedPoller.park(a, d) {
		if h != nil {
			a.actorHot = h
		}
		return false
	}
	// Parked: another goroutine may run the actor already (with reading
	// state of its own); this one only unwinds, touching none of h.
	if h != nil {
		putHot(h)
	}
	return true
}

// trimIdle lets a parking actor drop the in-flight ring when nothing is in
// the channel (it is made again by the next message). What else it keeps
// only for speed while messages flow (the batch array, released messages
// taken for reuse) is in its reading state, which goes back to hotPool
// emptied (actorHot.reset) unless it still holds something (dropHot).
func (a *actor) trimIdle() {
	a.flight.sync(len(a.c.evch()))
	if a.flight.n == 0 {
		a.flight.sizes, a.flight.head = nil, 0
	}
}

// unpark resumes the actor if it is parked or held between Receive calls
// (Close, Abort, a write error, its deadline).
func (a *actor) unpark() {
	if a.c.pull.CompareAndSwap(pullHeld, pullNone) {
		a.c.group.Go(a.readSide)
		return
	}
	sharedPoller.unpark(a)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// closeEvent builds the terminal Close from how the read loop ended.
func (a *actor) closeEvent(err error) *Close {
	c := a.c
	ev := &Close{conn: c, Code: StatusAbnormalClosure}
	switch {
	case a.closeRecvd:
		ev.Code, ev.Reason = a.peerCode, a.peerReason
	case a.badPeerClose:
		ev.Code = StatusProtocolError // contract 6: reported as a protocol error
	}
	c.w.mu.Lock()
	if c.w.closeQueued {
		ev.Sent = c.w.sentCode
	}
	c.w.mu.Unlock()
	ev.Clean = a.closeRecvd && ev.Sent != 0 && a.failErr == nil
	cause := c.localCause()
	switch {
	case a.failErr != nil:
		ev.Err = a.failErr
	case errors.Is(cause, ErrAborted):
		ev.Err = ErrAborted
	case a.closeRecvd:
		// The peer's close arrived and ours was queued: how TCP ended
		// afterwards (EOF, reset, timeout) does not matter (RFC 6455 7.1.1).
	case cause != nil:
		ev.Err = cause
	case err == io.EOF:
		ev.Err = io.ErrUnexpectedEOF
	default:
		ev.Err = err
	}
	if errors.Is(ev.Err, os.ErrDeadlineExceeded) {
		ev.Err = ErrCloseTimeout
	}
	return ev
}

// finish ends the connection: socket closed, writer stopped, state Closed,
// terminal event delivered, channel closed.
func (c *Conn) finish(ev Event) {
	c.mu.Lock()
	nc := c.nc
	c.mu.Unlock()
	if nc != nil {
		if cl, ok := ev.(*Close); ok && cl.Sent != 0 {
			c.awaitCloseWritten()
		}
		_ = nc.Close()
	}
	c.w.shutdown()
	c.state.Store(int32(StateClosed))
	if cl, ok := ev.(*Close); ok && c.logs.on(logDisconnect) {
		c.logs.alog(logDisconnect, "disconnected", codeAttr("code", cl.Code), codeAttr("sent", cl.Sent), boolAttr("clean", cl.Clean), errAttr(cl.Err))
	}
	c.mu.Lock()
	c.terminal = ev
	c.mu.Unlock()
	ch := c.eventsFor(DefaultEventBuffer)
	c.deliverTerminal(ch, ev)
	close(ch)
	c.exitMember()
}

// awaitCloseWritten gives the writer a bounded chance to put our close
// frame on the wire before the socket is closed.
func (c *Conn) awaitCloseWritten() {
	c.w.mu.Lock()
	if c.w.dead != nil || c.w.closeDone {
		c.w.mu.Unlock()
		return
	}
	if c.w.written == nil {
		c.w.written = make(chan struct{})
	}
	written := c.w.written
	c.w.mu.Unlock()
	t := time.NewTimer(max(c.lim.closeTimeout, time.Millisecond))
	defer t.Stop()
	select {
	case <-written:
	case <-t.C:
	}
}

// exitMember is called by each goroutine of the connection's group as it
// returns; the last one closes Done.
func (c *Conn) exitMember() {
	c.mu.Lock()
	c.live--
	if c.live == 0 {
		c.endedLocked()
	}
	c.mu.Unlock()
}

// maxBatch and maxBatchBytes bound the messages the actor parses before
// handing them over. A 4 KiB read of small frames holds up to ~230
// messages: a count of 256 hands it over in one event (64 took four, each a
// channel operation and, for callbacks, a dispatcher wake-up).
const (
	maxBatch      = 256
	maxBatchBytes = 256 << 10
)

// queue hands m to the consumer, batching while more bytes are already
// waiting: the consumer is then woken once per batch rather than once per
// message (a wake-up costs more than a small message). The batch is flushed
// before any socket read that may wait, so batching never delays a message
// while the actor waits for the network.
func (a *actor) queue(m *Message) error {
	h := a.actorHot // one load for the fields below (per message)
	if !a.pulling && len(h.batch) < maxBatch && h.batchBytes < maxBatchBytes &&
		(h.rd.buffered() > 0 || (len(m.Data) >= readBufSize && h.rd.peek())) {
		// More is waiting (for a large message, whose payload was read
		// straight from the socket, a non-blocking read tells: one
		// syscall is cheap next to a consumer wake-up per message).
		h.batch = append(h.batch, m)
		h.batchBytes += len(m.Data)
		return nil
	}
	if err := a.flush(); err != nil { // publishes the counters too
		a.c.stats.dropped.Add(1) // m too: counted in, never delivered
		return err
	}
	return a.deliverMessage(m)
}

// publish adds the messages received since the last call to the
// connection's counters: one atomic add per batch rather than per message.
func (a *actor) publish() {
	if a.inMsgs > 0 {
		a.c.stats.msgsIn.Add(a.inMsgs)
		a.c.stats.bytesIn.Add(a.inBytes)
		a.inMsgs, a.inBytes = 0, 0
	}
}

// flush delivers the batched messages in order: as one *Batch event when
// the connection asked for batches (WithBatchDelivery), else one by one.
func (a *actor) flush() error {
	a.publish()
	a.batchBytes = 0
	if len(a.batch) > 1 && a.c.batch {
		b := newBatch(a.c, a.batch) // the receiver owns it until Release
		clear(a.batch)
		a.batch = a.batch[:0]
		return a.deliverBatch(b)
	}
	for i, m := range a.batch {
		a.batch[i] = nil
		if err := a.deliverMessage(m); err != nil {
			rest := a.batch[i+1:]
			a.c.stats.dropped.Add(uint64(len(rest))) // counted in, never delivered
			clear(rest)
			a.batch = a.batch[:0]
			return err
		}
	}
	a.batch = a.batch[:0]
	return nil
}
