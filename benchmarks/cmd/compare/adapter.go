package main

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Conn is the minimal surface the scenarios need. Every adapter implements it
// the way that library's users normally write a client.
//
// All benchmark messages are binary.
type Conn interface {
	// Write sends one binary message. It may be called from a goroutine other
	// than the one running Run, and from inside Run's callback, but never
	// concurrently with itself. p may be reused after Write returns.
	Write(p []byte) error
	// Run receives messages in the calling goroutine (or, for event-driven
	// libraries, blocks while the library delivers them) and calls fn for
	// every data message; p is valid only during the call. When fn returns
	// false Run starts closing the connection and returns nil. When the
	// connection ends first, Run returns nil for a normal closure (1000) and
	// the error otherwise.
	Run(fn func(p []byte) bool) error
	// Close starts closing the connection (used at teardown); it must make a
	// running Run return soon.
	Close()
}

// Starter is implemented by adapters whose library can deliver messages
// without a goroutine of the caller's (callbacks on goroutines the library
// starts on demand). Start registers fn and returns at once; the channel is
// closed when the connection has ended. The idle scenario uses Start when
// it is there.
type Starter interface {
	Start(fn func(p []byte) bool) <-chan struct{}
}

// Adapter dials a connection with one library.
type Adapter struct {
	Name string
	Dial func(ctx context.Context, url string) (Conn, error)
	// Control marks a yardstick rather than a library (raw-again,
	// raw-chan): it runs only when -adapters names it.
	Control bool
}

var adapters = map[string]Adapter{}

func register(a Adapter) { adapters[a.Name] = a }

// adapterOrder is the default display/run order; names not compiled in are
// skipped.
var adapterOrder = []string{"raw", "raw-again", "raw-chan", "gorilla", "coder", "gws", "wsactor", "wsactor-cb", "wsactor-recv"}

// availableAdapters lists the libraries compiled in (the default run).
func availableAdapters() []string { return listAdapters(false) }

// controlAdapters lists the yardsticks, which run only when named.
func controlAdapters() []string { return listAdapters(true) }

func listAdapters(control bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range adapterOrder {
		if a, ok := adapters[n]; ok && a.Control == control {
			out = append(out, n)
			seen[n] = true
		}
	}
	var rest []string
	for n, a := range adapters {
		if !seen[n] && a.Control == control {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func getAdapter(name string) (Adapter, error) {
	a, ok := adapters[name]
	if !ok {
		return Adapter{}, fmt.Errorf("unknown adapter %q (compiled in: %v, controls: %v)", name, availableAdapters(), controlAdapters())
	}
	return a, nil
}

const (
	handshakeTimeout = 10 * time.Second
	maxMessageSize   = 16 << 20
)

type closeCodeError struct {
	code   int
	reason string
}

func (e *closeCodeError) Error() string { return fmt.Sprintf("closed with %d %q", e.code, e.reason) }
