package wsactor

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Receive: the pull-style way to consume a connection.
//
// Events() is fed by the actor goroutine: every message crosses from that
// goroutine to the consumer's, and when the consumer is waiting the hand-off
// wakes it (a futex wake and, on a busy machine, a second CPU). For a client
// that waits for each reply that wake-up is most of a round trip. Receive
// removes it: while the actor has nothing to do and the caller of Receive
// waits, the caller runs the actor's read loop in its own goroutine, the way
// a blocking single-goroutine client reads, and returns the event the loop
// produced. Between Receive calls the actor is held (no goroutine runs it);
// if no Receive comes for a hold period its own goroutine takes it back, so
// pings are answered and a closing handshake completes without the consumer.
//
// Ownership of the actor's state is the pull state machine below; exactly
// one party runs the actor at any time:
//
//	pullNone: the actor's goroutine (or the shared poller, while parked)
//	pullHeld: nobody; a Receive takes it (pullBusy), as does the hold timer,
//	          Close, Abort or a write error (back to pullNone, in a goroutine)
//	pullBusy: a Receive caller
const (
	pullNone int32 = iota
	pullHeld
	pullBusy
)

// holdPeriod is how long a held actor waits for the next Receive before its
// own goroutine takes it back, at first: each period in which Receive was
// called doubles it, up to backoffCap, so a connection that keeps calling
// Receive sees its hold timer fire a couple of times a second at most and
// never moves it (see armHold, holdTick). It was 20 ms; every firing
// while replies flow can cost the round trips that follow (on a small
// machine a woken thread splits a client and server that were taking turns
// on one CPU, README, Performance), and with 250 ms a burst of round trips
// up to a quarter of a second long sees none: unpinned 16 B echo on 2
// vCPUs, 20k round trips, was fast in 18 of 20 runs against 13 of 20 with
// 20 ms (raw gobwas 20 of 20). The cost is that a consumer that stops
// calling Receive leaves pings and a closing handshake unread for up to a
// quarter of a second more.
const holdPeriod = 250 * time.Millisecond

// backoffCap bounds the hold period and the idle linger (actor.armLinger)
// as they grow on a busy connection. A timer that fires or moves on every
// message, or every few milliseconds, costs more than its own work: it
// wakes another thread of the process (the runtime's timer and netpoll
// handling), which on a small machine moves the client's threads between
// CPUs and turns each round trip into a cross-CPU wake-up (README,
// Performance). So the bookkeeping of a busy connection may not be periodic
// at a short period: it backs off.
const backoffCap = 500 * time.Millisecond

// errPullStop stops a Receive that runs the actor: its context ended. The
// actor's state stays where the read stopped (see actor.resume).
var errPullStop = errors.New("wsactor: receive stopped")

// errPullIdle ends a Receive's run of the actor after it waited in the
// socket for a hold period without a frame (holdTick, interruptIdle): the
// actor parks in the shared poller and the caller waits for an event like
// any consumer, on a small stack.
var errPullIdle = errors.New("wsactor: receive idle")

// errWanted ends the actor goroutine's idle read when a Receive waits for a
// reply (wantActor): the goroutine gives the actor up to it.
var errWanted = errors.New("wsactor: a receive wants the actor")

// errHandoff ends a Receive's run of the actor where the rest is the
// actor goroutine's work (the closing handshake).
var errHandoff = errors.New("wsactor: actor handed back")

// ErrCallbacks is returned by Receive on a connection with callbacks: they
// consume the events.
var ErrCallbacks = errors.New("wsactor: callbacks consume this connection's events")

// pullState is the part of the actor that Receive uses.
type pullState struct {
	pullCtx context.Context // its context (while pulling)
	pulled  Event           // the event it produced, handed over without the channel
	pulling bool            // a Receive caller runs the actor

	pullArmed bool        // guarded by c.mu: interruptPull may act
	pullHit   bool        // guarded by c.mu: interruptPull moved the deadline
	wantHit   atomic.Bool // wantActor moved the read deadline (see goWait)
	pullGen   uint64      // guarded by c.mu: which pull it may act for

	// The hold timer hands a held actor back when no Receive came for a
	// whole period (holdTick). It is armed by the release that finds it
	// unarmed and is then not touched by Receive; holdTick re-arms it
	// (doubling the period) while Receive keeps coming.
	hold      *time.Timer   // made before the first hold
	holdArmed atomic.Bool   // hold is pending: release leaves it alone
	idleHit   atomic.Bool   // interruptIdle moved the read deadline (see waitGen)
	holdFor   time.Duration // its current period (owned by whoever armed it)
	holdSeen  uint64        // c.pulls when it was armed or last fired
	waitSeen  uint64        // waitGen then

	// A pulling Receive waits in the socket read without a linger
	// deadline; the hold timer tells it to park when it has waited a whole
	// period (holdTick, interruptIdle).
	waitGen atomic.Uint64 // odd while a pulling Receive waits in the socket read

	// A Receive that waits for a reply while the actor's goroutine waits in
	// an idle read interrupts that read (wantActor), and the goroutine gives
	// the actor up to it.
	goWait atomic.Uint64 // odd while the actor's goroutine waits in an idle read
}

// Receive returns the connection's next event: the same stream, in the same
// order, as Events() (Open, messages, then exactly one terminal *Close or
// *Error). After the terminal event it returns ErrClosed; it returns
// ctx.Err() when ctx ends first, ErrCallbacks when callbacks consume the
// events.
//
// When it waits for a reply, Receive reads the socket in the calling
// goroutine (plain ws:// on Unix; elsewhere it waits on Events()): a
// request/response client then pays no goroutine hand-off per reply. It
// reads itself when something was sent since the last Receive that
// returned a message (an Open does not count), while it holds the
// connection from an earlier Receive that read it, or when messages stream
// in (the last Receive found one waiting); otherwise (a connection gone
// quiet, an idle subscriber) it waits for the actor like a range over
// Events(), on a small stack, and the actor parks. What
// Receive reads itself comes one message per event (a backlog read
// meanwhile by the actor's goroutine may come as a *Batch on
// connections made WithBatchDelivery). Between calls nobody reads for up
// to a hold period: 250 ms at first, doubling (up to half a second) while
// Receive keeps coming, so the goroutine takes over within about a second
// of the last Receive however busy the connection was. After that the
// actor's goroutine reads again, so pings, the closing handshake and
// keepalive go on without the consumer. Use Receive, or a range over
// Events(), or callbacks: one of them per connection. Receive is safe for
// concurrent use; each event goes to one caller.
func (c *Conn) Receive(ctx context.Context) (Event, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if cb := c.cb.Load(); cb != nil && cb.any.Load() {
		return nil, ErrCallbacks
	}
	ch := c.eventsFor(DefaultReceiveEventBuffer)
	sent := c.stats.msgsOut.Load()
	var (
		ev  Event
		err error
	)
	if sent == c.recvSent.Load() && c.pull.Load() != pullHeld && !c.recvStream.Load() {
		// Not waiting for a reply: reading here would only grow this
		// goroutine's stack and keep the actor from parking.
		ev, err = c.receiveEvent(ctx, ch)
	} else {
		ev, err = c.pullEvent(ctx, ch)
	}
	c.answered(ev, sent)
	return ev, err
}

// answered records that the messages sent before a Receive began (sent)
// were answered, if the Receive returned a message: an Open (a Send right
// after Dial), or a context that ended, leaves the reply still awaited.
func (c *Conn) answered(ev Event, sent uint64) {
	switch ev.(type) {
	case *Message, *Batch:
		if sent > c.recvSent.Load() {
			c.recvSent.Store(sent)
		}
	}
}

// receiveEvent waits for the next event on the channel. If one was there
// already, messages are streaming in: the next Receive reads the socket
// itself once the actor's goroutine has caught up (recvStream).
func (c *Conn) receiveEvent(ctx context.Context, ch chan Event) (Event, error) {
	select {
	case ev, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		switch ev.(type) {
		case *Message, *Batch:
			c.recvStream.Store(true)
		}
		return ev, nil
	default:
	}
	c.recvStream.Store(false)
	select {
	case ev, ok := <-ch:
		if !ok {
			return nil, ErrClosed
		}
		return ev, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pullEvent is Receive waiting for a reply: it runs the actor when it can.
func (c *Conn) pullEvent(ctx context.Context, ch chan Event) (Event, error) {
	if !c.pullMode.Load() {
		c.mu.Lock()
		if c.pullReady == nil {
			c.pullReady = make(chan struct{}, 1)
		}
		c.mu.Unlock()
		c.pullMode.Store(true) // after pullReady is made: the actor reads it
	}
	parked := false // this call parked the actor: wait for it to be resumed
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return nil, ErrClosed
			}
			return ev, nil
		default:
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a := c.act()
		if a != nil && !parked && a.take() {
			var ev Event
			if ev, parked = a.pull(ctx); ev != nil {
				return ev, nil
			}
			continue
		}
		c.pullWant.Add(1)
		if a != nil {
			a.wantActor()
		}
		if a != nil && a.takeHeld() {
			// Released between the look above and the count: release
			// may not have seen this caller.
			c.pullWant.Add(-1)
			var ev Event
			if ev, parked = a.pull(ctx); ev != nil {
				return ev, nil
			}
			continue
		}
		c.recvStream.Store(false) // it waits: no stream going on
		select {
		case ev, ok := <-ch:
			c.pullWant.Add(-1)
			if !ok {
				return nil, ErrClosed
			}
			return ev, nil
		case <-ctx.Done():
			c.pullWant.Add(-1)
			return nil, ctx.Err()
		case <-c.pullReady:
			c.pullWant.Add(-1)
			parked = false
		}
	}
}

// takeHeld is take for a held actor only (never on TLS or a wrapped conn:
// there the actor always reads in its goroutine).
func (a *actor) takeHeld() bool {
	return a.rc != nil && a.c.pull.CompareAndSwap(pullHeld, pullBusy)
}

// take makes the caller the actor's runner if the actor is held or parked
// in the shared poller.
func (a *actor) take() bool {
	c := a.c
	if a.takeHeld() {
		return true
	}
	if a.rc != nil && c.pull.Load() == pullNone && sharedPoller.take(a) {
		c.pull.Store(pullBusy)
		return true
	}
	return false
}

// pull runs the actor in the caller's goroutine until it produced an event
// (returned, or in the channel), ctx ends, the hold timer finds it waited a
// whole period without a frame (parked reports that the actor then parked
// in the shared poller), or the rest is the actor goroutine's work; then it
// holds the actor, parks it or hands it back.
func (a *actor) pull(ctx context.Context) (ev Event, parked bool) {
	c := a.c
	a.pulling, a.pullCtx = true, ctx
	var stop func() bool
	if ctx.Done() != nil {
		c.mu.Lock()
		a.pullArmed = true
		a.pullGen++
		gen := a.pullGen
		c.mu.Unlock()
		stop = context.AfterFunc(ctx, func() { a.interruptPull(gen) })
	}
	a.takeHot() // taken from the shared poller: it gave its reading state back
	reads := a.rd.reads
	err := a.pullFrames()
	if a.rd.reads != reads {
		// This Receive read the peer's bytes from the socket: what the
		// caller sends next answers them, and is written at once rather
		// than queued as if it were part of a burst (writer.enqueue).
		c.w.answer.Store(true)
	}
	if stop != nil {
		stop()
		c.mu.Lock()
		a.pullArmed = false
		hit := a.pullHit
		a.pullHit = false
		c.mu.Unlock()
		if hit {
			a.setDeadline(0) // the real deadline again
		}
	}
	a.pulling, a.pullCtx = false, nil
	ev = a.pulled
	a.pulled = nil
	c.pulls.Add(1)
	if err == errPullIdle {
		c.pull.Store(pullNone) // before the poller may resume it
		if a.parkIdle() {
			return nil, true
		}
		c.pull.Store(pullBusy)
		err = nil // cannot park: hold it
	}
	switch err {
	case nil, errPullStop:
		if a.release() {
			return ev, false
		}
		fallthrough // the connection is ending: its goroutine finishes it
	case errHandoff:
		c.pull.Store(pullNone)
		c.group.Go(a.readSide)
	default:
		c.pull.Store(pullNone)
		c.group.Go(func() error {
			a.end(err)
			return nil
		})
	}
	return ev, false
}

// pullFrames is the read loop as Receive runs it: frame by frame until an
// event waits.
func (a *actor) pullFrames() error {
	c := a.c
	h := a.actorHot    // a pulling actor does not park before this returns
	events := c.evch() // made by the Receive that runs the actor
	for a.pulled == nil && len(events) == 0 {
		if a.closeSent || a.closeRecvd {
			return errHandoff
		}
		if a.payLeft > 0 {
			if err := a.payload(); err != nil {
				return err
			}
			continue
		}
		if err := h.rd.header(&h.h); err != nil {
			return a.headerError(err)
		}
		if err := a.frame(); err != nil {
			return err
		}
	}
	return nil
}

// interruptPull ends a pulling read when Receive's context ends: the read
// deadline moves to the past, and onTimeout sees the context done. gen
// tells the pull it was armed for: a late call for an earlier pull (its
// stop lost the race) does nothing.
func (a *actor) interruptPull(gen uint64) {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.pullArmed && a.pullGen == gen && c.nc != nil {
		a.pullHit = true
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// release gives the actor up (pullHeld) at a point where anyone may go on
// with it, and reports true; the caller must not touch a afterwards. It
// reports false, keeping the actor, when the connection is ending (Close,
// Abort, a write error): that needs the actor's goroutine.
func (a *actor) release() bool {
	c := a.c
	a.makeHold() // before the actor is published as held: its next owner reads a.hold
	c.pull.Store(pullHeld)
	if c.ending.Load() && c.pull.CompareAndSwap(pullHeld, pullNone) {
		return false
	}
	// Whoever else wakes the actor (unpark) has taken it by now, or will
	// find it held.
	a.armHold()
	if c.pullWant.Load() > 0 {
		select {
		case c.pullReady <- struct{}{}:
		default:
		}
	}
	return true
}

// armHold arms the hold timer if it is not pending; a Receive loop does
// not move it (see holdTick). The actor's owner calls it: release, and a
// pulling Receive about to wait in the socket (it may have taken the actor
// from the shared poller, where no timer runs).
func (a *actor) armHold() {
	if a.holdArmed.Load() || !a.holdArmed.CompareAndSwap(false, true) {
		return
	}
	c := a.c
	a.holdFor = c.lim.holdPeriod
	a.holdSeen, a.waitSeen = c.pulls.Load(), a.waitGen.Load()
	c.timerOps.Add(1)
	a.hold.Reset(a.holdFor)
}

// makeHold makes the hold timer (stopped) if there is none yet. Only the
// actor's owner calls it, before it may arm the timer.
func (a *actor) makeHold() {
	if a.hold == nil {
		a.hold = time.AfterFunc(time.Hour, a.holdTick)
		a.hold.Stop()
	}
}

// holdTick runs when the hold timer fires. If Receive ran the actor during
// the period, or a Receive started waiting in the socket, the consumer is
// still pulling: the timer is re-armed for twice the period (up to
// backoffCap, or idleDetach if longer). If a Receive has been waiting in
// the socket for a whole period and at least idleDetach, it is told to
// park the actor (interruptIdle), as a linger would
// (a pulling wait has no linger deadline of its own: that would be a second
// timer on a busy connection). Otherwise, if the actor is held, no Receive
// came for a whole period and the actor's goroutine takes it back (Receive
// is no longer waited for until it is called again); if a Receive runs it
// right now, its release arms the timer again.
func (a *actor) holdTick() {
	c := a.c
	c.timerOps.Add(1)
	n, w := c.pulls.Load(), a.waitGen.Load()
	waiting := w&1 == 1 // a Receive waits in the socket
	if n != a.holdSeen || (waiting && (w != a.waitSeen || a.holdFor < c.lim.idleDetach)) {
		a.holdSeen, a.waitSeen = n, w
		a.holdFor = min(2*a.holdFor, max(backoffCap, c.lim.idleDetach))
		a.hold.Reset(a.holdFor)
		return
	}
	a.holdArmed.Store(false) // before the hand-back: a later release or wait re-arms
	if waiting {
		a.interruptIdle(w) // it has waited a whole period, and idleDetach
		return
	}
	if c.pull.CompareAndSwap(pullHeld, pullNone) {
		c.pullMode.Store(false)
		c.group.Go(a.readSide)
		return
	}
	// A Receive runs the actor. If it started waiting since w was read, it
	// may have found the timer still armed: arm it for it. (A wait counts
	// itself before it arms the timer, so one of the two does.)
	if a.waitGen.Load() != w {
		a.armHold()
	}
}

// wantActor interrupts the actor goroutine's idle read, if it is in one, so
// that it gives the actor up to the Receive that waits for a reply (as it
// would at its next wait): the reply is then read by the Receive, not
// handed over. If the read ended meanwhile, the next read that times out
// puts the real deadline back and reads on (onTimeout).
func (a *actor) wantActor() {
	if w := a.goWait.Load(); w&1 == 1 {
		a.interruptWait(&a.goWait, w, &a.wantHit)
	}
}

// interruptIdle ends the pulling wait w (if it is still going on): idleWait,
// seeing idleHit, parks the actor (errPullIdle).
func (a *actor) interruptIdle(w uint64) { a.interruptWait(&a.waitGen, w, &a.idleHit) }

// interruptWait ends the wait that gen counted as w, if it is still going
// on: it sets hit, which tells the reader why, and moves the read deadline
// to the past. If the wait ended meanwhile, the next read that times out
// sees hit, puts the real deadline back and reads on (onTimeout).
func (a *actor) interruptWait(gen *atomic.Uint64, w uint64, hit *atomic.Bool) {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen.Load() == w && c.nc != nil {
		hit.Store(true)
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

// end finishes the connection after the read loop stopped with err.
func (a *actor) end(err error) {
	if a.hold != nil {
		a.hold.Stop() // not needed any more; holding the connection until it fires
	}
	_ = a.flush() // messages that arrived before the end are delivered
	a.c.finish(a.closeEvent(err))
}

// idleRead is the actor's wait for the next frame with nothing buffered.
// A Receive caller waits in the socket read itself until the hold timer
// finds it waited a whole period, then parks the actor; the actor's goroutine
// leaves the read to Receive when Receive is in use, and otherwise waits
// (idleWait: and parks when idle detach is on).
func (a *actor) idleRead() error {
	if !a.pulling && a.c.pullMode.Load() && a.release() {
		return errParked
	}
	raw := a.rd.raw
	raw.waited = false
	var err error
	if a.park.fd >= 0 {
		err = a.idleWait() // lingers, then parks (a Receive: told by holdTick, errPullIdle)
	} else {
		for {
			if !a.pulling {
				a.goWait.Add(1)
			}
			err = a.rd.readIdle()
			if !a.pulling {
				a.goWait.Add(1)
			}
			if err != errWanted {
				break
			}
			if a.c.pullWant.Load() > 0 && a.release() {
				return errParked
			}
		}
	}
	if err == nil && raw.waited {
		// The peer's bytes came after a wait: what the consumer sends next
		// answers them, and is written at once (writer.enqueue).
		a.c.w.answer.Store(true)
	}
	return err
}
