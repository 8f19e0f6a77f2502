package wsactor

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// frameReader reads frames from the socket. Headers are parsed in place in
// its buffer; payloads are copied out of the buffer or, when the buffer is
// empty and the destination is large, read from the socket straight into the
// destination (the slice the receiver will own). Only the actor goroutine
// touches it.
type frameReader struct {
	nc    net.Conn
	raw   *rawIO // nc's raw socket (nil for TLS): lets an idle reader drop its buffer
	buf   []byte
	arr   *[readBufSize]byte // buf's pooled array, if it came from readBufPool
	r, w  int
	reads uint32 // reads from the raw socket that returned bytes
	// a is the actor it reads for (a pointer, not three method values:
	// those would be three allocations every connection keeps):
	//   - a.flush runs before every socket read, which may block: the
	//     actor hands over the messages it batched;
	//   - a.onTimeout is called when a read hits its deadline; it returns
	//     nil to retry the read (keepalive ping sent, deadline moved) or
	//     the error that ends the connection;
	//   - a.idleRead replaces readIdle on the idle path of header: it may
	//     hand the read to a Receive or park the actor (idle detach).
	a *actor
}

const readBufSize = 4096

// frameHeader is a parsed frame header (RFC 6455 5.2).
type frameHeader struct {
	fin    bool
	rsv    byte
	op     byte
	masked bool
	length int64
}

func (f *frameReader) buffered() int { return f.w - f.r }

// peek fills the empty buffer with what the socket already holds, without
// waiting, and reports whether anything came.
func (f *frameReader) peek() bool {
	if f.raw == nil {
		return false
	}
	f.getBuf()
	f.r, f.w = 0, 0
	n := f.raw.peek()
	f.w = n
	return n > 0
}

// readMore reads once from the socket into the free part of the buffer.
func (f *frameReader) readMore() error {
	if err := f.a.flush(); err != nil {
		return err
	}
	if f.r == f.w && f.raw != nil {
		return f.readIdle()
	}
	if f.buf == nil {
		f.getBuf()
	}
	if f.r == f.w {
		f.r, f.w = 0, 0
	} else if f.w == len(f.buf) {
		n := copy(f.buf, f.buf[f.r:f.w])
		f.r, f.w = 0, n
	}
	for {
		n, err := f.nc.Read(f.buf[f.w:])
		f.w += n
		if n > 0 {
			return nil
		}
		if err == nil {
			continue
		}
		if err = f.timeout(err); err != nil {
			return err
		}
	}
}

// readBufPool holds the read buffers of connections that are waiting for
// data: a connection with nothing buffered returns its buffer before it
// parks (readIdle), so thousands of idle connections hold none.
var readBufPool = sync.Pool{New: func() any { return new([readBufSize]byte) }}

func (f *frameReader) getBuf() []byte {
	if f.buf == nil {
		f.arr = readBufPool.Get().(*[readBufSize]byte)
		f.buf = f.arr[:]
	}
	return f.buf
}

func (f *frameReader) releaseBuf() {
	if f.arr != nil {
		readBufPool.Put(f.arr)
	}
	f.buf, f.arr = nil, nil
	f.r, f.w = 0, 0
}

// readIdle reads into an empty buffer through the raw socket, releasing the
// buffer whenever the read would block.
func (f *frameReader) readIdle() error {
	f.r, f.w = 0, 0
	for {
		n, err := f.raw.tryRead()
		if err != nil {
			if err = f.timeout(err); err != nil {
				return err
			}
			continue
		}
		if n == 0 {
			return io.EOF
		}
		f.w = n
		return nil
	}
}

func (f *frameReader) timeout(err error) error {
	if isTimeout(err) && f.a != nil {
		return f.a.onTimeout(err)
	}
	return err
}

// fill makes at least n (<= readBufSize) bytes available.
func (f *frameReader) fill(n int) error {
	for f.w-f.r < n {
		if f.r > 0 && len(f.buf)-f.r < n {
			m := copy(f.buf, f.buf[f.r:f.w])
			f.r, f.w = 0, m
		}
		if err := f.readMore(); err != nil {
			if err == io.EOF && f.w > f.r {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// header reads and parses the next frame header.
func (f *frameReader) header(h *frameHeader) error {
	if f.r == f.w && f.raw != nil {
		// The idle path: wait for the next frame with as few frames on
		// the stack as possible (see actor.loop).
		if err := f.a.flush(); err != nil {
			return err
		}
		if err := f.a.idleRead(); err != nil {
			return err
		}
	}
	if err := f.fill(2); err != nil {
		return err
	}
	b0, b1 := f.buf[f.r], f.buf[f.r+1]
	need := 2
	switch b1 & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if b1&0x80 != 0 {
		need += 4
	}
	if err := f.fill(need); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b0&0x08 != 0 && b1&0x7f <= 125 {
		// A control frame is handled whole from the buffer: wait for its
		// payload before consuming the header, so that a read that stops
		// (Receive's context) leaves the frame to be parsed again. Any other
		// error is met again by the payload read, after the header has been
		// checked (a bad header is reported before a short payload).
		if err := f.fill(need + int(b1&0x7f)); err == errPullStop {
			return err
		}
	}
	p := f.buf[f.r : f.r+need]
	h.fin = b0&0x80 != 0
	h.rsv = (b0 >> 4) & 0x7
	h.op = b0 & 0x0f
	h.masked = b1&0x80 != 0
	switch l := b1 & 0x7f; l {
	case 126:
		h.length = int64(binary.BigEndian.Uint16(p[2:]))
	case 127:
		u := binary.BigEndian.Uint64(p[2:])
		if u > 1<<63-1 {
			f.r += need
			return &ProtocolError{Reason: "frame length has the most significant bit set"}
		}
		h.length = int64(u)
	default:
		h.length = int64(l)
	}
	f.r += need
	return nil
}

// read copies up to len(p) payload bytes into p; with an empty buffer and a
// large p it reads from the socket directly into p.
func (f *frameReader) read(p []byte) (int, error) {
	if f.w > f.r {
		n := copy(p, f.buf[f.r:f.w])
		f.r += n
		return n, nil
	}
	if len(p) >= readBufSize {
		if f.raw != nil {
			// What the socket already holds needs no wait, so the batched
			// messages need not be handed over first (see actor.queue).
			n, again, err := f.raw.readNowInto(p)
			switch {
			case again, err != nil && isTimeout(err):
				// Wait below (deadlines are handled there).
			case err != nil:
				return 0, err
			case n == 0:
				return 0, io.ErrUnexpectedEOF
			default:
				return n, nil
			}
		}
		if err := f.a.flush(); err != nil {
			return 0, err
		}
		for {
			n, err := f.nc.Read(p)
			if n > 0 {
				return n, nil
			}
			if err == nil {
				continue
			}
			if err == io.EOF {
				return 0, io.ErrUnexpectedEOF
			}
			if err = f.timeout(err); err != nil {
				return 0, err
			}
		}
	}
	if err := f.readMore(); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	n := copy(p, f.buf[f.r:f.w])
	f.r += n
	return n, nil
}

// readFull fills p.
func (f *frameReader) readFull(p []byte) error {
	for len(p) > 0 {
		n, err := f.read(p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// next returns the next n (<= readBufSize) payload bytes in place, valid
// until the next read: control frames are handled without a copy.
func (f *frameReader) next(n int) ([]byte, error) {
	if err := f.fill(n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	p := f.buf[f.r : f.r+n]
	f.r += n
	return p, nil
}

// skip discards n payload bytes.
func (f *frameReader) skip(n int64) error {
	for n > 0 {
		if f.w == f.r {
			if err := f.readMore(); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		k := int64(f.w - f.r)
		if k > n {
			k = n
		}
		f.r += int(k)
		n -= k
	}
	return nil
}
