package wsactor

import "sync/atomic"

type counters struct {
	msgsIn, bytesIn, msgsOut, bytesOut atomic.Uint64
	dropped, writeCalls                atomic.Uint64
}

// Stats is a snapshot of a connection's counters.
type Stats struct {
	MessagesIn  uint64 // messages received (delivered or dropped)
	BytesIn     uint64 // payload bytes received
	MessagesOut uint64 // messages accepted by Send
	BytesOut    uint64 // payload bytes accepted by Send
	Dropped     uint64 // events dropped by the inbound policy or at close
	WriteCalls  uint64 // socket Write calls (one per coalesced batch)
	QueuedOut   int    // messages waiting to be written
	QueuedBytes int    // encoded bytes waiting to be written
	EventsQueue int    // events in the channel, not yet received
}

// Stats returns the connection's counters. Cheap; safe from any goroutine.
func (c *Conn) Stats() Stats {
	n, b := c.w.queued()
	return Stats{
		MessagesIn:  c.stats.msgsIn.Load(),
		BytesIn:     c.stats.bytesIn.Load(),
		MessagesOut: c.stats.msgsOut.Load(),
		BytesOut:    c.stats.bytesOut.Load(),
		Dropped:     c.stats.dropped.Load(),
		WriteCalls:  c.stats.writeCalls.Load(),
		QueuedOut:   n,
		QueuedBytes: b,
		EventsQueue: len(c.evch()),
	}
}
