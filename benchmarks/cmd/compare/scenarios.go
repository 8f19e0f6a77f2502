package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario describes one benchmark. Count is messages (echo, pipe, push,
// round trips per connection for conc) or connections (idle); Conns is the
// number of connections for conc.
type Scenario struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // echo | pipe | push | idle | conc
	Size   int    `json:"size"`
	Count  int    `json:"count"`
	Conns  int    `json:"conns,omitempty"`
	Window int    `json:"window,omitempty"`
	Warmup int    `json:"warmup,omitempty"`
}

// Result is one client-process run; it is written as one JSON line.
type Result struct {
	Time      string             `json:"time"`
	Scenario  string             `json:"scenario"`
	Adapter   string             `json:"adapter"`
	Rep       int                `json:"rep"`
	Params    Scenario           `json:"params"`
	OK        bool               `json:"ok"`
	Truncated bool               `json:"truncated,omitempty"` // hit the time bound before Count
	Err       string             `json:"err,omitempty"`
	Metrics   map[string]float64 `json:"metrics"`
}

type env struct {
	adapter  Adapter
	addr     string // host:port of the echo server
	deadline time.Time
}

func (e *env) url(path string) string { return "ws://" + e.addr + path }

func (e *env) dial(path string) (Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	return e.adapter.Dial(ctx, e.url(path))
}

// dialOne dials the one connection of a single-connection scenario and
// arms the watchdog that closes it at the deadline (fired reports that it
// did).
func (e *env) dialOne(path string) (c Conn, fired *atomic.Bool, stop func() bool, err error) {
	c, err = e.dial(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("dial: %w", err)
	}
	fired = new(atomic.Bool)
	stop = e.watchdog(fired, func() []Conn { return []Conn{c} })
	return c, fired, stop, nil
}

// watchdog closes the connections at the deadline so that a stuck Run
// returns; the returned stop function disarms it.
func (e *env) watchdog(fired *atomic.Bool, conns func() []Conn) (stop func() bool) {
	t := time.AfterFunc(time.Until(e.deadline), func() {
		fired.Store(true)
		for _, c := range conns() {
			if c != nil {
				c.Close()
			}
		}
	})
	return t.Stop
}

func makePayload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte('a' + i%26)
	}
	return p
}

func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1 // nearest rank
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i])
}

func latencyMetrics(m map[string]float64, lat []int64) {
	slices.Sort(lat)
	m["p50_us"] = percentile(lat, 0.50) / 1e3
	m["p99_us"] = percentile(lat, 0.99) / 1e3
	m["max_us"] = percentile(lat, 1.0) / 1e3
}

func rateMetrics(m map[string]float64, ops int, bytesPerOp int, elapsed, cpu time.Duration) {
	m["ops"] = float64(ops)
	m["elapsed_s"] = elapsed.Seconds()
	m["cpu_s"] = cpu.Seconds()
	if elapsed > 0 {
		m["msgs_per_s"] = float64(ops) / elapsed.Seconds()
		m["mb_per_s"] = float64(ops) * float64(bytesPerOp) / 1e6 / elapsed.Seconds()
	}
	if ops > 0 {
		m["cpu_us_per_op"] = cpu.Seconds() * 1e6 / float64(ops)
		m["ns_per_op"] = float64(elapsed.Nanoseconds()) / float64(ops)
	}
}

func runScenario(e *env, s Scenario) (map[string]float64, bool, error) {
	switch s.Kind {
	case "echo":
		return runEcho(e, s)
	case "pipe":
		return runPipe(e, s)
	case "push":
		return runPush(e, s)
	case "idle":
		return runIdle(e, s)
	case "conc":
		return runConc(e, s)
	}
	return nil, false, fmt.Errorf("unknown scenario kind %q", s.Kind)
}

// runEcho: one connection, one message in flight; each reply triggers the
// next send from the receiving goroutine (gorilla/coder/raw: the read loop;
// gws: OnMessage; wsactor: the range-over-Events loop).
func runEcho(e *env, s Scenario) (map[string]float64, bool, error) {
	c, fired, stop, err := e.dialOne("/")
	if err != nil {
		return nil, false, err
	}
	defer stop()

	payload := makePayload(s.Size)
	total := s.Warmup + s.Count
	lat := make([]int64, 0, s.Count)
	var (
		sent, recv   int
		t0           time.Time
		start, end   time.Time
		cpu0, cpu1   time.Duration
		ferr         error
		truncated    bool
		finishedNorm bool
	)
	send := func() bool {
		if sent == s.Warmup {
			cpu0, start = cpuTime(), time.Now()
		}
		t0 = time.Now()
		if err := c.Write(payload); err != nil {
			ferr = fmt.Errorf("write: %w", err)
			return false
		}
		sent++
		return true
	}
	if !send() {
		c.Close()
		return nil, false, ferr
	}
	rerr := c.Run(func(p []byte) bool {
		now := time.Now()
		if len(p) != s.Size {
			ferr = fmt.Errorf("reply of %d bytes, want %d", len(p), s.Size)
			return false
		}
		recv++
		if recv > s.Warmup {
			lat = append(lat, now.Sub(t0).Nanoseconds())
		}
		if recv >= total || now.After(e.deadline) {
			end, cpu1 = now, cpuTime()
			truncated = recv < total
			finishedNorm = true
			return false
		}
		return send()
	})
	if ferr != nil {
		return nil, false, ferr
	}
	if !finishedNorm {
		if rerr == nil {
			rerr = errors.New("connection closed early")
		}
		if fired.Load() {
			rerr = fmt.Errorf("time bound reached: %w", rerr)
		}
		return nil, false, fmt.Errorf("after %d/%d replies: %w", recv, total, rerr)
	}
	ops := recv - s.Warmup
	m := map[string]float64{}
	rateMetrics(m, ops, s.Size, end.Sub(start), cpu1-cpu0)
	latencyMetrics(m, lat)
	return m, truncated, nil
}

// runPipe: one connection, a writer goroutine keeps up to Window messages in
// flight while the receiving goroutine consumes replies.
func runPipe(e *env, s Scenario) (map[string]float64, bool, error) {
	c, _, stopWD, err := e.dialOne("/")
	if err != nil {
		return nil, false, err
	}
	defer stopWD()

	payload := makePayload(s.Size)
	total := s.Warmup + s.Count
	sem := make(chan struct{}, s.Window)
	warmDone := make(chan struct{})
	stop := make(chan struct{})
	writerDone := make(chan struct{})
	var (
		start      time.Time
		cpu0       time.Duration
		werr       error
		recv       int
		end        time.Time
		cpu1       time.Duration
		ferr       error
		finished   bool
		truncated  bool
		stopWriter atomic.Bool
	)
	if s.Warmup == 0 {
		close(warmDone)
	}
	go func() {
		defer close(writerDone)
		for i := 0; i < total; i++ {
			if i == s.Warmup {
				select { // start the measured part with an empty pipe
				case <-warmDone:
				case <-stop:
					return
				}
				cpu0, start = cpuTime(), time.Now()
			}
			select {
			case sem <- struct{}{}:
			case <-stop:
				return
			}
			if stopWriter.Load() {
				return
			}
			if err := c.Write(payload); err != nil {
				werr = err
				return
			}
		}
	}()
	rerr := c.Run(func(p []byte) bool {
		if len(p) != s.Size {
			ferr = fmt.Errorf("reply of %d bytes, want %d", len(p), s.Size)
			return false
		}
		<-sem
		recv++
		if recv == s.Warmup {
			close(warmDone)
		}
		if recv >= total {
			end, cpu1, finished = time.Now(), cpuTime(), true
			return false
		}
		if recv > s.Warmup && recv%256 == 0 && time.Now().After(e.deadline) {
			stopWriter.Store(true)
			end, cpu1, finished, truncated = time.Now(), cpuTime(), true, true
			return false
		}
		return true
	})
	close(stop)
	select {
	case <-writerDone:
	case <-time.After(10 * time.Second):
		return nil, false, errors.New("writer goroutine did not stop")
	}
	if ferr != nil {
		return nil, false, ferr
	}
	if !finished {
		if rerr == nil {
			rerr = errors.New("connection closed early")
		}
		if werr != nil {
			rerr = fmt.Errorf("%w (write: %v)", rerr, werr)
		}
		return nil, false, fmt.Errorf("after %d/%d replies: %w", recv, total, rerr)
	}
	ops := recv - s.Warmup
	m := map[string]float64{}
	rateMetrics(m, ops, s.Size, end.Sub(start), cpu1-cpu0)
	return m, truncated, nil
}

// runPush: the server sends Count messages of Size bytes as fast as it can;
// the client only receives.
func runPush(e *env, s Scenario) (map[string]float64, bool, error) {
	start, cpu0 := time.Now(), cpuTime()
	c, _, stop, err := e.dialOne(fmt.Sprintf("/push?n=%d&size=%d", s.Count, s.Size))
	if err != nil {
		return nil, false, err
	}
	defer stop()
	var (
		recv      int
		end       time.Time
		cpu1      time.Duration
		ferr      error
		finished  bool
		truncated bool
	)
	rerr := c.Run(func(p []byte) bool {
		if len(p) != s.Size {
			ferr = fmt.Errorf("message of %d bytes, want %d", len(p), s.Size)
			return false
		}
		recv++
		if recv >= s.Count {
			end, cpu1, finished = time.Now(), cpuTime(), true
			return false
		}
		if recv%1024 == 0 && time.Now().After(e.deadline) {
			end, cpu1, finished, truncated = time.Now(), cpuTime(), true, true
			return false
		}
		return true
	})
	if ferr != nil {
		return nil, false, ferr
	}
	if !finished {
		if rerr == nil {
			rerr = errors.New("connection closed early")
		}
		return nil, false, fmt.Errorf("after %d/%d messages: %w", recv, s.Count, rerr)
	}
	m := map[string]float64{}
	rateMetrics(m, recv, s.Size, end.Sub(start), cpu1-cpu0)
	return m, truncated, nil
}

// dialMany dials n connections with `parallel` workers and starts, for each,
// a goroutine that runs body(i, conn) (which normally calls Run).
func dialMany(e *env, n, parallel int, path string, body func(i int, c Conn)) (conns []Conn, dialTime time.Duration, running *sync.WaitGroup, err error) {
	conns = make([]Conn, n)
	running = &sync.WaitGroup{}
	var (
		next    atomic.Int64
		failed  atomic.Int64
		firstMu sync.Mutex
		first   error
		wg      sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || time.Now().After(e.deadline) || failed.Load() > 0 {
					return
				}
				c, err := e.dial(path)
				if err != nil {
					failed.Add(1)
					firstMu.Lock()
					if first == nil {
						first = fmt.Errorf("dial #%d: %w", i, err)
					}
					firstMu.Unlock()
					return
				}
				conns[i] = c
				running.Add(1)
				go func() {
					defer running.Done()
					body(i, c)
				}()
			}
		}()
	}
	wg.Wait()
	dialTime = time.Since(start)
	if first != nil {
		return conns, dialTime, running, first
	}
	for i, c := range conns {
		if c == nil {
			return conns, dialTime, running, fmt.Errorf("time bound reached after dialing %d/%d connections", i, n)
		}
	}
	return conns, dialTime, running, nil
}

func closeAll(conns []Conn, running *sync.WaitGroup, wait time.Duration) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	done := make(chan struct{})
	go func() { running.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
}

const dialParallel = 8

// runIdle: dial Count connections, each with its receive loop running the
// way users run it, then measure what they cost while idle.
func runIdle(e *env, s Scenario) (map[string]float64, bool, error) {
	before := snapshot()
	cpu0 := cpuTime()
	dones := make([]<-chan struct{}, s.Count)
	conns, dialTime, running, err := dialMany(e, s.Count, dialParallel, "/", func(i int, c Conn) {
		if st, ok := c.(Starter); ok {
			dones[i] = st.Start(func(p []byte) bool { return true }) // no goroutine of ours
			return
		}
		_ = c.Run(func(p []byte) bool { return true })
	})
	defer func() { // Starter connections end without a Run to return
		for _, d := range dones {
			if d != nil {
				select {
				case <-d:
				case <-time.After(10 * time.Second):
				}
			}
		}
	}()
	cpu1 := cpuTime()
	if err != nil {
		closeAll(conns, running, 5*time.Second)
		return nil, false, err
	}
	time.Sleep(500 * time.Millisecond) // let receive goroutines park, timers settle
	after := snapshot()
	n := float64(s.Count)
	m := map[string]float64{
		"conns":               n,
		"dial_s":              dialTime.Seconds(),
		"dials_per_s":         n / dialTime.Seconds(),
		"cpu_us_per_op":       (cpu1 - cpu0).Seconds() * 1e6 / n,
		"rss_kib_per_conn":    float64(after.RSS-before.RSS) / 1024 / n,
		"heap_kib_per_conn":   float64(after.HeapAlloc-before.HeapAlloc) / 1024 / n,
		"stack_kib_per_conn":  float64(after.StackInuse-before.StackInuse) / 1024 / n,
		"goroutines_per_conn": float64(after.Goroutines-before.Goroutines) / n,
		"rss_mib_total":       float64(after.RSS) / (1 << 20),
	}
	closeAll(conns, running, 10*time.Second)
	return m, false, nil
}

// runConc: Conns connections, each doing Count sequential 16-byte round trips
// at the same time (after one unmeasured warm-up round trip each).
func runConc(e *env, s Scenario) (map[string]float64, bool, error) {
	payload := makePayload(s.Size)
	lats := make([][]int64, s.Conns)
	recvs := make([]int, s.Conns)
	errs := make([]error, s.Conns)
	var ready sync.WaitGroup
	ready.Add(s.Conns)
	readyOnce := make([]sync.Once, s.Conns)
	startCh := make(chan struct{})
	var deadlineHit atomic.Bool
	// The measured interval ends when the last connection gets its last
	// reply (connection teardown is not measured).
	var (
		finMu    sync.Mutex
		finCount int
		lastEnd  time.Time
		cpuEnd   time.Duration
	)
	markFinished := func() {
		finMu.Lock()
		finCount++
		if finCount == s.Conns {
			lastEnd, cpuEnd = time.Now(), cpuTime()
		}
		finMu.Unlock()
	}

	conns, dialTime, running, err := dialMany(e, s.Conns, dialParallel, "/", func(i int, c Conn) {
		defer readyOnce[i].Do(ready.Done)
		lat := make([]int64, 0, s.Count)
		var t0 time.Time
		send := func() bool {
			t0 = time.Now()
			if err := c.Write(payload); err != nil {
				errs[i] = err
				return false
			}
			return true
		}
		if !send() {
			return
		}
		recv := 0
		finished := false
		rerr := c.Run(func(p []byte) bool {
			now := time.Now()
			if len(p) != s.Size {
				errs[i] = fmt.Errorf("reply of %d bytes", len(p))
				return false
			}
			if recv == 0 { // warm-up reply: wait for everyone
				readyOnce[i].Do(ready.Done)
				<-startCh
			} else {
				lat = append(lat, now.Sub(t0).Nanoseconds())
			}
			recv++
			if recv > s.Count || now.After(e.deadline) {
				if recv <= s.Count {
					deadlineHit.Store(true)
				}
				finished = true
				markFinished()
				return false
			}
			return send()
		})
		lats[i] = lat
		recvs[i] = max(0, recv-1)
		if !finished && errs[i] == nil {
			if rerr == nil {
				rerr = errors.New("connection closed early")
			}
			errs[i] = rerr
		}
	})
	if err != nil {
		close(startCh)
		closeAll(conns, running, 5*time.Second)
		return nil, false, err
	}
	// Wait for every warm-up round trip (bounded by the deadline).
	readyDone := make(chan struct{})
	go func() { ready.Wait(); close(readyDone) }()
	select {
	case <-readyDone:
	case <-time.After(time.Until(e.deadline)):
		close(startCh)
		closeAll(conns, running, 5*time.Second)
		return nil, false, errors.New("time bound reached before all warm-up round trips")
	}
	cpu0, start := cpuTime(), time.Now()
	close(startCh)
	allDone := make(chan struct{})
	go func() { running.Wait(); close(allDone) }()
	select {
	case <-allDone:
	case <-time.After(time.Until(e.deadline) + 5*time.Second):
		closeAll(conns, running, 5*time.Second)
		return nil, false, errors.New("time bound reached: connections still running")
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if !lastEnd.IsZero() {
		elapsed, cpu = lastEnd.Sub(start), cpuEnd-cpu0
	}
	total := 0
	var all []int64
	for i := range s.Conns {
		if errs[i] != nil {
			return nil, false, fmt.Errorf("conn %d: %w", i, errs[i])
		}
		total += recvs[i]
		all = append(all, lats[i]...)
	}
	m := map[string]float64{"dial_s": dialTime.Seconds(), "dials_per_s": float64(s.Conns) / dialTime.Seconds()}
	rateMetrics(m, total, s.Size, elapsed, cpu)
	latencyMetrics(m, all)
	return m, deadlineHit.Load(), nil
}
