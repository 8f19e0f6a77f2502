package wsactor

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Errors a caller can act on. They are compared with errors.Is; the
// underlying network, TLS or HTTP error stays reachable through errors.As.
var (
	// ErrNotOpen is returned by Send when the connection is not Open.
	ErrNotOpen = errors.New("wsactor: connection is not open")
	// ErrAlreadyConnected is returned by a second Connect.
	ErrAlreadyConnected = errors.New("wsactor: connection already started")
	// ErrClosed is returned by Connect on a connection closed before it was
	// ever connected.
	ErrClosed = errors.New("wsactor: connection closed")
	// ErrQueueFull is returned by TrySend when the send queue has no room.
	ErrQueueFull = errors.New("wsactor: send queue full")
	// ErrInvalidUTF8 is returned by Send for a text message that is not
	// valid UTF-8, and is the cause of a Close after the peer sent one (1007).
	ErrInvalidUTF8 = errors.New("wsactor: invalid UTF-8 in text")
	// ErrMessageTooBig is the cause of a Close after the peer sent a message
	// larger than MaxMessageSize (1009).
	ErrMessageTooBig = errors.New("wsactor: message exceeds MaxMessageSize")
	// ErrCloseTimeout is the cause of a Close whose closing handshake did not
	// complete within the close timeout.
	ErrCloseTimeout = errors.New("wsactor: closing handshake timed out")
	// ErrWriteTimeout is the cause of a Close after a write did not complete
	// within the write timeout (the peer stopped reading).
	ErrWriteTimeout = errors.New("wsactor: write timed out")
	// ErrAborted is the cause of the terminal event after Abort.
	ErrAborted = errors.New("wsactor: connection aborted")
	// ErrSlowConsumer is the cause of a Close with 1008 under the Disconnect
	// inbound policy.
	ErrSlowConsumer = errors.New("wsactor: event consumer too slow")
	// ErrPongTimeout is the cause of a Close when a keepalive ping got no
	// pong in time.
	ErrPongTimeout = errors.New("wsactor: keepalive pong timed out")

	// Handshake failure kinds: every handshake error matches exactly one.
	ErrDNS              = errors.New("wsactor: DNS lookup failed")
	ErrRefused          = errors.New("wsactor: connection refused")
	ErrTLS              = errors.New("wsactor: TLS handshake failed")
	ErrHandshakeTimeout = errors.New("wsactor: opening handshake timed out")
	ErrBadAccept        = errors.New("wsactor: bad Sec-WebSocket-Accept in response")
	ErrBadSubprotocol   = errors.New("wsactor: server selected a subprotocol that was not offered")
	ErrBadExtension     = errors.New("wsactor: server selected an extension that was not offered")
	ErrBadUpgrade       = errors.New("wsactor: response lacks a valid Upgrade/Connection header")
	ErrBadResponse      = errors.New("wsactor: malformed handshake response")
	ErrResponseTooLarge = errors.New("wsactor: handshake response too large")
	ErrNetwork          = errors.New("wsactor: network error during handshake")
)

// ConfigError reports an invalid argument to New, Dial or an option. Nothing
// has touched the network when it is returned.
type ConfigError struct {
	Field string // "url", "header", "protocol", "limit", "log channel", ...
	Value string
	Msg   string
}

func (e *ConfigError) Error() string {
	return "wsactor: invalid " + e.Field + " " + strconv.Quote(e.Value) + ": " + e.Msg
}

// HandshakeError is returned (and delivered as the Error event) when the
// server answered the opening handshake with a status other than 101.
type HandshakeError struct {
	StatusCode int
	Header     http.Header
	// Body holds at most the first 1 KiB of the response body.
	Body []byte
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsactor: handshake failed: server replied %d %s",
		e.StatusCode, http.StatusText(e.StatusCode))
}

// ProtocolError names a violation of RFC 6455 by the peer. The connection
// is failed with close code 1002.
type ProtocolError struct {
	Reason string
}

func (e *ProtocolError) Error() string { return "wsactor: protocol error: " + e.Reason }

// CloseError is returned by Close for an invalid code or reason; the
// connection's state is unchanged.
type CloseError struct {
	Code   StatusCode
	Reason string
	Msg    string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("wsactor: invalid close %d %q: %s", e.Code, e.Reason, e.Msg)
}
