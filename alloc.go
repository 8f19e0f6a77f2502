package wsactor

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
