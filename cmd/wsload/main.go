// Command wsload is a WebSocket echo load generator built on wsactor.
//
// With no flags it starts an embedded echo server on 127.0.0.1, opens 1000
// connections (at most -dialers handshakes at a time), lets every connection
// echo messages for 10s (send, wait for the echo, verify it, repeat), closes
// every connection with 1000 and waits for the closing handshakes, then
// prints a report. Point it at another echo server with -url.
//
// The exit status is 1 when no connection opened or when an echo was wrong,
// 2 on bad flags.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/wsactor/wsactor"
	"github.com/wsactor/wsactor/internal/echoserver"
)

// Config is what the flags set.
type Config struct {
	URL          string        // "" starts the embedded echo server
	Conns        int           // connections to open
	Size         int           // payload bytes per message
	Duration     time.Duration // length of the echo phase
	Rate         float64       // messages/s per connection; 0: as fast as possible
	Dialers      int           // concurrent opening handshakes
	Text         bool          // send text messages instead of binary
	Receive      bool          // wait for echoes with Conn.Receive instead of Events()
	DialTimeout  time.Duration // per-connection opening handshake bound
	CloseTimeout time.Duration // per-connection closing handshake bound
	ErrorLog     []string      // wsactor error log channels ("none": silent)
}

// DefaultConfig is the flag defaults.
func DefaultConfig() Config {
	return Config{
		Conns:        1000,
		Size:         32,
		Duration:     10 * time.Second,
		Dialers:      64,
		DialTimeout:  10 * time.Second,
		CloseTimeout: 5 * time.Second,
		ErrorLog:     []string{"none"},
	}
}

func (c Config) validate() error {
	switch {
	case c.Conns < 1:
		return errors.New("-conns must be at least 1")
	case c.Size < 0:
		return errors.New("-size must not be negative")
	case c.Duration <= 0:
		return errors.New("-duration must be positive")
	case c.Rate < 0:
		return errors.New("-rate must not be negative")
	case c.Dialers < 1:
		return errors.New("-dialers must be at least 1")
	case c.DialTimeout <= 0 || c.CloseTimeout <= 0:
		return errors.New("timeouts must be positive")
	}
	return nil
}

// Report is the outcome of a run.
type Report struct {
	URL      string
	Embedded bool
	Config   Config

	Opened, Failed int64
	DialTime       time.Duration // first dial to last handshake outcome
	DialP50        time.Duration
	DialP99        time.Duration
	DialMax        time.Duration

	EchoTime   time.Duration
	Messages   int64 // verified echoes
	Bytes      int64 // verified echoed payload bytes
	Mismatches int64 // echoes with wrong type or content

	LatP50, LatP90, LatP99, LatP999, LatMax time.Duration

	CloseTime   time.Duration
	CleanCloses int64 // Close events with code 1000 and Clean

	Errors map[string]int64 // by kind

	Server *echoserver.Stats // embedded server counters, nil with -url

	Interrupted bool
}

// OK reports whether the run succeeded: at least one connection opened and
// every echo matched.
func (r *Report) OK() bool { return r.Opened > 0 && r.Mismatches == 0 }

// errCounter counts errors by kind.
type errCounter struct {
	mu sync.Mutex
	m  map[string]int64
}

func (e *errCounter) add(kind string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = make(map[string]int64)
	}
	e.m[kind]++
	e.mu.Unlock()
}

type runner struct {
	cfg  Config
	url  string
	opts []wsactor.Option
	typ  wsactor.MessageType

	dialSem chan struct{}
	dialWG  sync.WaitGroup
	start   chan struct{} // closed when the echo phase starts
	echoCtx context.Context

	opened, failed     atomic.Int64
	messages, bytes    atomic.Int64
	mismatches, cleans atomic.Int64
	lat, dialLat       histogram
	errs               errCounter
}

// Run executes a whole load run. ctx cancellation (Ctrl-C) cuts the dial and
// echo phases short; connections are still closed properly.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rep := &Report{URL: cfg.URL, Config: cfg}
	var srv *echoserver.Server
	if cfg.URL == "" {
		var err error
		srv, err = echoserver.Start(echoserver.Options{
			MaxMessageSize: max(int64(cfg.Size), 64<<20),
		})
		if err != nil {
			return nil, err
		}
		defer srv.Close()
		rep.URL, rep.Embedded = srv.URL(), true
	}

	r := &runner{
		cfg:     cfg,
		url:     rep.URL,
		typ:     wsactor.Binary,
		dialSem: make(chan struct{}, cfg.Dialers),
		start:   make(chan struct{}),
		opts: []wsactor.Option{
			wsactor.WithMaxMessageSize(max(int64(cfg.Size), 1<<20)),
			wsactor.WithHandshakeTimeout(cfg.DialTimeout),
			wsactor.WithCloseTimeout(cfg.CloseTimeout),
		},
	}
	if cfg.Text {
		r.typ = wsactor.Text
	}
	if len(cfg.ErrorLog) > 0 {
		r.opts = append(r.opts, wsactor.WithErrorLog(cfg.ErrorLog...))
	}
	// Validate the URL and options once (New does not touch the network).
	probe, err := wsactor.New(r.url, r.opts...)
	if err != nil {
		return nil, err
	}
	_ = probe.Close(wsactor.StatusNormalClosure, "")

	// Every connection is one goroutine: dial, wait for the echo phase,
	// echo, close. Failures are counted, never returned, so one bad
	// connection does not cancel the others.
	g, gctx := errgroup.WithContext(ctx)
	r.dialWG.Add(cfg.Conns)
	dialStart := time.Now()
	for id := range cfg.Conns {
		g.Go(func() error {
			r.conn(gctx, id)
			return nil
		})
	}
	r.dialWG.Wait()
	rep.DialTime = time.Since(dialStart)

	echoCtx, cancel := context.WithTimeout(gctx, cfg.Duration)
	defer cancel()
	if r.opened.Load() == 0 {
		cancel() // nothing to measure
	}
	r.echoCtx = echoCtx
	echoStart := time.Now()
	close(r.start)
	<-echoCtx.Done()
	rep.EchoTime = time.Since(echoStart)
	closeStart := time.Now()
	err = g.Wait()
	rep.CloseTime = time.Since(closeStart)
	rep.Interrupted = ctx.Err() != nil

	rep.Opened, rep.Failed = r.opened.Load(), r.failed.Load()
	rep.Messages, rep.Bytes = r.messages.Load(), r.bytes.Load()
	rep.Mismatches, rep.CleanCloses = r.mismatches.Load(), r.cleans.Load()
	rep.LatP50, rep.LatP90 = r.lat.quantile(0.50), r.lat.quantile(0.90)
	rep.LatP99, rep.LatP999 = r.lat.quantile(0.99), r.lat.quantile(0.999)
	rep.LatMax = r.lat.maxValue()
	rep.DialP50, rep.DialP99 = r.dialLat.quantile(0.50), r.dialLat.quantile(0.99)
	rep.DialMax = r.dialLat.maxValue()
	rep.Errors = r.errs.m
	if srv != nil {
		if cerr := srv.Close(); cerr != nil && err == nil {
			err = cerr
		}
		st := srv.Stats()
		rep.Server = &st
	}
	return rep, err
}

// conn is the life of one connection.
func (r *runner) conn(ctx context.Context, id int) {
	c := r.dial(ctx)
	r.dialWG.Done()
	if c == nil {
		return
	}
	<-r.start // Run closes it once every dial has ended, even on ctx cancel
	if !r.echo(c, id) {
		return // the connection has ended already
	}
	r.close(c)
}

func (r *runner) dial(ctx context.Context) *wsactor.Conn {
	select {
	case r.dialSem <- struct{}{}:
	case <-ctx.Done():
		r.failed.Add(1)
		r.errs.add("dial: interrupted")
		return nil
	}
	defer func() { <-r.dialSem }()
	dctx, cancel := context.WithTimeout(ctx, r.cfg.DialTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := wsactor.Dial(dctx, r.url, r.opts...)
	r.dialLat.record(time.Since(t0))
	if err != nil {
		r.failed.Add(1)
		r.errs.add("dial: " + dialKind(err))
		if c != nil {
			<-c.Done()
		}
		return nil
	}
	r.opened.Add(1)
	return c
}

// echo runs the echo loop until the echo phase ends. It returns false when
// the connection has ended (its terminal event was consumed).
func (r *runner) echo(c *wsactor.Conn, id int) bool {
	ctx := r.echoCtx
	evs := c.Events()
	payload := makePayload(id, r.cfg.Size)

	var (
		interval time.Duration
		next     time.Time
		timer    *time.Timer
	)
	if r.cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / r.cfg.Rate)
		// Spread the connections over the first interval.
		next = time.Now().Add(rand.N(interval + 1))
		timer = time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
	}

	for seq := uint64(1); ctx.Err() == nil; seq++ {
		if interval > 0 {
			if d := time.Until(next); d > 0 {
				timer.Reset(d)
				var events <-chan wsactor.Event
				if !r.cfg.Receive {
					events = evs // with Receive, what arrives meanwhile waits for the next call
				}
				select {
				case <-timer.C:
				case <-ctx.Done():
					return true
				case ev, ok := <-events:
					// Nothing is expected between echoes.
					if !r.unexpected(ev, ok) {
						return false
					}
				}
			}
			// Keep the schedule through small delays, but do not burst to
			// catch up after a long stall.
			next = next.Add(interval)
			if now := time.Now(); now.Sub(next) > max(10*interval, 100*time.Millisecond) {
				next = now
			}
		}

		stamp(payload, seq)
		t0 := time.Now()
		if err := c.Send(ctx, r.typ, payload); err != nil {
			if ctx.Err() != nil {
				return true // the phase ended while the queue was full
			}
			r.errs.add("send: " + sendKind(err))
			if errors.Is(err, wsactor.ErrNotOpen) {
				// The connection is ending: its Close event explains why.
				return !r.drainToTerminal(evs, "closed early")
			}
			return true
		}

	wait:
		for {
			ev, ok, done := r.next(ctx, c, evs)
			if done {
				return true // the echo in flight is not counted
			}
			{
				m, isMsg := ev.(*wsactor.Message)
				if !isMsg {
					if !r.unexpected(ev, ok) {
						return false
					}
					continue
				}
				lat := time.Since(t0)
				if m.Type != r.typ || !bytes.Equal(m.Data, payload) {
					r.mismatches.Add(1)
					r.errs.add("echo: wrong type or content")
				} else {
					r.lat.record(lat)
					r.messages.Add(1)
					r.bytes.Add(int64(len(m.Data)))
				}
				m.Release()
				break wait
			}
		}
	}
	return true
}

// next waits for c's next event through Receive (-receive) or Events();
// done reports that ctx ended first, ok false that the channel is closed.
func (r *runner) next(ctx context.Context, c *wsactor.Conn, evs <-chan wsactor.Event) (ev wsactor.Event, ok, done bool) {
	if r.cfg.Receive {
		ev, err := c.Receive(ctx)
		switch {
		case err == nil:
			return ev, true, false
		case errors.Is(err, wsactor.ErrClosed):
			return nil, false, false
		default:
			return nil, false, true // ctx ended
		}
	}
	select {
	case <-ctx.Done():
		return nil, false, true
	case ev, ok := <-evs:
		return ev, ok, false
	}
}

// unexpected handles an event other than an echo. It returns false when it
// was the terminal event.
func (r *runner) unexpected(ev wsactor.Event, ok bool) bool {
	if !ok {
		r.errs.add("events channel closed without terminal event")
		return false
	}
	switch e := ev.(type) {
	case *wsactor.Open:
		return true
	case *wsactor.Message:
		r.mismatches.Add(1)
		r.errs.add("echo: unsolicited message")
		return true
	case *wsactor.Close:
		r.recordClose(e, "closed early")
		return false
	case *wsactor.Error:
		r.errs.add("error event after open: " + e.Err.Error())
		return false
	}
	return true
}

// drainToTerminal reads events until the terminal one and records it. It
// reports whether it saw it.
func (r *runner) drainToTerminal(evs <-chan wsactor.Event, what string) bool {
	for ev := range evs {
		switch e := ev.(type) {
		case *wsactor.Close:
			r.recordClose(e, what)
			return true
		case *wsactor.Error:
			r.errs.add("error event after open: " + e.Err.Error())
			return true
		}
	}
	r.errs.add("events channel closed without terminal event")
	return true
}

// close runs the closing handshake and waits for the Close event.
func (r *runner) close(c *wsactor.Conn) {
	if err := c.Close(wsactor.StatusNormalClosure, ""); err != nil {
		r.errs.add("close: " + err.Error())
	}
	// The library bounds the closing handshake with the close timeout;
	// this is only a safety net against a stuck connection.
	safety := time.AfterFunc(r.cfg.CloseTimeout+5*time.Second, func() {
		r.errs.add("close: no Close event in time, aborted")
		c.Abort()
	})
	defer safety.Stop()
	r.drainToTerminal(c.Events(), "close")
	<-c.Done()
}

func (r *runner) recordClose(e *wsactor.Close, what string) {
	if what == "close" && e.Code == wsactor.StatusNormalClosure && e.Clean && e.Err == nil {
		r.cleans.Add(1)
		return
	}
	kind := fmt.Sprintf("%s: code %d", what, e.Code)
	if !e.Clean {
		kind += " unclean"
	}
	if e.Err != nil {
		kind += " (" + closeCause(e.Err) + ")"
	}
	r.errs.add(kind)
}

var dialKinds = []struct {
	err  error
	name string
}{
	{wsactor.ErrRefused, "refused"},
	{wsactor.ErrDNS, "dns"},
	{wsactor.ErrHandshakeTimeout, "timeout"},
	{wsactor.ErrTLS, "tls"},
	{wsactor.ErrBadAccept, "bad accept"},
	{wsactor.ErrBadUpgrade, "bad upgrade"},
	{wsactor.ErrBadSubprotocol, "bad subprotocol"},
	{wsactor.ErrBadExtension, "bad extension"},
	{wsactor.ErrBadResponse, "bad response"},
	{wsactor.ErrResponseTooLarge, "response too large"},
	{wsactor.ErrNetwork, "network"},
	{context.DeadlineExceeded, "timeout"},
	{context.Canceled, "interrupted"},
}

func dialKind(err error) string {
	var he *wsactor.HandshakeError
	if errors.As(err, &he) {
		return fmt.Sprintf("handshake status %d", he.StatusCode)
	}
	for _, k := range dialKinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return fmt.Sprintf("other (%v)", err)
}

func sendKind(err error) string {
	switch {
	case errors.Is(err, wsactor.ErrNotOpen):
		return "not open"
	case errors.Is(err, wsactor.ErrInvalidUTF8):
		return "invalid utf8"
	case errors.Is(err, wsactor.ErrQueueFull):
		return "queue full"
	}
	return fmt.Sprintf("other (%v)", err)
}

var closeCauses = []struct {
	err  error
	name string
}{
	{wsactor.ErrCloseTimeout, "close timeout"},
	{wsactor.ErrWriteTimeout, "write timeout"},
	{wsactor.ErrAborted, "aborted"},
	{wsactor.ErrMessageTooBig, "message too big"},
	{wsactor.ErrInvalidUTF8, "invalid utf8"},
	{wsactor.ErrSlowConsumer, "slow consumer"},
	{wsactor.ErrPongTimeout, "pong timeout"},
	{io.ErrUnexpectedEOF, "unexpected EOF"},
	{io.EOF, "EOF"},
	{syscall.ECONNRESET, "connection reset"},
	{net.ErrClosed, "use of closed connection"},
}

func closeCause(err error) string {
	var pe *wsactor.ProtocolError
	if errors.As(err, &pe) {
		return "protocol error"
	}
	for _, k := range closeCauses {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return err.Error()
}

// makePayload returns size bytes of printable ASCII (valid as text too),
// different for every connection.
func makePayload(id, size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = 'a' + byte((id+i)%26)
	}
	return p
}

// stamp writes seq in hex at the start of p (as much as fits), so that a
// stale or duplicated echo does not match.
func stamp(p []byte, seq uint64) {
	const hexdigits = "0123456789abcdef"
	for i := min(len(p), 16) - 1; i >= 0; i-- {
		p[i] = hexdigits[seq&0xf]
		seq >>= 4
	}
}

// Print writes the human-readable report.
func (rep *Report) Print(w io.Writer) {
	cfg := rep.Config
	target := rep.URL
	if rep.Embedded {
		target += " (embedded echo server)"
	}
	mode := "as fast as possible"
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("%g msg/s per connection", cfg.Rate)
	}
	typ := "binary"
	if cfg.Text {
		typ = "text"
	}
	fmt.Fprintf(w, "target:       %s\n", target)
	recv := "select on Events()"
	if cfg.Receive {
		recv = "Receive"
	}
	fmt.Fprintf(w, "load:         %d connections, %d dialers, %d-byte %s messages, %s, %s, echoes through %s\n",
		cfg.Conns, cfg.Dialers, cfg.Size, typ, mode, cfg.Duration, recv)
	if rep.Interrupted {
		fmt.Fprintf(w, "              INTERRUPTED\n")
	}
	fmt.Fprintf(w, "connections:  %d opened, %d failed in %s (%.0f conns/s)\n",
		rep.Opened, rep.Failed, round(rep.DialTime), perSec(rep.Opened, rep.DialTime))
	fmt.Fprintf(w, "handshake:    p50 %s  p99 %s  max %s\n",
		round(rep.DialP50), round(rep.DialP99), round(rep.DialMax))
	fmt.Fprintf(w, "echo:         %d messages in %s: %.0f msg/s, %.2f MB/s each way\n",
		rep.Messages, round(rep.EchoTime), perSec(rep.Messages, rep.EchoTime),
		perSec(rep.Bytes, rep.EchoTime)/1e6)
	fmt.Fprintf(w, "latency:      p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		round(rep.LatP50), round(rep.LatP90), round(rep.LatP99), round(rep.LatP999), round(rep.LatMax))
	fmt.Fprintf(w, "close:        %d clean (1000) of %d in %s\n",
		rep.CleanCloses, rep.Opened, round(rep.CloseTime))
	if rep.Mismatches > 0 {
		fmt.Fprintf(w, "WRONG ECHOES: %d\n", rep.Mismatches)
	}
	if len(rep.Errors) == 0 {
		fmt.Fprintf(w, "errors:       none\n")
	} else {
		fmt.Fprintf(w, "errors:\n")
		kinds := make([]string, 0, len(rep.Errors))
		for k := range rep.Errors {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "  %8d  %s\n", rep.Errors[k], k)
		}
	}
	if s := rep.Server; s != nil {
		fmt.Fprintf(w, "server:       %d accepted, %d upgraded, %d messages echoed, %d close frames, %d protocol errors\n",
			s.Accepted, s.Upgraded, s.Messages, s.Closes, s.ProtocolErrors)
	}
}

func perSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without os.Exit: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("wsload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "", "echo server URL (default: start an embedded echo server on 127.0.0.1)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "number of connections")
	fs.IntVar(&cfg.Size, "size", cfg.Size, "payload bytes per message")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the echo phase")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "messages/s per connection (0: as fast as possible)")
	fs.IntVar(&cfg.Dialers, "dialers", cfg.Dialers, "concurrent opening handshakes")
	fs.BoolVar(&cfg.Text, "text", cfg.Text, "send text messages instead of binary")
	fs.BoolVar(&cfg.Receive, "receive", cfg.Receive, "wait for each echo with Conn.Receive (the waiting goroutine reads) instead of a select on Events()")
	fs.DurationVar(&cfg.DialTimeout, "dial-timeout", cfg.DialTimeout, "opening handshake timeout")
	fs.DurationVar(&cfg.CloseTimeout, "close-timeout", cfg.CloseTimeout, "closing handshake timeout")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	errlog := fs.String("errlog", strings.Join(cfg.ErrorLog, ","),
		"wsactor error log channels, comma-separated (none, library, info, warn, rerror, fatal, all)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg.ErrorLog = strings.Split(*errlog, ",")
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wsload: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "wsload: %v\n", err)
		return 2
	}

	if cur, err := raiseNoFile(); err != nil {
		fmt.Fprintf(stderr, "wsload: raising RLIMIT_NOFILE: %v\n", err)
	} else if need := uint64(cfg.Conns)*fdsPerConn(cfg) + 64; cur > 0 && cur < need {
		fmt.Fprintf(stderr, "wsload: warning: RLIMIT_NOFILE is %d, %d connections need about %d\n",
			cur, cfg.Conns, need)
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "wsload: %v\n", err)
			return 2
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "wsload: %v\n", err)
			return 2
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, cfg)
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "wsload: %v\n", err)
		return 1
	}
	if !rep.OK() {
		var why []string
		if rep.Opened == 0 {
			why = append(why, "no connection opened")
		}
		if rep.Mismatches > 0 {
			why = append(why, fmt.Sprintf("%d wrong echoes", rep.Mismatches))
		}
		fmt.Fprintf(stderr, "wsload: FAIL: %s\n", strings.Join(why, ", "))
		return 1
	}
	return 0
}

// fdsPerConn is 2 with the embedded server (both ends are in this process).
func fdsPerConn(cfg Config) uint64 {
	if cfg.URL == "" {
		return 2
	}
	return 1
}
