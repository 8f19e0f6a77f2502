package wsactor

import "time"

// monoTime is a point in time on the monotonic clock, in nanoseconds since
// processStart; 0 is none. It takes 8 bytes where a time.Time takes 24,
// which counts in the state every connection keeps.
type monoTime int64

var processStart = time.Now()

func monoNow() monoTime { return max(monoTime(time.Since(processStart)), 1) }

func (t monoTime) IsZero() bool                 { return t == 0 }
func (t monoTime) Before(u monoTime) bool       { return t < u }
func (t monoTime) Add(d time.Duration) monoTime { return t + monoTime(d) }

// Time is t as a time.Time for SetReadDeadline (the zero Time for none).
func (t monoTime) Time() time.Time {
	if t == 0 {
		return time.Time{}
	}
	return processStart.Add(time.Duration(t))
}
