package wsactor

import (
	"os"
	"runtime"
	"time"
)

// WSACTOR_IDLE_DETACH=0 runs the whole suite with actors that park in the
// shared poller as soon as they are idle (.ci/run does this once).
func init() {
	if v := os.Getenv("WSACTOR_IDLE_DETACH"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			panic("WSACTOR_IDLE_DETACH: " + err.Error())
		}
		defaultIdleDetach = d
	}
}

// Parked reports whether c's actor is parked in the shared poller (its
// goroutine gone).
func Parked(c *Conn) bool {
	a := c.act()
	if a == nil {
		return false
	}
	return sharedPoller.isParked(a)
}

// IdleDetachSupported reports whether actors can park (epoll).
const IdleDetachSupported = runtime.GOOS == "linux"

// FailPollerWait makes the shared poller treat its next wake-up as a failed
// wait (linux); PollerBroken reports whether parking was switched off, and
// ResetPoller switches it back on.
func FailPollerWait() { sharedPoller.failWait.Store(true) }

func PollerBroken() bool {
	sharedPoller.mu.Lock()
	defer sharedPoller.mu.Unlock()
	return sharedPoller.broken
}

func ResetPoller() {
	sharedPoller.mu.Lock()
	defer sharedPoller.mu.Unlock()
	sharedPoller.broken = false
	sharedPoller.failWait.Store(false)
}

// Held reports whether c's actor is held between Receive calls (no
// goroutine runs it); Pulling whether a Receive caller runs it; Pulls how
// many Receive calls ran it.
func Held(c *Conn) bool    { return c.pull.Load() == pullHeld }
func Pulling(c *Conn) bool { return c.pull.Load() == pullBusy }
func Pulls(c *Conn) uint64 { return c.pulls.Load() }

// PullMode reports whether a Receive waited for a reply since the actor's
// goroutine last took the connection back.
func PullMode(c *Conn) bool { return c.pullMode.Load() }

// ExpectReply makes c's next Receive wait for a reply (read the socket
// itself), as if a message had been sent since the last one returned.
func ExpectReply(c *Conn) { c.recvSent.Store(c.stats.msgsOut.Load() - 1) }

// WithHoldPeriod sets the connection's first hold period (250 ms).
func WithHoldPeriod(d time.Duration) Option {
	return func(c *config) { c.lim.holdPeriod = d }
}

// TimerOps counts the times c's hold timer or idle linger deadline was set
// or fired (they back off on a busy connection).
func TimerOps(c *Conn) uint64 { return uint64(c.timerOps.Load()) }

// DispatcherStarts counts the callback dispatchers c has started.
func DispatcherStarts(c *Conn) int {
	if cb := c.cb.Load(); cb != nil {
		return int(cb.starts.Load())
	}
	return 0
}
