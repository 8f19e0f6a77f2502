package wsactor

// ParkedKeeps reports what c's parked actor keeps for speed while messages
// flow (see trimIdle): in-flight ring slots, batch array capacity and
// stocks of released messages; -1s if it is not parked. It looks under the
// poller's lock, which any resume takes first.
func ParkedKeeps(c *Conn) (ring, batch, stocks int) {
	a := c.act.Load()
	if a == nil {
		return -1, -1, -1
	}
	p := &sharedPoller
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.park.id == 0 || p.parked[a.park.id] != a {
		return -1, -1, -1
	}
	if a.alloc.stock != nil {
		for _, s := range a.alloc.stock {
			if s != nil {
				stocks++
			}
		}
	}
	return len(a.flight.sizes), cap(a.batch), stocks
}
