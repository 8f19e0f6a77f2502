package wsactor

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// callbacks is the adapter that turns the event channel into handler calls.
// A dispatcher goroutine consumes Events() and calls the handlers registered
// for each event's type, in registration order, one event at a time (FIFO
// across types). The dispatcher runs only while events are waiting: it
// exits when the channel is empty and the actor starts one again with the
// next event (kick), so an idle connection with callbacks holds no
// goroutine of its own. While the actor lingers in its idle read before
// parking (a busy connection, see actor.armLinger) a dispatcher that finds
// the channel empty waits there for the next event instead, so messages
// that trickle in one at a time (replies) are each handed to a waiting
// goroutine rather than each starting one; when the linger ends without a
// frame the actor tells it to stop (lingerEnded).
//
// Dispatch works on a snapshot: the handler lists are immutable slices
// replaced on every change, so a handler cancelled during an event still
// runs for that event and one added during an event first runs for the next.
type callbacks struct {
	mu      sync.Mutex
	nextID  uint64
	any     atomic.Bool // a handler was registered: callbacks own Events()
	set     atomic.Pointer[handlerSet]
	running atomic.Bool  // a dispatcher goroutine runs
	run     func() error // the dispatcher goroutine's body (c.mu guards it)

	// linger is set while the actor lingers in its idle read (armLinger):
	// a dispatcher that empties the channel then waits for the next event
	// or on stop, which the actor signals when it clears linger. The
	// dispatcher makes stop (capacity 1) before its first wait and drops
	// it when it exits, so an idle connection keeps none.
	linger atomic.Bool
	stop   atomic.Pointer[chan struct{}]
	starts atomic.Uint32 // dispatchers started (tests)

	// Messages released inside their handler, recycled by the dispatcher
	// (only the running dispatcher touches it; flushed whenever it finds
	// the channel empty, before it waits or stops).
	released releaseStock
}

// Message.cb states: a message released while its handlers run is recycled
// by the dispatcher once they return, through its releaseStock, rather than
// one pool operation per message.
const (
	cbIdle uint32 = iota
	cbRunning
	cbReleased
)

type handler[T any] struct {
	id uint64
	fn func(T)
}

type handlerSet struct {
	open  []handler[*Open]
	msg   []handler[*Message]
	close []handler[*Close]
	err   []handler[*Error]
}

func (cb *callbacks) snapshot() *handlerSet {
	if s := cb.set.Load(); s != nil {
		return s
	}
	return &handlerSet{}
}

// update applies change to a copy of the current set under the lock.
func (cb *callbacks) update(change func(s *handlerSet)) {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	old := cb.snapshot()
	s := &handlerSet{
		open:  append([]handler[*Open](nil), old.open...),
		msg:   append([]handler[*Message](nil), old.msg...),
		close: append([]handler[*Close](nil), old.close...),
		err:   append([]handler[*Error](nil), old.err...),
	}
	change(s)
	cb.set.Store(s)
}

func remove[T any](hs []handler[T], id uint64) []handler[T] {
	out := hs[:0]
	for _, h := range hs {
		if h.id != id {
			out = append(out, h)
		}
	}
	return out
}

// callbacks returns the connection's handler registry, made by the first
// registration: a connection consumed through Events() or Receive never
// pays for it.
func (c *Conn) callbacks() *callbacks {
	if cb := c.cb.Load(); cb != nil {
		return cb
	}
	c.cb.CompareAndSwap(nil, new(callbacks))
	return c.cb.Load()
}

func (c *Conn) register(add func(s *handlerSet, id uint64), del func(s *handlerSet, id uint64)) func() {
	cb := c.callbacks()
	cb.mu.Lock()
	cb.nextID++
	id := cb.nextID
	cb.mu.Unlock()
	cb.update(func(s *handlerSet) { add(s, id) })
	cb.any.Store(true)
	c.mu.Lock()
	c.eventsLocked(DefaultEventBuffer)
	c.startDispatcherLocked() // events may be waiting already
	c.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { cb.update(func(s *handlerSet) { del(s, id) }) }) }
}

// OnOpen registers fn for the Open event and returns its cancel func
// (idempotent). Handlers registered before Connect are guaranteed to see
// Open. Registering any handler makes the callbacks consume Events().
func (c *Conn) OnOpen(fn func(*Open)) (cancel func()) {
	return c.register(
		func(s *handlerSet, id uint64) { s.open = append(s.open, handler[*Open]{id, fn}) },
		func(s *handlerSet, id uint64) { s.open = remove(s.open, id) })
}

// OnMessage registers fn for every Message event. See OnOpen.
func (c *Conn) OnMessage(fn func(*Message)) (cancel func()) {
	return c.register(
		func(s *handlerSet, id uint64) { s.msg = append(s.msg, handler[*Message]{id, fn}) },
		func(s *handlerSet, id uint64) { s.msg = remove(s.msg, id) })
}

// OnClose registers fn for the Close event. See OnOpen.
func (c *Conn) OnClose(fn func(*Close)) (cancel func()) {
	return c.register(
		func(s *handlerSet, id uint64) { s.close = append(s.close, handler[*Close]{id, fn}) },
		func(s *handlerSet, id uint64) { s.close = remove(s.close, id) })
}

// OnError registers fn for the Error event. See OnOpen.
func (c *Conn) OnError(fn func(*Error)) (cancel func()) {
	return c.register(
		func(s *handlerSet, id uint64) { s.err = append(s.err, handler[*Error]{id, fn}) },
		func(s *handlerSet, id uint64) { s.err = remove(s.err, id) })
}

// kick starts the dispatcher if callbacks are registered and none runs.
// The actor calls it after every event it puts in the channel: an atomic
// load while a dispatcher runs.
func (c *Conn) kick() {
	if cb := c.cb.Load(); cb == nil || !cb.any.Load() || cb.running.Load() {
		return
	}
	c.mu.Lock()
	c.startDispatcherLocked()
	c.mu.Unlock()
}

// startDispatcherLocked starts a dispatcher unless one runs or the
// connection has no live goroutine (not started, or over). Callers have
// registered a handler (c.cb is set, cb.any); c.mu is held.
func (c *Conn) startDispatcherLocked() {
	cb := c.cb.Load()
	if c.live == 0 || !cb.running.CompareAndSwap(false, true) {
		return
	}
	c.live++
	cb.starts.Add(1)
	if cb.run == nil {
		// Built once: a dispatcher may start once per message when
		// messages trickle in to an actor that does not linger.
		cb.run = func() error {
			defer c.exitMember()
			c.dispatch(cb)
			return nil
		}
	}
	c.group.Go(cb.run)
}

// dispatch runs handlers for every waiting event and returns when the
// channel is empty and the actor does not linger (or the channel is
// closed). A panicking handler is recovered and logged on the rerror
// channel; the other handlers still run and the connection lives on.
func (c *Conn) dispatch(cb *callbacks) {
	// Made by the registration that set cb.any, unless a kick got here
	// first (between cb.any and that registration's eventsLocked).
	ch := c.eventsFor(DefaultEventBuffer)
	defer cb.stop.Store(nil) // a signal sent after this is for nobody
	for {
		ev, ok, got := c.nextEvent(cb, ch)
		switch {
		case !got:
			// Stop, unless an event arrived after the check and its kick
			// saw this dispatcher still running (the store and the
			// actor's load order the two sides).
			cb.running.Store(false)
			if len(ch) == 0 || !cb.running.CompareAndSwap(false, true) {
				return
			}
		case !ok:
			cb.released.flush()
			return // nothing is delivered after the close
		default:
			c.handle(cb, ev)
		}
	}
}

// nextEvent takes the next event from ch (ok false: ch is closed). When
// the channel is empty it waits for one while the actor lingers, and
// reports got false when the dispatcher should stop instead.
func (c *Conn) nextEvent(cb *callbacks, ch <-chan Event) (ev Event, ok, got bool) {
	select {
	case ev, ok = <-ch:
		return ev, ok, true
	default:
	}
	cb.released.flush()
	if !cb.linger.Load() {
		return nil, false, false
	}
	stop := cb.stop.Load()
	if stop == nil {
		s := make(chan struct{}, 1)
		stop = &s
		cb.stop.Store(stop)
		// Look again now that lingerEnded can see stop: if it ran in
		// between, it found none to signal.
		if !cb.linger.Load() {
			return nil, false, false
		}
	}
	select {
	case ev, ok = <-ch:
		return ev, ok, true
	case <-*stop:
		return nil, false, false
	}
}

// lingerEnded tells a dispatcher waiting for the next event to stop: the
// actor's linger ended without a frame (it parks, or reads on without a
// linger). The actor calls it.
func (c *Conn) lingerEnded() {
	cb := c.cb.Load()
	if cb == nil || !cb.linger.Load() {
		return
	}
	cb.linger.Store(false)
	if stop := cb.stop.Load(); stop != nil {
		select {
		case *stop <- struct{}{}:
		default: // one is pending already
		}
	}
}

func (c *Conn) handle(cb *callbacks, ev Event) {
	s := cb.snapshot()
	switch e := ev.(type) {
	case *Open:
		runAll(c, s.open, e)
	case *Message:
		c.handleMessage(cb, s, e)
	case *Batch:
		for i, m := range e.Messages {
			if i > 0 {
				s = cb.snapshot() // each message is an event of its own
			}
			c.handleMessage(cb, s, m)
		}
		e.recycle() // handlers saw messages, never the Batch: reuse it
	case *Close:
		runAll(c, s.close, e)
	case *Error:
		runAll(c, s.err, e)
	}
}

// handleMessage runs the message handlers; a Release called by one of
// them takes effect when they have all returned.
func (c *Conn) handleMessage(cb *callbacks, s *handlerSet, m *Message) {
	m.cb.Store(cbRunning)
	runAll(c, s.msg, m)
	if m.cb.Swap(cbIdle) == cbReleased {
		cb.released.put(m)
	}
}

func runAll[T any](c *Conn, hs []handler[T], ev T) {
	for _, h := range hs {
		safeCall(c, h.fn, ev)
	}
}

func safeCall[T any](c *Conn, fn func(T), ev T) {
	defer func() {
		if r := recover(); r != nil {
			if c.logs.eon(elogRerror) {
				c.logs.elog(elogRerror, "event handler panicked", strAttr("panic", fmt.Sprint(r)))
			}
		}
	}()
	fn(ev)
}
