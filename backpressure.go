package wsactor

import (
	"runtime"
	"strconv"
	"time"
)

// Policy decides what the actor does with an incoming message when the
// Events() channel is full (by count, or by the EventBytes budget).
type Policy int

const (
	// Block (default): the actor stops reading until the consumer catches
	// up. TCP flow control then slows the server; memory stays bounded.
	Block Policy = iota
	// DropNewest drops the message that does not fit. Drops are counted in
	// Stats().Dropped.
	DropNewest
	// DropOldest drops the oldest undelivered message to make room. Drops are
	// counted in Stats().Dropped.
	DropOldest
	// Disconnect fails the connection with close code 1008 and cause
	// ErrSlowConsumer.
	Disconnect
)

func (p Policy) String() string {
	switch p {
	case Block:
		return "block"
	case DropNewest:
		return "drop-newest"
	case DropOldest:
		return "drop-oldest"
	case Disconnect:
		return "disconnect"
	}
	return "Policy(" + strconv.Itoa(int(p)) + ")"
}

// WithInboundPolicy sets what happens when the event channel is full
// (default Block).
func WithInboundPolicy(p Policy) Option { return func(c *config) { c.policy = p } }

// inflight tracks the sizes of messages in the channel, oldest first, so
// the byte budget can be enforced without hooking the consumer's receive:
// the channel is FIFO with a single sender, so the messages still in it are
// the last len(ch) sent.
type inflight struct {
	sizes []int64 // ring buffer
	head  int
	n     int
	bytes int64
}

func (f *inflight) sync(inChan int) {
	for f.n > max(inChan, 0) {
		f.bytes -= f.sizes[f.head]
		f.head = (f.head + 1) % len(f.sizes)
		f.n--
	}
}

func (f *inflight) push(size int64, capacity int) {
	if f.sizes == nil {
		f.sizes = make([]int64, capacity+1)
	}
	if f.n == len(f.sizes) { // cannot happen with one sender; keep the ring consistent
		f.sync(f.n - 1)
	}
	f.sizes[(f.head+f.n)%len(f.sizes)] = size
	f.n++
	f.bytes += size
}

// yieldBytes: events of at least this many payload bytes hand the P to
// the consumer on a runtime with one P (see deliverData).
const yieldBytes = 32 << 10

// deliverOpen sends Open: the channel is empty at this point, so it never
// waits (and makes no stop channel). It may be the provisional channel:
// c.mu keeps eventsLocked from moving its content meanwhile.
func (c *Conn) deliverOpen(ev *Open) {
	c.mu.Lock()
	c.events <- ev
	c.mu.Unlock()
	c.kick()
}

// deliverMessage hands m to the consumer according to the policy. It
// returns a non-nil error only when the connection must end.
func (a *actor) deliverMessage(m *Message) error {
	return a.deliverData(m, int64(len(m.Data)), 1)
}

// deliverBatch hands over several messages as one *Batch event.
func (a *actor) deliverBatch(b *Batch) error {
	var size int64
	for _, m := range b.Messages {
		size += int64(len(m.Data))
	}
	return a.deliverData(b, size, len(b.Messages))
}

// eventMessages is how many messages an undelivered event carries.
func eventMessages(ev Event) uint64 {
	if b, ok := ev.(*Batch); ok {
		return uint64(len(b.Messages))
	}
	return 1
}

// deliverData hands a data event (size payload bytes, count messages) to
// the consumer according to the policy.
func (a *actor) deliverData(m Event, size int64, count int) error {
	c := a.c
	ch := c.eventsFor(DefaultEventBuffer)
	if a.pulling && a.pulled == nil && len(ch) == 0 {
		// A Receive caller runs the actor and nothing is queued before
		// this event: it returns the event itself (see actor.pull).
		a.pulled = m
		return nil
	}
	f := &a.flight
	budget := c.lim.eventBytes
	for {
		n := len(ch)
		f.sync(n)
		// The lossy policies never use the channel's last slot: it is kept
		// for the terminal event, so ending never drops a message that the
		// policy chose to keep.
		limit := cap(ch)
		if Policy(c.policy) != Block {
			limit--
		}
		fits := n < limit && (n == 0 || f.bytes+size <= budget)
		if fits {
			ch <- m // never blocks: the actor is the only sender
			f.push(size, cap(ch))
			c.kick()
			if n > 0 && size >= yieldBytes && runtime.GOMAXPROCS(0) == 1 {
				// With one P the consumer runs only when the actor
				// blocks: in a stream the actor would fill the channel
				// first, and the buffers in flight (up to its capacity
				// times 256 KiB) outgrow the CPU's caches, so the kernel
				// copies into cold memory and the consumer reads it
				// cold. When an earlier event still waits, hand the P
				// to the consumer (made runnable by a send): at most two
				// large events are in flight. A lone event (a reply)
				// does not yield: the actor is about to wait anyway.
				runtime.Gosched()
			}
			return nil
		}
		switch Policy(c.policy) {
		case DropNewest:
			c.stats.dropped.Add(1)
			return nil
		case DropOldest:
			select {
			case <-ch:
				f.sync(f.n - 1)
				c.stats.dropped.Add(1)
			default:
			}
			continue
		case Disconnect:
			c.stats.dropped.Add(1) // counted in, never delivered
			return a.failWith(StatusPolicyViolation, ErrSlowConsumer)
		}
		// Block.
		if c.isStopped() {
			// Close or Abort was called: do not wait for a consumer that may
			// be gone; the message is dropped like data after our close.
			c.stats.dropped.Add(1)
			return nil
		}
		if n < cap(ch) {
			// Over the byte budget only: wait for the consumer to take
			// something. The consumer's receive cannot be hooked, so poll
			// with a backoff (rare: a consumer far behind).
			a.waitDrain(n)
			continue
		}
		select {
		case ch <- m:
			f.sync(len(ch) - 1)
			f.push(size, cap(ch))
			c.kick()
			return nil
		case <-c.stopCh():
		}
	}
}

// waitDrain waits until the channel holds fewer than n events or Close or
// Abort is called.
func (a *actor) waitDrain(n int) {
	c := a.c
	d := 20 * time.Microsecond
	t := time.NewTimer(d)
	defer t.Stop()
	stop := c.stopCh()
	for len(c.evch()) >= n && n > 0 {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		d = min(2*d, 5*time.Millisecond)
		t.Reset(d)
	}
}

func (c *Conn) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// stopCh is closed once Close or Abort is called. It is made on first use:
// only a delivery that must wait for the consumer needs it, and most
// connections never do.
func (c *Conn) stopCh() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop == nil {
		c.stop = make(chan struct{})
		if c.stopped {
			close(c.stop)
		}
	}
	return c.stop
}

// deliverTerminal puts the terminal event in the channel. Under the lossy
// policies its slot is reserved. Under Block, if the consumer is not keeping
// up and Close or Abort was called, the oldest undelivered events are
// dropped to make room, so the connection always ends: nothing outlives
// Close.
func (c *Conn) deliverTerminal(ch chan Event, ev Event) {
	c.putTerminal(ch, ev)
	c.kick()
}

func (c *Conn) putTerminal(ch chan Event, ev Event) {
	for {
		select {
		case ch <- ev:
			return
		default:
		}
		if c.isStopped() {
			select {
			case old := <-ch:
				c.stats.dropped.Add(eventMessages(old))
			default:
			}
			continue
		}
		select {
		case ch <- ev:
			return
		case <-c.stopCh():
		}
	}
}
