package wsactor_test

// Churn: connections opened and closed in rounds against the in-process
// echo server. After every round the goroutine count and the open file
// descriptors must come back to the baseline: nothing a connection starts
// or opens outlives it.
//
// In CI: 200 connections x 3 rounds. The full run (5000 x 10) is
// BenchmarkChurn, or TestChurn with WSACTOR_CHURN_FULL=1:
//
//	WSACTOR_CHURN_FULL=1 go test -run TestChurn -v .
//	go test -run '^$' -bench BenchmarkChurn -benchtime 1x .

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wsactor/wsactor"
	"github.com/wsactor/wsactor/internal/echoserver"
)

const (
	churnCI       = 200
	churnCIRounds = 3
	churnFull     = 5000
	churnFullRuns = 10
)

func TestChurn(t *testing.T) {
	conns, rounds, workers := churnCI, churnCIRounds, 32
	if os.Getenv("WSACTOR_CHURN_FULL") == "1" {
		churnRaiseNoFile(t)
		conns, rounds, workers = churnFull, churnFullRuns, 256
	}
	churnRun(t, conns, rounds, workers)
}

func BenchmarkChurn(b *testing.B) {
	churnRaiseNoFile(b)
	b.ReportAllocs()
	for b.Loop() {
		churnRun(b, churnFull, churnFullRuns, 256)
	}
	b.ReportMetric(float64(churnFull*churnFullRuns), "conns/op")
}

// churnRaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit for the
// duration of the test.
func churnRaiseNoFile(tb testing.TB) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur < lim.Max {
		old := lim
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			tb.Fatalf("setrlimit: %v", err)
		}
		tb.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
	}
	tb.Logf("RLIMIT_NOFILE %d (hard %d)", lim.Cur, lim.Max)
}

// churnMode is how one connection of a round ends.
type churnMode int

const (
	churnClose      churnMode = iota // echo one message, Close(1000), clean close
	churnAbort                       // echo one message, Abort
	churnCloseEarly                  // Close while the handshake is in flight
	churnCloseApp                    // echo one message, Close(4000, "bye"), echoed by the server
)

func churnModeOf(i int) churnMode {
	switch i % 10 {
	case 7:
		return churnAbort
	case 8:
		return churnCloseEarly
	case 9:
		return churnCloseApp
	}
	return churnClose
}

func churnRun(tb testing.TB, conns, rounds, workers int) {
	tb.Helper()
	s, err := echoserver.Start(echoserver.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	base := hostileBaseline(tb)
	start := time.Now()
	for r := 0; r < rounds; r++ {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
			jobs = make(chan int)
		)
		for w := 0; w < min(workers, conns); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					if err := churnOne(s.URL(), r, i); err != nil {
						mu.Lock()
						errs = append(errs, fmt.Errorf("round %d conn %d (mode %d): %w", r, i, churnModeOf(i), err))
						mu.Unlock()
					}
				}
			}()
		}
		for i := 0; i < conns; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		for i, err := range errs {
			if i == 10 {
				tb.Errorf("... and %d more errors", len(errs)-10)
				break
			}
			tb.Error(err)
		}
		if len(errs) > 0 {
			tb.FailNow()
		}
		// Back to the baseline: no goroutine, no fd, no server connection.
		if !hostilePoll(waitFor, func() bool {
			return s.Stats().Active == 0 && runtime.NumGoroutine() <= base.goroutines && hostileFDs(tb) <= base.fds
		}) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			tb.Fatalf("after round %d: %d goroutines (baseline %d), %d fds (baseline %d), %d server conns active\n%s",
				r, runtime.NumGoroutine(), base.goroutines, hostileFDs(tb), base.fds, s.Stats().Active, buf)
		}
	}
	st := s.Stats()
	tb.Logf("%d connections x %d rounds in %v; server: %+v", conns, rounds, time.Since(start), st)
	if want := int64(conns * rounds); st.Accepted != want {
		tb.Errorf("server accepted %d connections, want %d", st.Accepted, want)
	}
}

// churnNext waits for the next event, bounded by the deadline.
func churnNext(c *wsactor.Conn, deadline <-chan time.Time) (wsactor.Event, error) {
	select {
	case ev, ok := <-c.Events():
		if !ok {
			return nil, errors.New("event channel closed early")
		}
		return ev, nil
	case <-deadline:
		c.Abort()
		return nil, fmt.Errorf("no event within %v (state %v)", waitFor, c.ReadyState())
	}
}

// churnEnd reads up to the terminal event and checks the channel closes.
func churnEnd(c *wsactor.Conn, deadline <-chan time.Time) (wsactor.Event, error) {
	for {
		ev, err := churnNext(c, deadline)
		if err != nil {
			return nil, err
		}
		switch ev.(type) {
		case *wsactor.Close, *wsactor.Error:
			select {
			case extra, ok := <-c.Events():
				if ok {
					return nil, fmt.Errorf("%T after the terminal event", extra)
				}
			case <-deadline:
				return nil, errors.New("channel not closed after the terminal event")
			}
			select {
			case <-c.Done():
			case <-deadline:
				return nil, errors.New("Done not closed after the terminal event")
			}
			return ev, nil
		case *wsactor.Open:
			return nil, errors.New("Open after Close was requested")
		}
	}
}

func churnOne(url string, round, i int) error {
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	deadline := timer.C
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	mode := churnModeOf(i)
	c, err := wsactor.New(url, wsactor.WithErrorLog("none"), wsactor.WithCloseTimeout(5*time.Second))
	if err != nil {
		return err
	}
	if err := c.Connect(ctx); err != nil {
		return err
	}
	if mode == churnCloseEarly {
		if err := c.Close(wsactor.StatusGoingAway, "early"); err != nil {
			return err
		}
		ev, err := churnEnd(c, deadline)
		if err != nil {
			return err
		}
		// The handshake completes, then the close handshake runs with our
		// code (the echo server echoes it).
		cl, ok := ev.(*wsactor.Close)
		if !ok {
			return fmt.Errorf("terminal %T (%v), want *Close", ev, ev)
		}
		if cl.Code != wsactor.StatusGoingAway || cl.Sent != wsactor.StatusGoingAway || !cl.Clean || cl.Err != nil {
			return fmt.Errorf("Close %+v, want a clean 1001 both ways", *cl)
		}
		return nil
	}
	ev, err := churnNext(c, deadline)
	if err != nil {
		return err
	}
	if _, ok := ev.(*wsactor.Open); !ok {
		return fmt.Errorf("first event %T (%v), want *Open", ev, ev)
	}
	payload := fmt.Sprintf("churn %d/%d", round, i)
	if err := c.SendText(ctx, payload); err != nil {
		return fmt.Errorf("SendText: %w", err)
	}
	ev, err = churnNext(c, deadline)
	if err != nil {
		return err
	}
	if m, ok := ev.(*wsactor.Message); !ok || m.Type != wsactor.Text || string(m.Data) != payload {
		return fmt.Errorf("got %T %v, want the echo of %q", ev, ev, payload)
	}
	want := wsactor.StatusNormalClosure
	switch mode {
	case churnAbort:
		c.Abort()
	case churnCloseApp:
		want = 4000
		err = c.Close(want, "bye")
	default:
		err = c.Close(want, "")
	}
	if err != nil {
		return fmt.Errorf("Close: %w", err)
	}
	ev, err = churnEnd(c, deadline)
	if err != nil {
		return err
	}
	cl, ok := ev.(*wsactor.Close)
	if !ok {
		return fmt.Errorf("terminal %T, want *Close", ev)
	}
	if mode == churnAbort {
		if cl.Code != wsactor.StatusAbnormalClosure || !errors.Is(cl.Err, wsactor.ErrAborted) {
			return fmt.Errorf("Close %+v after Abort, want 1006 with ErrAborted", *cl)
		}
		return nil
	}
	if cl.Code != want || cl.Sent != want || !cl.Clean || cl.Err != nil {
		return fmt.Errorf("Close %+v, want a clean %d both ways", *cl, want)
	}
	return nil
}
