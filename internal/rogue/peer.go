package rogue

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// MaxClientPayload bounds the payload of a client frame the Peer accepts
// (so a broken client cannot make the test allocate without bound).
const MaxClientPayload = 64 << 20

// Peer is the server side of one connection, handed to a Script. Every
// blocking operation is bounded by Timeout and ends early when the server
// is closed.
type Peer struct {
	// Conn is the raw TCP connection; Request is the client's handshake
	// request (nil if it could not be parsed).
	Conn    net.Conn
	Request *http.Request
	// Timeout bounds each blocking operation.
	Timeout time.Duration

	br   *bufio.Reader
	done <-chan struct{}

	// reassembly state of ReadMessage
	fragOp  Opcode
	fragBuf []byte
	inFrag  bool
}

// SetTimeout changes the per-operation timeout.
func (p *Peer) SetTimeout(d time.Duration) { p.Timeout = d }

// Done is closed when the server is closing.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Write writes b in a single Write call (one TCP segment train, flushed:
// there is no buffering between Peer and the socket).
func (p *Peer) Write(b []byte) error {
	p.Conn.SetWriteDeadline(time.Now().Add(p.Timeout))
	_, err := p.Conn.Write(b)
	if err != nil {
		return fmt.Errorf("failed to write %d bytes: %w", len(b), err)
	}
	return nil
}

// WriteChunks writes b in pieces of size bytes (the last may be shorter),
// one Write call each, pausing pause between two pieces so that the client
// sees them arrive separately.
func (p *Peer) WriteChunks(b []byte, size int, pause time.Duration) error {
	if size <= 0 {
		size = 1
	}
	for len(b) > 0 {
		n := min(size, len(b))
		if err := p.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if len(b) > 0 && pause > 0 {
			if err := p.Pause(pause); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteSplit writes b in pieces cut at the given offsets (increasing, in
// b), one Write call each, pausing pause between pieces.
func (p *Peer) WriteSplit(b []byte, pause time.Duration, cuts ...int) error {
	prev := 0
	for _, c := range append(cuts, len(b)) {
		if c < prev || c > len(b) {
			return fmt.Errorf("WriteSplit: bad cut %d", c)
		}
		if c > prev {
			if err := p.Write(b[prev:c]); err != nil {
				return err
			}
		}
		prev = c
		if c < len(b) && pause > 0 {
			if err := p.Pause(pause); err != nil {
				return err
			}
		}
	}
	return nil
}

// Pause waits d, or returns an error early if the server is closing. It
// is for shaping traffic (separating TCP writes), not for waiting on the
// client: use the Read/Expect methods for that.
func (p *Peer) Pause(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-p.done:
		return errors.New("server closed")
	}
}

// CloseWrite half-closes the connection (sends FIN): what a server does
// after the closing handshake. The client's close can still be observed
// with WaitEOF.
func (p *Peer) CloseWrite() error {
	if tc, ok := p.Conn.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return p.Conn.Close()
}

// ReadFrame reads one client frame and unmasks its payload. A frame
// without the mask bit is returned with an error (RFC 6455 section 5.1:
// clients must mask).
func (p *Peer) ReadFrame() (ClientFrame, error) {
	p.Conn.SetReadDeadline(time.Now().Add(p.Timeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	var f ClientFrame
	var h [14]byte
	if _, err := io.ReadFull(p.br, h[:2]); err != nil {
		return f, fmt.Errorf("failed to read frame header: %w", err)
	}
	f.Fin = h[0]&0x80 != 0
	f.RSV = (h[0] >> 4) & 0x7
	f.Op = Opcode(h[0] & 0x0F)
	f.Masked = h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		if _, err := io.ReadFull(p.br, h[2:4]); err != nil {
			return f, fmt.Errorf("failed to read frame length: %w", err)
		}
		n = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err := io.ReadFull(p.br, h[2:10]); err != nil {
			return f, fmt.Errorf("failed to read frame length: %w", err)
		}
		n = binary.BigEndian.Uint64(h[2:10])
	}
	if n > MaxClientPayload {
		return f, fmt.Errorf("client frame declares %d bytes (> %d)", n, MaxClientPayload)
	}
	var mask [4]byte
	if f.Masked {
		if _, err := io.ReadFull(p.br, mask[:]); err != nil {
			return f, fmt.Errorf("failed to read mask: %w", err)
		}
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(p.br, f.Payload); err != nil {
		return f, fmt.Errorf("failed to read %d-byte payload: %w", n, err)
	}
	if !f.Masked {
		return f, fmt.Errorf("client frame not masked: %v", f)
	}
	for i := range f.Payload {
		f.Payload[i] ^= mask[i&3]
	}
	if f.RSV != 0 {
		return f, fmt.Errorf("client frame has RSV bits set: %v", f)
	}
	return f, nil
}

// ReadMessage reads a complete data message, reassembling fragments, and
// returns its opcode and payload. A control frame (even one between two
// fragments) is returned on its own, with its opcode; the message being
// reassembled continues on the next call.
func (p *Peer) ReadMessage() (Opcode, []byte, error) {
	for {
		f, err := p.ReadFrame()
		if err != nil {
			return 0, nil, err
		}
		if f.Op.IsControl() {
			if !f.Fin {
				return f.Op, f.Payload, fmt.Errorf("fragmented control frame from client: %v", f)
			}
			return f.Op, f.Payload, nil
		}
		switch {
		case f.Op == OpContinuation && !p.inFrag:
			return 0, nil, fmt.Errorf("client sent a continuation without a start: %v", f)
		case f.Op != OpContinuation && p.inFrag:
			return 0, nil, fmt.Errorf("client started a %v inside a fragmented message", f.Op)
		case f.Op != OpContinuation:
			if f.Fin {
				return f.Op, f.Payload, nil
			}
			p.inFrag, p.fragOp, p.fragBuf = true, f.Op, f.Payload
		default:
			p.fragBuf = append(p.fragBuf, f.Payload...)
			if len(p.fragBuf) > MaxClientPayload {
				return 0, nil, errors.New("client message too large")
			}
			if f.Fin {
				op, b := p.fragOp, p.fragBuf
				p.inFrag, p.fragBuf = false, nil
				return op, b, nil
			}
		}
	}
}

// ExpectMessage reads the next message and checks its opcode and payload.
func (p *Peer) ExpectMessage(op Opcode, payload []byte) error {
	gotOp, got, err := p.ReadMessage()
	if err != nil {
		return fmt.Errorf("waiting for %v message of %d bytes: %w", op, len(payload), err)
	}
	if gotOp != op {
		if gotOp == OpClose {
			return fmt.Errorf("got close (code %d, reason %q), want %v message of %d bytes",
				ClientFrame{Payload: got}.CloseCode(), ClientFrame{Payload: got}.CloseReason(), op, len(payload))
		}
		return fmt.Errorf("got %v message, want %v", gotOp, op)
	}
	if !bytes.Equal(got, payload) {
		return fmt.Errorf("%v message: got %d bytes %s, want %d bytes %s", op,
			len(got), abbrev(got), len(payload), abbrev(payload))
	}
	return nil
}

// ExpectClose reads the next frame, which must be a close frame with the
// given code (1005 for an empty payload), and returns it.
func (p *Peer) ExpectClose(code uint16) (ClientFrame, error) {
	f, err := p.ReadFrame()
	if err != nil {
		return f, fmt.Errorf("waiting for close %d: %w", code, err)
	}
	if f.Op != OpClose {
		return f, fmt.Errorf("got %v, want close %d", f, code)
	}
	if got := f.CloseCode(); got != code {
		return f, fmt.Errorf("got close code %d (reason %q), want %d", got, f.CloseReason(), code)
	}
	return f, nil
}

// WaitEOF waits until the client closes the TCP connection (EOF or a
// reset). Any byte the client sends meanwhile is an error.
func (p *Peer) WaitEOF() error {
	p.Conn.SetReadDeadline(time.Now().Add(p.Timeout))
	defer p.Conn.SetReadDeadline(time.Time{})
	var buf [512]byte
	n, err := p.br.Read(buf[:])
	switch {
	case n > 0:
		return fmt.Errorf("client sent %d more bytes instead of closing TCP: % x", n, buf[:min(n, 32)])
	case err == io.EOF, errors.Is(err, syscall.ECONNRESET):
		return nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("client did not close TCP within %v", p.Timeout)
	case err != nil:
		return fmt.Errorf("waiting for client EOF: %w", err)
	}
	return p.WaitEOF() // 0 bytes, nil error: try again
}

// Finish completes a closing handshake the client started: it echoes the
// client's close payload, half-closes TCP and waits for the client's
// TCP close. A failure to write the echo is ignored (a failing client may
// already have closed TCP).
func (p *Peer) Finish(clientClose ClientFrame) error {
	p.Write(Frame(OpClose, true, clientClose.Payload))
	p.CloseWrite()
	return p.WaitEOF()
}

// CloseHandshake starts a closing handshake from the server: it sends a
// close frame with code and reason, expects the client's close with
// wantCode, half-closes TCP and waits for the client's TCP close.
func (p *Peer) CloseHandshake(code uint16, reason string, wantCode uint16) error {
	if err := p.Write(Close(code, reason)); err != nil {
		return err
	}
	if _, err := p.ExpectClose(wantCode); err != nil {
		return err
	}
	p.CloseWrite()
	return p.WaitEOF()
}

func abbrev(b []byte) string {
	if len(b) <= 16 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%q...", b[:16])
}
