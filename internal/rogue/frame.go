package rogue

import (
	"encoding/binary"
	"fmt"
)

// Opcode is a WebSocket frame opcode (RFC 6455 section 5.2). Any 4-bit
// value can be written, including the reserved ones.
type Opcode byte

// Opcodes defined by RFC 6455.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (high bit set).
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "continuation"
	case OpText:
		return "text"
	case OpBinary:
		return "binary"
	case OpClose:
		return "close"
	case OpPing:
		return "ping"
	case OpPong:
		return "pong"
	}
	return fmt.Sprintf("opcode(%d)", byte(op))
}

// Header describes a frame header to write. Nothing is validated: it is
// meant to produce broken frames as easily as correct ones.
type Header struct {
	Fin bool
	// RSV holds the three reserved bits: 4 = RSV1, 2 = RSV2, 1 = RSV3.
	RSV byte
	Op  Opcode
	// Len is the declared payload length, written whatever the payload
	// actually is. Encode with Len < 0 declares len(payload).
	Len int64
	// Masked sets the mask bit and masks the payload with Mask (servers
	// must not do this; it exists to test that clients reject it).
	Masked bool
	Mask   [4]byte
	// ForceLen64 encodes even a small length in the 8-byte form and
	// ForceLen16 in the 2-byte form (non-minimal encodings).
	ForceLen16, ForceLen64 bool
}

// AppendHeader appends the wire form of h to b.
func AppendHeader(b []byte, h Header) []byte {
	b0 := byte(h.Op) & 0x0F
	b0 |= (h.RSV & 0x7) << 4
	if h.Fin {
		b0 |= 0x80
	}
	var b1 byte
	if h.Masked {
		b1 = 0x80
	}
	n := uint64(h.Len)
	switch {
	case h.ForceLen64 || n > 0xFFFF:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, n)
	case h.ForceLen16 || n > 125:
		b = append(b, b0, b1|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, b0, b1|byte(n))
	}
	if h.Masked {
		b = append(b, h.Mask[:]...)
	}
	return b
}

// Encode returns header h followed by payload (masked when h.Masked).
// When h.Len < 0 the declared length is len(payload).
func Encode(h Header, payload []byte) []byte {
	if h.Len < 0 {
		h.Len = int64(len(payload))
	}
	b := AppendHeader(make([]byte, 0, 14+len(payload)), h)
	start := len(b)
	b = append(b, payload...)
	if h.Masked {
		for i := range payload {
			b[start+i] ^= h.Mask[i&3]
		}
	}
	return b
}

// Frame returns an unmasked frame with the given opcode, fin flag and
// payload, RSV bits clear and the true length.
func Frame(op Opcode, fin bool, payload []byte) []byte {
	return Encode(Header{Fin: fin, Op: op, Len: -1}, payload)
}

// Text returns a final unmasked text frame.
func Text(s string) []byte { return Frame(OpText, true, []byte(s)) }

// Binary returns a final unmasked binary frame.
func Binary(p []byte) []byte { return Frame(OpBinary, true, p) }

// Ping returns an unmasked ping frame.
func Ping(p []byte) []byte { return Frame(OpPing, true, p) }

// Pong returns an unmasked pong frame.
func Pong(p []byte) []byte { return Frame(OpPong, true, p) }

// ClosePayload returns a close payload: code (big endian) then reason.
func ClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// Close returns a close frame with the given code and reason.
func Close(code uint16, reason string) []byte {
	return Frame(OpClose, true, ClosePayload(code, reason))
}

// CloseEmpty returns a close frame with an empty payload.
func CloseEmpty() []byte { return Frame(OpClose, true, nil) }

// Concat joins frames (or any byte slices) into one buffer, to send them
// in a single write.
func Concat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// ClientFrame is a frame read from the client, payload unmasked.
type ClientFrame struct {
	Fin     bool
	RSV     byte
	Op      Opcode
	Masked  bool
	Payload []byte
}

// CloseCode returns the code of a close frame, 1005 when the payload is
// empty and 0 when it is malformed (1 byte).
func (f ClientFrame) CloseCode() uint16 {
	switch len(f.Payload) {
	case 0:
		return 1005
	case 1:
		return 0
	}
	return binary.BigEndian.Uint16(f.Payload)
}

// CloseReason returns the reason of a close frame.
func (f ClientFrame) CloseReason() string {
	if len(f.Payload) < 2 {
		return ""
	}
	return string(f.Payload[2:])
}

func (f ClientFrame) String() string {
	s := fmt.Sprintf("%s fin=%v rsv=%d masked=%v len=%d", f.Op, f.Fin, f.RSV, f.Masked, len(f.Payload))
	if f.Op == OpClose {
		s += fmt.Sprintf(" code=%d reason=%q", f.CloseCode(), f.CloseReason())
	}
	return s
}
