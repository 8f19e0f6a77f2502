package main

import (
	"context"
	"sync"
)

// Controls: yardsticks for reading the table, not libraries. They run only
// when -adapters names them.
//
//   - raw-again is raw under a second name: an A/A control. Its ratio to raw
//     is what the measurement itself gives two identical clients; a
//     library's ratio inside that spread says nothing about the library
//     (unpinned sequential echo on a small machine: README, Placement).
//   - raw-chan is raw with the reading moved to a second goroutine that
//     hands each message to Run's goroutine over a buffered channel (32
//     slots, buffers recycled): the floor of any design that delivers
//     messages on a channel, wsactor's Events() and callbacks included.
func init() {
	register(Adapter{Name: "raw-again", Control: true, Dial: dialRawConn})
	register(Adapter{Name: "raw-chan", Control: true, Dial: func(ctx context.Context, url string) (Conn, error) {
		c, err := dialRaw(ctx, url)
		if err != nil {
			return nil, err
		}
		return &rawChanConn{rawConn: c}, nil
	}})
}

type rawChanConn struct {
	*rawConn
	once sync.Once
}

func (r *rawChanConn) Run(fn func(p []byte) bool) error {
	msgs := make(chan []byte, 32)
	free := make(chan []byte, 34) // every buffer in flight comes back here
	done := make(chan struct{})   // Run stopped taking messages
	var rerr error
	go func() {
		defer close(msgs)
		rerr = r.rawConn.Run(func(p []byte) bool {
			var b []byte
			select {
			case b = <-free:
			default:
			}
			b = append(b[:0], p...)
			select {
			case msgs <- b:
				return true
			case <-done:
				return false
			}
		})
	}()
	for p := range msgs {
		more := fn(p)
		select {
		case free <- p:
		default:
		}
		if !more {
			close(done)
			r.Close()
			for range msgs { // until the reader has stopped
			}
			return nil
		}
	}
	return rerr
}

// Close may be called by Run and by the scenario's teardown.
func (r *rawChanConn) Close() { r.once.Do(r.rawConn.Close) }
