package wsactor

import (
	"math/bits"
	"sync"
)

// payloadAlloc amortises the allocations of received messages. Message
// structs are carved from slabs, and payloads of small messages from
// shared chunks (each payload a capacity-limited sub-slice, so appending
// to one never touches another). A consumer that keeps one small message
// keeps its slab and chunk alive: at most msgSlab messages and smallChunk
// bytes, a bounded cost traded for far fewer allocations per message.
type payloadAlloc struct {
	msgs  []Message
	chunk []byte
}

// Payloads from smallMax to growStep bytes come from size-class pools
// (powers of two). Message.Release returns them; a message that is never
// released is simply collected, so releasing is an optimisation, never an
// obligation.
type pooledBuf struct{ b []byte }

const (
	minClassShift = 9  // 512 B
	maxClassShift = 16 // 64 KiB == growStep
)

var payloadPools [maxClassShift - minClassShift + 1]sync.Pool

func classOf(n int) int {
	shift := bits.Len(uint(n - 1))
	if shift < minClassShift {
		shift = minClassShift
	}
	return shift - minClassShift
}

// pooledPayload returns a buffer of length 0 and capacity >= n (a power of
// two) and its pool handle.
func pooledPayload(n int) ([]byte, *pooledBuf) {
	k := classOf(n)
	if p, ok := payloadPools[k].Get().(*pooledBuf); ok {
		return p.b[:0], p
	}
	return make([]byte, 0, 1<<(k+minClassShift)), nil // wrapped on Release
}

// Release gives the message's payload back to the connection's buffer
// pools. After Release, m.Data is nil and the bytes it held must not be
// used. Optional: without it the payload is garbage collected as usual. It
// pays off for messages from 512 B to 64 KiB received at a high rate.
func (m *Message) Release() {
	switch {
	case m.buf != nil:
		payloadPools[classOf(cap(m.buf.b))].Put(m.buf)
	case cap(m.Data) >= 1<<minClassShift && cap(m.Data) <= 1<<maxClassShift && cap(m.Data)&(cap(m.Data)-1) == 0:
		payloadPools[classOf(cap(m.Data))].Put(&pooledBuf{b: m.Data[:cap(m.Data)]})
	}
	m.buf = nil
	m.Data = nil
}

const (
	msgSlab    = 32
	smallMax   = 256
	smallChunk = 8 << 10
)

func (p *payloadAlloc) message() *Message {
	if len(p.msgs) == 0 {
		p.msgs = make([]Message, msgSlab)
	}
	m := &p.msgs[0]
	p.msgs = p.msgs[1:]
	return m
}

// payload returns an empty slice with capacity n for a payload.
func (p *payloadAlloc) payload(n int) []byte {
	if n > smallMax {
		return make([]byte, 0, n)
	}
	if len(p.chunk) < n {
		p.chunk = make([]byte, smallChunk)
	}
	b := p.chunk[:0:n]
	p.chunk = p.chunk[n:]
	return b
}
