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
}

const (
	msgSlab       = 32
	smallMax      = 256
	smallChunk    = 8 << 10
	minClassShift = 4  // 16 B
	maxClassShift = 16 // 64 KiB == growStep
)

var msgPools [maxClassShift - minClassShift + 1]sync.Pool

// classOf is the index of the smallest class holding n bytes (1 <= n <= 64 KiB).
func classOf(n int) int {
	shift := bits.Len(uint(n - 1))
	if shift < minClassShift {
		shift = minClassShift
	}
	return shift - minClassShift
}

func classSize(k int) int { return 1 << (k + minClassShift) }

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
	if m.released {
		return // a misuse caught only while m is still in the pool
	}
	m.Data = nil
	if m.own == nil {
		return
	}
	k := classOf(cap(m.own))
	if cap(m.own) != classSize(k) {
		return
	}
	m.released = true
	m.conn = nil
	msgPools[k].Put(m)
}
