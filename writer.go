package wsactor

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// writer owns the write side of the socket. Senders encode and mask their
// frame straight into the pending buffer under mu (the one copy masking
// needs); a writer goroutine, started only while something is pending and
// gone when the queue is empty, swaps the buffer out and writes everything
// queued in one Write call. So an idle connection has no writer goroutine
// and holds no write buffer, a burst of small messages costs few syscalls,
// and frames are never interleaved.
//
// Order: data frames and the close frame are written in the order they were
// queued; control frames (pongs) jump ahead of queued data, never into the
// middle of a frame. Nothing is queued after the close frame.
type writer struct {
	c   *Conn
	mu  sync.Mutex
	raw *rawWriter // the socket's raw side for inline writes (c.ac.rc's); nil for TLS and wrappers, and while idle (trimIdle)

	buf   *wbuf // pending frames (data and close), nil when empty
	ctrl  *wbuf // pending pongs and pings
	count int   // messages in buf

	opened      bool          // open was called: c.nc is set (and never changes)
	active      bool          // a writer goroutine is running
	closed      bool          // no more data frames: not open yet, close queued or dead
	closeQueued bool          // the close frame is in buf (or written)
	closeIn     bool          // the close frame is part of the batch being written
	closeDone   bool          // the close frame has been written
	sentCode    StatusCode    // code of the close frame we queued
	written     chan struct{} // closed once the close frame has been written; made by awaitCloseWritten
	dead        error         // a write failed or the connection ended
	space       chan struct{} // closed when room frees up; nil if nobody waits
	lastSend    monoTime      // when the last Send returned
	answer      atomic.Bool   // the peer's bytes were read since (see idleRead, pull): the next Send writes inline

	wg sync.WaitGroup
}

type wbuf struct{ b []byte }

// Write buffers come from pools of power-of-two classes (4 KiB .. 8 MiB),
// and a buffer that must grow is swapped for one of the next class instead
// of being regrown by append: a sustained stream of sends reuses the same
// few buffers and allocates nothing. Idle connections hold none.
const (
	wbufMinShift = 12 // 4 KiB
	wbufMaxShift = 23 // 8 MiB, above the default send queue's byte bound
)

var wbufPools [wbufMaxShift - wbufMinShift + 1]sync.Pool

// getWbuf returns an empty buffer with room for at least n bytes.
func getWbuf(n int) *wbuf {
	k := pow2Class(max(n, 1), wbufMinShift)
	if k < len(wbufPools) {
		if b, ok := wbufPools[k].Get().(*wbuf); ok {
			return b
		}
	}
	return &wbuf{b: make([]byte, 0, 1<<(k+wbufMinShift))}
}

func putWbuf(b *wbuf) {
	if b == nil {
		return
	}
	k := pow2Class(cap(b.b), wbufMinShift)
	if k < len(wbufPools) && cap(b.b) == 1<<(k+wbufMinShift) {
		b.b = b.b[:0]
		wbufPools[k].Put(b)
	}
}

// room returns b (or a larger buffer with b's bytes) with room for n more
// bytes; b may be nil.
func room(b *wbuf, n int) *wbuf {
	if b == nil {
		return getWbuf(n)
	}
	if cap(b.b)-len(b.b) >= n {
		return b
	}
	nb := getWbuf(len(b.b) + n)
	nb.b = append(nb.b, b.b...)
	putWbuf(b)
	return nb
}

func (w *writer) init(c *Conn) {
	w.c = c
	w.closed = true
}

// open lets the writer write to c.nc and, inline, through c.ac.rc (both set
// by the caller before, and never changed after) and starts accepting data
// frames. Nothing can be queued before: Send needs StateOpen, and the close
// frame of a Close called during the handshake is queued by the actor after
// open.
func (w *writer) open(acceptData bool) {
	w.mu.Lock()
	w.opened = true
	w.raw = newRawWriter(w.c.ac.rc)
	w.closed = !acceptData
	w.mu.Unlock()
}

// frameSize is the encoded size of a client frame with an n-byte payload.
func frameSize(n int) int {
	switch {
	case n <= 125:
		return 6 + n
	case n <= 0xffff:
		return 8 + n
	}
	return 14 + n
}

// appendFrame appends a masked, final frame with opcode op and payload p.
func appendFrame(dst []byte, op byte, p []byte) []byte {
	n := len(p)
	switch {
	case n <= 125:
		dst = append(dst, 0x80|op, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|op, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|op, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	key := maskKey()
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], key, 0)
	return dst
}

// enqueue queues one data message; block false is TrySend.
func (w *writer) enqueue(ctx context.Context, op byte, p []byte, block bool) error {
	size := frameSize(len(p))
	lim := &w.c.lim
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return ErrNotOpen
		}
		pending := 0
		if w.buf != nil {
			pending = len(w.buf.b)
		}
		if w.c.ac.rc != nil && w.buf == nil && w.ctrl == nil && !w.active && w.dead == nil &&
			(monoNow()-w.lastSend > monoTime(inlineGap) || w.answer.Swap(false)) {
			return w.writeInline(op, p) // unlocks
		}
		if w.count == 0 || (w.count < lim.sendQueue && int64(pending+size) <= lim.sendQueueBytes) {
			w.buf = room(w.buf, size)
			w.buf.b = appendFrame(w.buf.b, op, p)
			w.count++
			w.c.stats.msgsOut.Add(1)
			w.c.stats.bytesOut.Add(uint64(len(p)))
			w.kickLocked()
			w.lastSend = monoNow()
			w.mu.Unlock()
			return nil
		}
		if !block {
			w.mu.Unlock()
			return ErrQueueFull
		}
		if w.space == nil {
			w.space = make(chan struct{})
		}
		ch := w.space
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// inlineGap is how long the connection must have been quiet for Send to
// write its frame itself instead of handing it to a writer goroutine. A
// lone message (a request, a sequential echo) then costs one Write and no
// goroutine hand-off; back-to-back Sends (a burst, a pipeline) still queue
// behind the writer and leave in one coalesced Write. A Send that follows a
// Receive which read from the socket writes inline whatever the gap: on one
// CPU the peer's reply often arrives while our write is still returning
// (the peer runs at once), so the next request would look like a burst.
const inlineGap = 2 * time.Microsecond

// trimIdle gives the raw writer back to its pool while the connection is
// idle (its actor parks); the next inline write takes one again.
func (w *writer) trimIdle() {
	w.mu.Lock()
	if !w.active && w.raw != nil {
		putRawWriter(w.raw)
		w.raw = nil
	}
	w.mu.Unlock()
}

// writeInline writes one frame from the caller's goroutine, which holds the
// writer role (active) meanwhile. w.mu is held on entry and released.
func (w *writer) writeInline(op byte, p []byte) error {
	w.active = true
	out := getWbuf(frameSize(len(p)))
	out.b = appendFrame(out.b, op, p)
	w.c.stats.msgsOut.Add(1)
	w.c.stats.bytesOut.Add(uint64(len(p)))
	if w.raw == nil {
		w.raw = newRawWriter(w.c.ac.rc) // given back while the connection was idle
	}
	raw := w.raw
	w.mu.Unlock()

	w.c.stats.writeCalls.Add(1) // before the write: a reply can never overtake the count
	n, err := raw.tryWrite(out.b)

	w.mu.Lock()
	w.lastSend = monoNow()
	w.active = false
	if err == nil && n < len(out.b) {
		// The socket is full: the rest goes first in the queue, to the
		// writer goroutine, which waits for the socket (Send does not).
		out.b = out.b[:copy(out.b, out.b[n:])]
		if w.buf != nil {
			out = room(out, len(w.buf.b))
			out.b = append(out.b, w.buf.b...)
			putWbuf(w.buf)
		}
		w.buf = out
		w.count++
		w.kickLocked()
		w.mu.Unlock()
		return nil
	}
	putWbuf(out)
	if err != nil {
		// The frame was accepted (counted) but the connection failed; the
		// terminal event reports why, as for a queued frame.
		if w.dead == nil {
			w.dead = err
		}
		w.closed = true
		w.wakeLocked()
		w.mu.Unlock()
		w.c.fail(err) // takes c.mu: never while holding w.mu
		return nil
	}
	if w.buf != nil || w.ctrl != nil {
		w.kickLocked() // others queued while we wrote
	}
	w.mu.Unlock()
	return nil
}

// write sends one batch with the write timeout.
func (w *writer) write(nc net.Conn, out *wbuf) error {
	if wt := w.c.lim.writeTimeout; wt > 0 {
		_ = nc.SetWriteDeadline(time.Now().Add(wt))
	}
	w.c.stats.writeCalls.Add(1) // before the write: a reply can never overtake the count
	_, err := nc.Write(out.b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = ErrWriteTimeout
	}
	return err
}

// enqueueControl queues a ping or pong; it is dropped once the close frame
// has been queued (RFC 6455 5.5.1: nothing after close).
func (w *writer) enqueueControl(op byte, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeQueued || w.dead != nil || !w.opened {
		return
	}
	w.ctrl = room(w.ctrl, frameSize(len(p)))
	w.ctrl.b = appendFrame(w.ctrl.b, op, p)
	w.kickLocked()
}

// enqueueClose queues the close frame after everything queued so far. It
// reports false if a close frame was already queued (only one is ever sent).
func (w *writer) enqueueClose(code StatusCode, reason string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closeQueued || w.dead != nil {
		return false
	}
	w.closeQueued = true
	w.sentCode = code
	w.closed = true
	w.wakeLocked()
	w.appendCloseLocked(reason)
	return true
}

func (w *writer) appendCloseLocked(reason string) {
	var body [125]byte
	binary.BigEndian.PutUint16(body[:], uint16(w.sentCode))
	n := 2 + copy(body[2:], reason)
	w.buf = room(w.buf, frameSize(n))
	w.buf.b = appendFrame(w.buf.b, byte(ws.OpClose), body[:n])
	w.kickLocked()
}

func (w *writer) kickLocked() {
	if !w.active && w.opened && w.dead == nil {
		w.active = true
		w.wg.Add(1)
		go w.loop()
	}
}

func (w *writer) wakeLocked() {
	if w.space != nil {
		close(w.space)
		w.space = nil
	}
}

// loop writes everything pending, then exits.
func (w *writer) loop() {
	defer w.wg.Done()
	var out *wbuf
	for {
		w.mu.Lock()
		if out != nil {
			putWbuf(out)
			out = nil
		}
		if w.dead != nil || (w.buf == nil && w.ctrl == nil) {
			w.active = false
			w.mu.Unlock()
			return
		}
		switch {
		case w.ctrl == nil:
			out, w.buf = w.buf, nil
		case w.buf == nil:
			out, w.ctrl = w.ctrl, nil
		default:
			out = room(w.ctrl, len(w.buf.b))
			out.b = append(out.b, w.buf.b...)
			putWbuf(w.buf)
			w.ctrl, w.buf = nil, nil
		}
		w.closeIn = w.closeQueued
		w.count = 0
		w.wakeLocked()
		nc := w.c.nc // written before open, under w.mu
		w.mu.Unlock()

		if err := w.write(nc, out); err != nil {
			w.mu.Lock()
			if w.dead == nil {
				w.dead = err
			}
			w.closed = true
			w.wakeLocked()
			w.active = false
			w.mu.Unlock()
			putWbuf(out)
			w.c.fail(err)
			return
		}
		if w.closeIn {
			w.mu.Lock()
			if w.closeIn {
				w.closeIn = false
				w.closeDone = true
				if w.written != nil {
					close(w.written)
				}
			}
			w.mu.Unlock()
		}
	}
}

// shutdown stops the writer for good and waits for its goroutine. The
// socket must already be closed so that a blocked Write returns.
func (w *writer) shutdown() {
	w.mu.Lock()
	if w.dead == nil {
		w.dead = net.ErrClosed
	}
	w.closed = true
	w.wakeLocked()
	w.mu.Unlock()
	w.wg.Wait()
	w.mu.Lock()
	putWbuf(w.buf)
	putWbuf(w.ctrl)
	w.buf, w.ctrl = nil, nil
	w.mu.Unlock()
}

// queued reports the messages and bytes waiting to be written.
func (w *writer) queued() (int, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	if w.buf != nil {
		n = len(w.buf.b)
	}
	return w.count, n
}

// Masking keys come from crypto/rand in batches (RFC 6455 10.3: the key
// must be unpredictable); a pool of batches keeps senders on different
// connections from contending for one lock.
type keyBatch struct {
	b [512]byte
	i int
}

var keyPool = sync.Pool{New: func() any { return &keyBatch{i: 512} }}

func maskKey() (k [4]byte) {
	kb := keyPool.Get().(*keyBatch)
	if kb.i+4 > len(kb.b) {
		_, _ = rand.Read(kb.b[:]) // never fails on supported platforms (Go 1.24+)
		kb.i = 0
	}
	copy(k[:], kb.b[kb.i:kb.i+4])
	kb.i += 4
	keyPool.Put(kb)
	return k
}
