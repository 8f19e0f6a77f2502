package wsactor

import (
	"math/bits"
	"sync"
)

// Allocation of received messages.
//
// A single-frame message of up to 64 KiB is built in a Message that owns a
// buffer of a power-of-two size class (16 B .. 64 KiB). Message.Release
// puts the Message and its buffer in the class's pool, so a consumer that
// releases receives without allocating. A consumer that does not release
// still pays little: when a pool is empty, Message structs are carved from
// slabs of msgSlab and buffers of 256 B or less from shared chunks of
// smallChunk bytes (capacity-limited sub-slices, so appending to one never
// touches another). Keeping one such message keeps its slab and chunk
// alive: a bounded cost for far fewer allocations. Fragmented and larger
// messages are grown as their bytes arrive and are not pooled.
type payloadAlloc struct {
	msgs  []Message
	chunk []byte
	stock *releaseStock // stocks taken from stockPools for reuse; allocated on first use
}

// msgStock is a batch of released messages of one size class: Batch.Release
// hands over a whole batch with one pool operation, and the actor takes it
// back the same way, so a consumer of batches recycles messages for a small
// fraction of a pool operation each.
type msgStock struct{ ms []*Message }

var (
	stockPools  [maxClassShift - minClassShift + 1]sync.Pool // full stocks, by class
	emptyStocks = sync.Pool{New: func() any { return &msgStock{ms: make([]*Message, 0, stockSize)} }}
)

const (
	stockSize     = 64 // released messages handed over per pool operation
	msgSlab       = 32
	smallMax      = 256
	smallChunk    = 8 << 10
	minClassShift = 4  // 16 B
	maxClassShift = 16 // 64 KiB == growStep
)

var msgPools [maxClassShift - minClassShift + 1]sync.Pool

// pow2Class is the index of the smallest power-of-two class, counting from
// 1<<minShift, that holds n bytes (n >= 1). The message pools here and the
// write-buffer pools in writer.go share it.
func pow2Class(n, minShift int) int {
	return max(bits.Len(uint(n-1)), minShift) - minShift
}

func classOf(n int) int   { return pow2Class(n, minClassShift) }
func classSize(k int) int { return 1 << (k + minClassShift) }

// returnStock hands the released messages taken for reuse back to the
// shared pools (a parking actor keeps none).
func (p *payloadAlloc) returnStock() {
	if p.stock != nil {
		p.stock.flush()
	}
}

// plain returns a Message with no buffer of its own.
func (p *payloadAlloc) plain() *Message {
	if len(p.msgs) == 0 {
		p.msgs = make([]Message, msgSlab)
	}
	m := &p.msgs[0]
	p.msgs = p.msgs[1:]
	return m
}

// sized returns a Message owning a buffer of at least n bytes (1 <= n <=
// 64 KiB), from the pool when one was released.
func (p *payloadAlloc) sized(n int) *Message {
	k := classOf(n)
	if p.stock != nil {
		if s := p.stock[k]; s != nil {
			m := s.ms[len(s.ms)-1]
			s.ms = s.ms[:len(s.ms)-1]
			if len(s.ms) == 0 {
				emptyStocks.Put(s)
				p.stock[k] = nil
			}
			m.released = false
			return m
		}
	}
	if s, ok := stockPools[k].Get().(*msgStock); ok && len(s.ms) > 0 {
		if p.stock == nil {
			p.stock = new(releaseStock)
		}
		p.stock[k] = s
		return p.sized(n)
	}
	if m, ok := msgPools[k].Get().(*Message); ok {
		m.released = false
		return m
	}
	m := p.plain()
	size := classSize(k)
	if size <= smallMax {
		if len(p.chunk) < size {
			p.chunk = make([]byte, smallChunk)
		}
		m.own = p.chunk[:size:size]
		p.chunk = p.chunk[size:]
	} else {
		m.own = make([]byte, size)
	}
	return m
}

// Release hands the message back to wsactor once the receiver is done with
// it: its Message struct and payload buffer are reused for a later message.
// After Release neither m nor the bytes of m.Data may be used, and Release
// must not be called again on it (the Message may already carry another
// payload). Calling it is optional (without it the message is garbage
// collected as usual) and pays off for high message rates.
func (m *Message) Release() {
	if m.cb.Load() == cbRunning && m.cb.CompareAndSwap(cbRunning, cbReleased) {
		return // inside its handler: the dispatcher recycles it (callbacks.go)
	}
	if m.released {
		return // a misuse caught only while m is still in the pool
	}
	m.Data = nil
	if m.own == nil {
		return
	}
	k, ok := m.class()
	if !ok {
		return
	}
	m.released = true
	m.conn = nil
	msgPools[k].Put(m)
}

// class reports the size class of the buffer m owns, if it can be pooled.
func (m *Message) class() (int, bool) {
	if m.own == nil {
		return 0, false
	}
	k := classOf(cap(m.own))
	return k, cap(m.own) == classSize(k)
}

// batchPool holds released Batch events with their Messages arrays, so a
// consumer that releases batches receives them without allocating.
var batchPool sync.Pool

// newBatch returns a Batch holding ms (copied), from batchPool when one was
// released.
func newBatch(c *Conn, ms []*Message) *Batch {
	b, _ := batchPool.Get().(*Batch)
	if b == nil {
		b = &Batch{Messages: make([]*Message, 0, maxBatch)}
	}
	b.conn = c
	b.Messages = append(b.Messages[:0], ms...)
	return b
}

// Release hands the batch and every message in it back to wsactor at once
// (see Message.Release): after it, neither the Batch, nor its messages, nor
// their Data may be used. Cheaper than releasing them one by one.
func (b *Batch) Release() {
	if b.conn == nil {
		return // released already
	}
	var rs releaseStock
	for _, m := range b.Messages {
		if !m.released {
			rs.put(m)
		}
	}
	rs.flush()
	b.recycle()
}

// releaseStock collects released messages by size class and hands them to
// stockPools a stock (up to stockSize) at a time: the actor then takes them
// back with one pool operation per stock instead of one per message.
// Batch.Release uses one for its messages, the callback dispatcher one for
// the messages released in handlers (only the running dispatcher touches
// it), and the actor's payloadAlloc one for the stocks it took (flushed
// when it parks).
type releaseStock [maxClassShift - minClassShift + 1]*msgStock

// put recycles m, which its receiver released.
func (rs *releaseStock) put(m *Message) {
	m.Data = nil
	k, ok := m.class()
	if !ok {
		return
	}
	m.released = true
	m.conn = nil
	s := rs[k]
	if s == nil {
		s = emptyStocks.Get().(*msgStock)
		rs[k] = s
	}
	s.ms = append(s.ms, m)
	if len(s.ms) == cap(s.ms) {
		stockPools[k].Put(s)
		rs[k] = nil
	}
}

// flush hands every partial stock over, so that nothing stays behind.
func (rs *releaseStock) flush() {
	for k, s := range rs {
		if s != nil {
			stockPools[k].Put(s)
			rs[k] = nil
		}
	}
}

// recycle puts the Batch itself (not its messages) back in batchPool.
func (b *Batch) recycle() {
	clear(b.Messages)
	b.Messages = b.Messages[:0]
	b.conn = nil
	if cap(b.Messages) == maxBatch {
		batchPool.Put(b)
	}
}
