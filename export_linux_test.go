package wsactor

// ParkedKeeps reports what c's parked actor keeps for speed while messages
// flow (see trimIdle): in-flight ring slots, batch array capacity and
// stocks of released messages; -1s if it is not parked. It looks under the
// poller's lock, which any resume takes first.
func ParkedKeeps(c *Conn) (ring, batch, stocks int) {
	a := c.act()
	if a == nil {
		return -1, -1, -1
	}
	p := &sharedPoller
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.park.id == 0 || p.parked[a.park.id] != a {
		return -1, -1, -1
	}
	if a.actorHot == nil {
		// Its reading state (batch array, stocks) went back to hotPool,
		// emptied by actorHot.reset (TestActorHotReset).
		return len(a.flight.sizes), 0, 0
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

// ParkedHot reports whether c's parked actor still holds its reading state
// (actorHot) or its writer its raw writer, rather than having given them
// back to their pools; false if it is not parked.
func ParkedHot(c *Conn) bool {
	a := c.act()
	if a == nil {
		return false
	}
	p := &sharedPoller
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.park.id == 0 || p.parked[a.park.id] != a {
		return false
	}
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	return a.actorHot != nil || c.w.raw != nil
}
