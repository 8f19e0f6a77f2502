package rogue

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "dGhlIHNhbXBsZSBub25jZQ=="

// rawClient dials s and sends a handshake request; it returns the
// connection and a reader positioned at the response.
func rawClient(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: " + s.Addr() + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + testKey + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 section 1.3 example.
	if got, want := acceptKey(testKey), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("acceptKey = %q, want %q", got, want)
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		p    []byte
		want []byte
	}{
		{"text hello", Header{Fin: true, Op: OpText, Len: -1}, []byte("Hello"), []byte{0x81, 5, 'H', 'e', 'l', 'l', 'o'}},
		{"rsv1 fragment", Header{RSV: 4, Op: OpBinary, Len: -1}, nil, []byte{0x42, 0}},
		{"len16", Header{Fin: true, Op: OpBinary, Len: 256}, nil, []byte{0x82, 126, 1, 0}},
		{"len64", Header{Fin: true, Op: OpBinary, Len: 65536}, nil, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{"forced len64", Header{Fin: true, Op: OpPing, Len: 1, ForceLen64: true}, []byte{7}, []byte{0x89, 127, 0, 0, 0, 0, 0, 0, 0, 1, 7}},
		{"lying length", Header{Fin: true, Op: OpText, Len: 100}, []byte("ab"), []byte{0x81, 100, 'a', 'b'}},
		{"masked", Header{Fin: true, Op: OpText, Len: -1, Masked: true, Mask: [4]byte{0x37, 0xfa, 0x21, 0x3d}}, []byte("Hello"),
			[]byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}}, // RFC 6455 section 5.7
	}
	for _, tt := range tests {
		if got := Encode(tt.h, tt.p); !bytes.Equal(got, tt.want) {
			t.Errorf("%s: Encode = % x, want % x", tt.name, got, tt.want)
		}
	}
}

func TestScript(t *testing.T) {
	s := New(t, Options{Early: Text("early")}, func(p *Peer) error {
		if p.Request == nil || p.Request.Header.Get("Sec-WebSocket-Key") != testKey {
			return errors.New("request not recorded")
		}
		// One frame in three writes, then a lying header.
		if err := p.WriteSplit(Binary([]byte("abcdef")), time.Millisecond, 1, 4); err != nil {
			return err
		}
		if err := p.ExpectMessage(OpText, []byte("Hello")); err != nil {
			return err
		}
		if op, b, err := p.ReadMessage(); err != nil || op != OpPing || len(b) != 0 {
			return errors.New("want the ping between fragments, got " + op.String() + " " + errString(err))
		}
		if err := p.ExpectMessage(OpBinary, []byte("abc")); err != nil {
			return err
		}
		if _, err := p.ReadFrame(); err == nil || !strings.Contains(err.Error(), "not masked") {
			return errors.New("unmasked frame accepted: " + errString(err))
		}
		f, err := p.ExpectClose(1000)
		if err != nil {
			return err
		}
		return p.Finish(f)
	})
	c, br := rawClient(t, s)
	resp := readResponse(t, br)
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(testKey) {
		t.Fatalf("response %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
	}
	want := append(Text("early"), Binary([]byte("abcdef"))...)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read % x, %v; want % x", got, err, want)
	}
	mask := Header{Fin: true, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Len: -1}
	fragA, fragB := mask, mask
	fragA.Op, fragA.Fin = OpBinary, false
	fragB.Op = OpContinuation
	c.Write(Concat(
		Encode(Header{Fin: true, Op: OpText, Len: -1, Masked: true, Mask: [4]byte{9, 8, 7, 6}}, []byte("Hello")),
		Encode(fragA, []byte("a")),
		Encode(Header{Fin: true, Op: OpPing, Len: -1, Masked: true}, nil), // returned between fragments
		Encode(fragB, []byte("bc")),
	))
	c.Write(Frame(OpText, true, []byte("x"))) // unmasked
	c.Write(Encode(Header{Fin: true, Op: OpClose, Len: -1, Masked: true, Mask: [4]byte{5, 5, 5, 5}}, ClosePayload(1000, "")))
	want = Close(1000, "")
	got = make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("close echo: read % x, %v; want % x", got, err, want)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after close: %v, want EOF", err)
	}
	c.Close()
	if err := s.Result(5 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestCloseHandshake(t *testing.T) {
	s := New(t, Options{}, func(p *Peer) error {
		return p.CloseHandshake(4000, "bye", 4000)
	})
	c, br := rawClient(t, s)
	readResponse(t, br)
	want := Close(4000, "bye")
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read % x, %v; want % x", got, err, want)
	}
	c.Write(Encode(Header{Fin: true, Op: OpClose, Len: -1, Masked: true, Mask: [4]byte{1, 2, 3, 4}}, ClosePayload(4000, "bye")))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after close: %v, want EOF (server half-closed)", err)
	}
	c.Close()
	if err := s.Result(5 * time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestWaitEOFTimeout(t *testing.T) {
	s := New(t, Options{Timeout: 50 * time.Millisecond}, func(p *Peer) error { return p.WaitEOF() })
	_, br := rawClient(t, s)
	readResponse(t, br)
	if err := s.Result(5 * time.Second); err == nil || !strings.Contains(err.Error(), "did not close TCP") {
		t.Fatalf("Result = %v, want a timeout", err)
	}
}

func TestHostileHandshakes(t *testing.T) {
	t.Run("bad accept", func(t *testing.T) {
		s := New(t, Options{Mode: ModeBadAccept}, nil)
		_, br := rawClient(t, s)
		resp := readResponse(t, br)
		if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Accept") == acceptKey(testKey) {
			t.Fatalf("status %d accept %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Accept"))
		}
	})
	t.Run("status", func(t *testing.T) {
		s := New(t, Options{Mode: ModeStatus, Status: 403, Body: []byte("no")}, nil)
		_, br := rawClient(t, s)
		if resp := readResponse(t, br); resp.StatusCode != 403 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
	t.Run("no upgrade", func(t *testing.T) {
		s := New(t, Options{Mode: ModeNoUpgrade}, nil)
		_, br := rawClient(t, s)
		if resp := readResponse(t, br); resp.Header.Get("Upgrade") != "" {
			t.Fatalf("Upgrade %q", resp.Header.Get("Upgrade"))
		}
	})
	t.Run("huge headers", func(t *testing.T) {
		s := New(t, Options{Mode: ModeHugeHeaders, HeaderBytes: 3 << 20}, nil)
		_, br := rawClient(t, s)
		n := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				t.Fatal(err)
			}
			n += len(line)
			if string(line) == "\r\n" {
				break
			}
		}
		if n < 3<<20 {
			t.Fatalf("headers %d bytes, want >= 3 MiB", n)
		}
	})
	t.Run("huge headers unread", func(t *testing.T) {
		s := New(t, Options{Mode: ModeHugeHeaders}, nil)
		rawClient(t, s) // never reads: Close must still end the blocked write
	})
	t.Run("silent", func(t *testing.T) {
		s := New(t, Options{Mode: ModeSilent}, nil)
		c, br := rawClient(t, s)
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("silent server: %v", err)
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		s := New(t, Options{Mode: ModeSlowloris, Interval: time.Millisecond}, nil)
		_, br := rawClient(t, s)
		want := "HTTP/1.1 101 Switching Protocols\r\nX-Slow: aaa"
		got := make([]byte, len(want))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

func TestCloseUnblocksScript(t *testing.T) {
	started := make(chan struct{})
	s, err := Start(Options{Timeout: time.Hour}, func(p *Peer) error {
		close(started)
		_, err := p.ReadFrame()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, br := rawClient(t, s)
	readResponse(t, br)
	<-started
	if err := s.Close(); err == nil {
		t.Fatal("Close: want the script's read error")
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
