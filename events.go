package wsactor

import (
	"net/http"
	"strconv"
	"sync/atomic"
)

// Event is what a connection delivers on Events(): one of *Open, *Message,
// *Close or *Error. Use a type switch:
//
//	switch e := ev.(type) {
//	case *wsactor.Open:
//	case *wsactor.Message:
//	case *wsactor.Batch:   // only WithBatchDelivery: several messages
//	case *wsactor.Close:   // terminal
//	case *wsactor.Error:   // terminal: the opening handshake failed
//	}
//
// Every connection delivers, in this order: at most one Open, then the
// messages in wire order, then exactly one terminal event (Close if the
// connection was opened, Error if the opening handshake failed), and then
// the channel is closed.
type Event interface {
	// Conn is the connection the event belongs to (R's `target`).
	Conn() *Conn
	event()
}

// Open is delivered once the opening handshake has succeeded.
type Open struct {
	conn *Conn
	// Protocol is the subprotocol the server selected ("" for none).
	Protocol string
	// Extensions are the extensions the server accepted.
	Extensions []string
	// Header holds the response headers of the 101 reply, except the
	// Sec-WebSocket-* ones (their outcome is in Protocol and Extensions).
	Header http.Header
}

// MessageType is the type of a data message.
type MessageType uint8

const (
	// Text is a UTF-8 text message.
	Text MessageType = 1
	// Binary is a binary message.
	Binary MessageType = 2
)

func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

// Message is one complete data message (fragments are reassembled).
// The receiver owns Data; the connection never touches it again unless the
// receiver calls Release.
type Message struct {
	conn     *Conn
	own      []byte        // buffer of the size class Data lives in (nil: none)
	cb       atomic.Uint32 // cbIdle, cbRunning or cbReleased (callbacks.go)
	released bool
	Type     MessageType
	Data     []byte
}

// Text returns the payload as a string (a copy).
func (m *Message) Text() string { return string(m.Data) }

// Batch carries several consecutive messages in wire order. It is
// delivered only on connections created WithBatchDelivery, in place of the
// Message events it holds, when more than one message was ready at once:
// one channel operation and at most one consumer wake-up for the lot. The
// receiver owns the Batch, the slice and the messages until it calls
// Release (optional), which recycles all of them.
type Batch struct {
	conn     *Conn
	Messages []*Message
}

// Close is the terminal event of a connection that was opened.
type Close struct {
	conn *Conn
	// Code and Reason are the peer's close frame: 1005 (StatusNoStatusReceived)
	// when its payload was empty, 1006 (StatusAbnormalClosure) when no close
	// frame arrived (TCP drop, EOF, close timeout, Abort).
	Code   StatusCode
	Reason string
	// Clean reports that close frames were exchanged in both directions.
	Clean bool
	// Sent is the code of the close frame this side sent (0 if none):
	// the code given to Close, the peer's code echoed, 1002, 1007, 1008, 1009...
	Sent StatusCode
	// Err is the local cause when the connection did not end by a close the
	// application or the peer asked for: ErrMessageTooBig, ErrInvalidUTF8,
	// *ProtocolError, ErrCloseTimeout, ErrAborted, io.ErrUnexpectedEOF, a
	// net error... nil for a normal closing handshake.
	Err error
}

// Error is the terminal event of a connection whose opening handshake
// failed. It is never preceded by Open nor followed by Close.
type Error struct {
	conn *Conn
	Err  error
}

func (e *Open) Conn() *Conn    { return e.conn }
func (e *Message) Conn() *Conn { return e.conn }
func (e *Close) Conn() *Conn   { return e.conn }
func (e *Batch) Conn() *Conn   { return e.conn }
func (*Batch) event()          {}
func (e *Error) Conn() *Conn   { return e.conn }
func (*Open) event()           {}
func (*Message) event()        {}
func (*Close) event()          {}
func (*Error) event()          {}

// StatusCode is a WebSocket close code (RFC 6455 section 7.4).
type StatusCode uint16

// Close codes registered with IANA.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusReceived        StatusCode = 1005 // never sent
	StatusAbnormalClosure         StatusCode = 1006 // never sent
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusMandatoryExtension      StatusCode = 1010
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
	StatusBadGateway              StatusCode = 1014
	StatusTLSHandshake            StatusCode = 1015 // never sent
)

// validWireCode reports whether code may appear in a close frame:
// 1000-1003, 1007-1014 and 3000-4999.
func validWireCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// ReadyState is the state of a connection, as in the browser and R APIs.
type ReadyState int32

const (
	// StateIdle: created by New, Connect not called yet (R's -1).
	StateIdle ReadyState = -1
	// StateConnecting: opening handshake in progress.
	StateConnecting ReadyState = 0
	// StateOpen: messages can be sent and received.
	StateOpen ReadyState = 1
	// StateClosing: the closing handshake is in progress.
	StateClosing ReadyState = 2
	// StateClosed: the connection has ended.
	StateClosed ReadyState = 3
)

func (s ReadyState) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateClosing:
		return "closing"
	case StateClosed:
		return "closed"
	}
	return "ReadyState(" + strconv.Itoa(int(s)) + ")"
}
