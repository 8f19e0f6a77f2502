package wsactor

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Log channels carry websocketpp's names and bit values, as in R's
// websocket package. Access channels report what happens on a connection;
// error channels report problems by severity.
//
// Access: none, connect, disconnect, control, frame_header, frame_payload,
// message_header, message_payload, endpoint, debug_handshake, debug_close,
// devel, app, http, fail, access_core, all.
// Error: none, devel, library, info, warn, rerror, fatal, all.
//
// Defaults: access none; error library+info+warn+rerror+fatal. A disabled
// channel costs one atomic load and no allocation.
const (
	logConnect        uint32 = 0x1
	logDisconnect     uint32 = 0x2
	logControl        uint32 = 0x4
	logFrameHeader    uint32 = 0x8
	logFramePayload   uint32 = 0x10
	logMessageHeader  uint32 = 0x20
	logMessagePayload uint32 = 0x40
	logEndpoint       uint32 = 0x80
	logDebugHandshake uint32 = 0x100
	logDebugClose     uint32 = 0x200
	logDevel          uint32 = 0x400
	logApp            uint32 = 0x800
	logHTTP           uint32 = 0x1000
	logFail           uint32 = 0x2000

	elogDevel   uint32 = 0x1
	elogLibrary uint32 = 0x2
	elogInfo    uint32 = 0x4
	elogWarn    uint32 = 0x8
	elogRerror  uint32 = 0x10
	elogFatal   uint32 = 0x20
)

var accessChannels = map[string]uint32{
	"none":            0,
	"connect":         logConnect,
	"disconnect":      logDisconnect,
	"control":         logControl,
	"frame_header":    logFrameHeader,
	"frame_payload":   logFramePayload,
	"message_header":  logMessageHeader,
	"message_payload": logMessagePayload,
	"endpoint":        logEndpoint,
	"debug_handshake": logDebugHandshake,
	"debug_close":     logDebugClose,
	"devel":           logDevel,
	"app":             logApp,
	"http":            logHTTP,
	"fail":            logFail,
	"access_core":     logConnect | logDisconnect | logFail | logHTTP,
	"all":             0xffffffff,
}

var errorChannels = map[string]uint32{
	"none":    0,
	"devel":   elogDevel,
	"library": elogLibrary,
	"info":    elogInfo,
	"warn":    elogWarn,
	"rerror":  elogRerror,
	"fatal":   elogFatal,
	"all":     0xffffffff,
}

const defaultErrorChannels = elogLibrary | elogInfo | elogWarn | elogRerror | elogFatal

// channelBits turns channel names into a bit set; unknown names are all
// reported in one *ConfigError.
func channelBits(kind string, table map[string]uint32, names []string) (uint32, error) {
	var bits uint32
	var unknown []string
	for _, n := range names {
		b, ok := table[n]
		if !ok {
			unknown = append(unknown, n)
			continue
		}
		bits |= b
	}
	if len(unknown) > 0 {
		known := make([]string, 0, len(table))
		for k := range table {
			known = append(known, k)
		}
		sort.Strings(known)
		return 0, &ConfigError{
			Field: kind + " log channel",
			Value: strings.Join(unknown, ","),
			Msg:   "unknown; known channels: " + strings.Join(known, ", "),
		}
	}
	return bits, nil
}

func channelName(table map[string]uint32, bit uint32) string {
	for k, v := range table {
		if v == bit {
			return k
		}
	}
	return "unknown"
}

// logs holds a connection's enabled channels and its logger.
type logs struct {
	access atomic.Uint32
	errs   atomic.Uint32
	logger *slog.Logger
	url    string
}

var (
	sharedLoggerOnce sync.Once
	sharedLogger     *slog.Logger
)

// defaultLogger is one text logger on stderr shared by every connection
// created without WithLogger.
func defaultLogger() *slog.Logger {
	sharedLoggerOnce.Do(func() {
		sharedLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	return sharedLogger
}

// on reports whether access channel ch is enabled.
func (l *logs) on(ch uint32) bool { return l.access.Load()&ch != 0 }

// eon reports whether error channel ch is enabled.
func (l *logs) eon(ch uint32) bool { return l.errs.Load()&ch != 0 }

// alog writes one access record. Callers check on(ch) first so that a
// disabled channel does not build its attributes.
func (l *logs) alog(ch uint32, msg string, attrs ...slog.Attr) {
	l.write(slog.LevelInfo, "access", channelName(accessChannels, ch), msg, attrs)
}

// elog writes one error record. Callers check eon(ch) first.
func (l *logs) elog(ch uint32, msg string, attrs ...slog.Attr) {
	level := slog.LevelInfo
	switch ch {
	case elogDevel:
		level = slog.LevelDebug
	case elogWarn:
		level = slog.LevelWarn
	case elogRerror, elogFatal:
		level = slog.LevelError
	}
	l.write(level, "error", channelName(errorChannels, ch), msg, attrs)
}

func (l *logs) write(level slog.Level, set, ch, msg string, attrs []slog.Attr) {
	all := make([]slog.Attr, 0, len(attrs)+3)
	all = append(all, slog.String("log", set), slog.String("channel", ch), slog.String("url", l.url))
	all = append(all, attrs...)
	l.logger.LogAttrs(context.Background(), level, msg, all...)
}

// SetAccessLogChannels enables the named access channels in addition to
// those already enabled. Unknown names return a *ConfigError naming them and
// change nothing. Safe from any goroutine at any time.
func (c *Conn) SetAccessLogChannels(channels ...string) error {
	b, err := channelBits("access", accessChannels, channels)
	if err != nil {
		return err
	}
	c.logs.access.Or(b)
	return nil
}

// ClearAccessLogChannels disables the named access channels ("all" disables
// every one).
func (c *Conn) ClearAccessLogChannels(channels ...string) error {
	b, err := channelBits("access", accessChannels, channels)
	if err != nil {
		return err
	}
	c.logs.access.And(^b)
	return nil
}

// SetErrorLogChannels enables the named error channels.
func (c *Conn) SetErrorLogChannels(channels ...string) error {
	b, err := channelBits("error", errorChannels, channels)
	if err != nil {
		return err
	}
	c.logs.errs.Or(b)
	return nil
}

// ClearErrorLogChannels disables the named error channels.
func (c *Conn) ClearErrorLogChannels(channels ...string) error {
	b, err := channelBits("error", errorChannels, channels)
	if err != nil {
		return err
	}
	c.logs.errs.And(^b)
	return nil
}

func strAttr(k, v string) slog.Attr             { return slog.String(k, v) }
func intAttr(k string, v int64) slog.Attr       { return slog.Int64(k, v) }
func boolAttr(k string, v bool) slog.Attr       { return slog.Bool(k, v) }
func codeAttr(k string, v StatusCode) slog.Attr { return slog.Int(k, int(v)) }
func errAttr(err error) slog.Attr {
	if err == nil {
		return slog.String("err", "")
	}
	return slog.String("err", err.Error())
}

// payloadString renders at most 256 bytes of a payload for the
// message_payload and frame_payload channels.
func payloadString(p []byte) string {
	if len(p) > 256 {
		return strconv.Quote(string(p[:256])) + "..."
	}
	return strconv.Quote(string(p))
}
