package wsactor_test

// Interoperability tests against independent WebSocket server
// implementations, run as child processes:
//
//   - node: the npm package `ws` (testdata/interop/node, pinned by its
//     package-lock.json), run with `node`;
//   - python: the `websockets` package of Debian (python3-websockets), run
//     with /usr/bin/python3 (testdata/interop/python).
//
// Each peer prints its ephemeral port on its first stdout line, then one JSON
// line per closed connection (what close code and reason it received). Both
// are installed by `bash .ci/install-peers.sh`. A missing peer skips its
// subtests, except under CI=true where it fails them.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsactor/wsactor"
)

const (
	// interopStartTimeout bounds a peer's start (until its port line).
	interopStartTimeout = 20 * time.Second
	// interopEventTimeout bounds the wait for any one expected event.
	interopEventTimeout = 30 * time.Second
	// interopMaxMessage is the client's message size limit in these tests;
	// both peers accept 32 MiB.
	interopMaxMessage = 32 << 20
)

// interopPeer is one independent server implementation.
type interopPeer struct {
	name string
	// check reports why the peer cannot run here (nil when it can).
	check func() error
	// command returns the command line starting the peer (with TLS if
	// certFile != "").
	command func(certFile, keyFile string) *exec.Cmd
}

const pythonPath = "/usr/bin/python3"

var interopPeers = []interopPeer{
	{
		name: "node-ws",
		check: func() error {
			node, err := exec.LookPath("node")
			if err != nil {
				return fmt.Errorf("node not found on PATH: %v", err)
			}
			dir := filepath.Join("testdata", "interop", "node")
			if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws", "package.json")); err != nil {
				return fmt.Errorf("npm package ws is not installed in %s (node_modules missing)", dir)
			}
			return runCheck(dir, node, "-e", `require.resolve("ws")`)
		},
		command: func(certFile, keyFile string) *exec.Cmd {
			args := []string{"server.js"}
			if certFile != "" {
				args = append(args, "--tls-cert", certFile, "--tls-key", keyFile)
			}
			cmd := exec.Command("node", args...)
			cmd.Dir = filepath.Join("testdata", "interop", "node")
			return cmd
		},
	},
	{
		name: "python-websockets",
		check: func() error {
			if _, err := os.Stat(pythonPath); err != nil {
				return fmt.Errorf("%s not found: %v", pythonPath, err)
			}
			return runCheck("", pythonPath, "-c", "import websockets")
		},
		command: func(certFile, keyFile string) *exec.Cmd {
			args := []string{"-u", "server.py"}
			if certFile != "" {
				args = append(args, "--tls-cert", certFile, "--tls-key", keyFile)
			}
			cmd := exec.Command(pythonPath, args...)
			cmd.Dir = filepath.Join("testdata", "interop", "python")
			return cmd
		},
	},
}

func runCheck(dir, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

var peerChecks sync.Map // peer name -> error (nil when available)

// requirePeer skips the test when the peer is not installed, or fails it
// when CI=true.
func requirePeer(t *testing.T, p interopPeer) {
	t.Helper()
	v, ok := peerChecks.Load(p.name)
	if !ok {
		err := p.check()
		v, _ = peerChecks.LoadOrStore(p.name, &err)
	}
	if err := *(v.(*error)); err != nil {
		msg := fmt.Sprintf("interop peer %s is not available: %v\n"+
			"install the peers with: bash .ci/install-peers.sh (as root, from the repository root)", p.name, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// forEachPeer runs f as one subtest per peer.
func forEachPeer(t *testing.T, f func(t *testing.T, p interopPeer)) {
	for _, p := range interopPeers {
		t.Run(p.name, func(t *testing.T) {
			requirePeer(t, p)
			f(t, p)
		})
	}
}

// peerReport is one JSON line a peer prints when a connection has closed.
type peerReport struct {
	Event  string `json:"event"`
	ID     string `json:"id"`
	Path   string `json:"path"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// peerProc is a running peer server.
type peerProc struct {
	t       *testing.T
	name    string
	cmd     *exec.Cmd
	port    int
	tls     bool
	stderr  lockedBuffer
	readEnd chan struct{} // closed when the stdout reader has returned

	mu      sync.Mutex
	reports []peerReport
	notify  chan struct{} // capacity 1: a report arrived or stdout ended
	eof     bool
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 1<<20 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startPeer starts the peer (wss if certFile != "") and waits for its port.
// The process is killed (by PID) and reaped at the end of the test.
func startPeer(t *testing.T, p interopPeer, certFile, keyFile string) *peerProc {
	t.Helper()
	cmd := p.command(certFile, keyFile)
	pp := &peerProc{t: t, name: p.name, cmd: cmd, tls: certFile != "",
		readEnd: make(chan struct{}), notify: make(chan struct{}, 1)}
	// The peers exit by themselves when their stdin reaches EOF, so they do
	// not outlive a test binary that dies without its cleanups.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatalf("%s: stdin pipe: %v", p.name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("%s: stdout pipe: %v", p.name, err)
	}
	cmd.Stderr = &pp.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start %v: %v", p.name, cmd.Args, err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		<-pp.readEnd // stdout reaches EOF once the process is gone
		_ = cmd.Wait()
		_ = stdin.Close()
		if t.Failed() {
			if s := pp.stderr.String(); s != "" {
				t.Logf("%s stderr:\n%s", p.name, s)
			}
		}
	})

	portc := make(chan string, 1)
	go func() {
		defer close(pp.readEnd)
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first {
				first = false
				portc <- line
				continue
			}
			var r peerReport
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				r = peerReport{Event: "unparsed", Reason: line}
			}
			pp.mu.Lock()
			pp.reports = append(pp.reports, r)
			pp.mu.Unlock()
			pp.signal()
		}
		_, _ = io.Copy(io.Discard, stdout)
		if first {
			close(portc)
		}
		pp.mu.Lock()
		pp.eof = true
		pp.mu.Unlock()
		pp.signal()
	}()

	timer := time.NewTimer(interopStartTimeout)
	defer timer.Stop()
	select {
	case line, ok := <-portc:
		if !ok {
			t.Fatalf("%s exited before printing its port; stderr:\n%s", p.name, pp.stderr.String())
		}
		port, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || port <= 0 || port > 65535 {
			t.Fatalf("%s: bad port line %q; stderr:\n%s", p.name, line, pp.stderr.String())
		}
		pp.port = port
	case <-timer.C:
		t.Fatalf("%s did not print its port within %v; stderr:\n%s", p.name, interopStartTimeout, pp.stderr.String())
	}
	return pp
}

func (pp *peerProc) signal() {
	select {
	case pp.notify <- struct{}{}:
	default:
	}
}

// url returns the ws:// or wss:// URL of path on the peer.
func (pp *peerProc) url(path string) string {
	scheme := "ws"
	if pp.tls {
		scheme = "wss"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(pp.port)) + path
}

// kill kills the peer process by its PID (SIGKILL).
func (pp *peerProc) kill() {
	if err := syscall.Kill(pp.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		pp.t.Fatalf("kill %s (pid %d): %v", pp.name, pp.cmd.Process.Pid, err)
	}
}

// waitReport waits for the peer's "closed" report of the connection id.
func (pp *peerProc) waitReport(id string) peerReport {
	pp.t.Helper()
	timer := time.NewTimer(interopEventTimeout)
	defer timer.Stop()
	for {
		pp.mu.Lock()
		for _, r := range pp.reports {
			if r.Event == "closed" && r.ID == id {
				pp.mu.Unlock()
				return r
			}
		}
		eof := pp.eof
		pp.mu.Unlock()
		if eof {
			pp.t.Fatalf("%s exited without reporting connection %q; stderr:\n%s", pp.name, id, pp.stderr.String())
		}
		select {
		case <-pp.notify:
		case <-timer.C:
			pp.t.Fatalf("%s did not report the close of connection %q within %v", pp.name, id, interopEventTimeout)
		}
	}
}

var interopConnID atomic.Int64

func newConnID() string { return "c" + strconv.FormatInt(interopConnID.Add(1), 10) }

// dialPeer dials and waits for the Open event. The connection is aborted and
// awaited at the end of the test.
func dialPeer(t *testing.T, rawURL string, opts ...wsactor.Option) (*wsactor.Conn, *wsactor.Open) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopEventTimeout)
	defer cancel()
	opts = append([]wsactor.Option{wsactor.WithMaxMessageSize(interopMaxMessage)}, opts...)
	c, err := wsactor.Dial(ctx, rawURL, opts...)
	if c != nil {
		cleanupConn(t, c)
	}
	if err != nil {
		t.Fatalf("Dial %s: %v", rawURL, err)
	}
	ev := nextEvent(t, c)
	open, ok := ev.(*wsactor.Open)
	if !ok {
		t.Fatalf("first event: got %T %+v, want *wsactor.Open", ev, ev)
	}
	return c, open
}

// cleanupConn aborts c at the end of the test and waits until it is done.
func cleanupConn(t *testing.T, c *wsactor.Conn) {
	t.Cleanup(func() {
		c.Abort()
		timer := time.NewTimer(interopEventTimeout)
		defer timer.Stop()
		for {
			select {
			case _, ok := <-c.Events():
				if ok {
					continue
				}
				select {
				case <-c.Done():
				case <-timer.C:
					t.Errorf("connection not done %v after Abort", interopEventTimeout)
				}
				return
			case <-timer.C:
				t.Errorf("events channel not closed %v after Abort", interopEventTimeout)
				return
			}
		}
	})
}

// nextEvent returns the next event of c, failing the test after the timeout
// or when the channel closed.
func nextEvent(t *testing.T, c *wsactor.Conn) wsactor.Event {
	t.Helper()
	timer := time.NewTimer(interopEventTimeout)
	defer timer.Stop()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("events channel closed while waiting for an event")
		}
		return ev
	case <-timer.C:
		t.Fatalf("no event within %v", interopEventTimeout)
	}
	return nil
}

// waitClose skips messages until the Close event, then checks that the
// events channel closes after it.
func waitClose(t *testing.T, c *wsactor.Conn) (*wsactor.Close, int) {
	t.Helper()
	skipped := 0
	for {
		switch e := nextEvent(t, c).(type) {
		case *wsactor.Message:
			skipped++
		case *wsactor.Close:
			timer := time.NewTimer(interopEventTimeout)
			defer timer.Stop()
			select {
			case ev, ok := <-c.Events():
				if ok {
					t.Fatalf("event after Close: %T %+v", ev, ev)
				}
			case <-timer.C:
				t.Fatalf("events channel not closed %v after Close", interopEventTimeout)
			}
			return e, skipped
		default:
			t.Fatalf("waiting for Close: got %T %+v", e, e)
		}
	}
}

func interopPayload(typ wsactor.MessageType, n int, seed uint64) []byte {
	r := mrand.New(mrand.NewPCG(seed, uint64(n)))
	p := make([]byte, n)
	if typ == wsactor.Text {
		// Valid UTF-8 of exactly n bytes: printable ASCII.
		for i := range p {
			p[i] = byte(' ' + r.IntN(95))
		}
		return p
	}
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		p[i] = byte(r.Uint32())
	}
	return p
}

func TestInteropEcho(t *testing.T) {
	sizes := []int{0, 125, 126, 65535, 65536, 1 << 20, 16 << 20}
	forEachPeer(t, func(t *testing.T, p interopPeer) {
		pp := startPeer(t, p, "", "")
		c, _ := dialPeer(t, pp.url("/echo"))
		for _, typ := range []wsactor.MessageType{wsactor.Text, wsactor.Binary} {
			for _, n := range sizes {
				t.Run(fmt.Sprintf("%v/%d", typ, n), func(t *testing.T) {
					want := interopPayload(typ, n, 42)
					ctx, cancel := context.WithTimeout(context.Background(), interopEventTimeout)
					defer cancel()
					if err := c.Send(ctx, typ, want); err != nil {
						t.Fatalf("Send %v %d bytes: %v", typ, n, err)
					}
					ev := nextEvent(t, c)
					m, ok := ev.(*wsactor.Message)
					if !ok {
						t.Fatalf("got %T %+v, want *wsactor.Message", ev, ev)
					}
					if m.Type != typ {
						t.Errorf("echo type = %v, want %v", m.Type, typ)
					}
					if !bytes.Equal(m.Data, want) {
						t.Errorf("echo of %d bytes differs: got %d bytes (first difference at %d)",
							n, len(m.Data), firstDiff(m.Data, want))
					}
				})
				if t.Failed() {
					return
				}
			}
		}
		if err := c.Close(wsactor.StatusNormalClosure, ""); err != nil {
			t.Fatalf("Close: %v", err)
		}
		ce, skipped := waitClose(t, c)
		if skipped != 0 || ce.Code != wsactor.StatusNormalClosure || !ce.Clean || ce.Err != nil {
			t.Errorf("Close event = %+v (after %d messages), want clean 1000 with nil Err", ce, skipped)
		}
	})
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestInteropSubprotocol(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p interopPeer) {
		pp := startPeer(t, p, "", "")
		t.Run("offered", func(t *testing.T) {
			c, open := dialPeer(t, pp.url("/echo"), wsactor.WithProtocols("chat.v1", "chat.v2"))
			if open.Protocol != "chat.v2" {
				t.Errorf("Open.Protocol = %q, want %q", open.Protocol, "chat.v2")
			}
			if got := c.Protocol(); got != "chat.v2" {
				t.Errorf("Conn.Protocol() = %q, want %q", got, "chat.v2")
			}
		})
		t.Run("not-offered", func(t *testing.T) {
			c, open := dialPeer(t, pp.url("/echo"), wsactor.WithProtocols("chat.v1"))
			if open.Protocol != "" || c.Protocol() != "" {
				t.Errorf("Protocol = %q / %q, want none", open.Protocol, c.Protocol())
			}
		})
		t.Run("none", func(t *testing.T) {
			c, open := dialPeer(t, pp.url("/echo"))
			if open.Protocol != "" || c.Protocol() != "" {
				t.Errorf("Protocol = %q / %q, want none", open.Protocol, c.Protocol())
			}
		})
	})
}

func TestInteropRequestHeaders(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p interopPeer) {
		pp := startPeer(t, p, "", "")
		readHeaders := func(t *testing.T, c *wsactor.Conn) map[string]string {
			t.Helper()
			ev := nextEvent(t, c)
			m, ok := ev.(*wsactor.Message)
			if !ok || m.Type != wsactor.Text {
				t.Fatalf("got %T %+v, want a text message", ev, ev)
			}
			var h map[string]string
			if err := json.Unmarshal(m.Data, &h); err != nil {
				t.Fatalf("headers JSON %q: %v", m.Data, err)
			}
			return h
		}
		t.Run("custom", func(t *testing.T) {
			hdr := http.Header{}
			hdr.Set("X-Interop-Token", "abc123")
			hdr.Add("X-Interop-Multi", "one")
			hdr.Add("X-Interop-Multi", "two")
			hdr.Set("User-Agent", "wsactor-interop/1")
			c, _ := dialPeer(t, pp.url("/headers"), wsactor.WithHeader(hdr), wsactor.WithProtocols("chat.v2"))
			h := readHeaders(t, c)
			t.Logf("%s saw headers: %v", p.name, h)
			want := map[string]string{
				"x-interop-token":        "abc123",
				"x-interop-multi":        "one, two",
				"user-agent":             "wsactor-interop/1",
				"host":                   "127.0.0.1:" + strconv.Itoa(pp.port),
				"sec-websocket-version":  "13",
				"sec-websocket-protocol": "chat.v2",
			}
			for k, v := range want {
				if h[k] != v {
					t.Errorf("server saw %s: %q, want %q", k, h[k], v)
				}
			}
			if !strings.EqualFold(h["upgrade"], "websocket") {
				t.Errorf("server saw upgrade: %q, want websocket", h["upgrade"])
			}
			if !strings.Contains(strings.ToLower(h["connection"]), "upgrade") {
				t.Errorf("server saw connection: %q, want it to contain upgrade", h["connection"])
			}
			if len(h["sec-websocket-key"]) != 24 {
				t.Errorf("server saw sec-websocket-key: %q, want 24 base64 characters", h["sec-websocket-key"])
			}
		})
		t.Run("host", func(t *testing.T) {
			c, _ := dialPeer(t, pp.url("/headers"), wsactor.WithHost("interop.example:8443"))
			h := readHeaders(t, c)
			if h["host"] != "interop.example:8443" {
				t.Errorf("server saw host %q, want %q", h["host"], "interop.example:8443")
			}
		})
	})
}

func TestInteropClientClose(t *testing.T) {
	cases := []struct {
		code   wsactor.StatusCode
		reason string
	}{
		{4000, "done"},
		{wsactor.StatusNormalClosure, ""},
		{wsactor.StatusGoingAway, "ünïcødé ✓"},
	}
	forEachPeer(t, func(t *testing.T, p interopPeer) {
		pp := startPeer(t, p, "", "")
		for _, tc := range cases {
			t.Run(strconv.Itoa(int(tc.code)), func(t *testing.T) {
				id := newConnID()
				c, _ := dialPeer(t, pp.url("/echo?id="+id))
				// One round trip first, so the close is not racing the open.
				ctx, cancel := context.WithTimeout(context.Background(), interopEventTimeout)
				defer cancel()
				if err := c.SendText(ctx, "before close"); err != nil {
					t.Fatalf("SendText: %v", err)
				}
				if m, ok := nextEvent(t, c).(*wsactor.Message); !ok || m.Text() != "before close" {
					t.Fatalf("echo before close: got %+v", m)
				}
				if err := c.Close(tc.code, tc.reason); err != nil {
					t.Fatalf("Close(%d, %q): %v", tc.code, tc.reason, err)
				}
				ce, _ := waitClose(t, c)
				if !ce.Clean || ce.Sent != tc.code || ce.Err != nil {
					t.Errorf("Close event = %+v, want Clean, Sent %d, nil Err", ce, tc.code)
				}
				// Both peers echo the received code and reason.
				if ce.Code != tc.code || ce.Reason != tc.reason {
					t.Errorf("Close event code/reason = %d/%q, want the echo %d/%q", ce.Code, ce.Reason, tc.code, tc.reason)
				}
				r := pp.waitReport(id)
				if r.Code != int(tc.code) || r.Reason != tc.reason {
					t.Errorf("%s saw close %d/%q, want %d/%q", p.name, r.Code, r.Reason, tc.code, tc.reason)
				}
			})
		}
	})
}

func TestInteropServerClose(t *testing.T) {
	cases := []struct {
		code   wsactor.StatusCode
		reason string
	}{
		{4001, "bye"},
		{wsactor.StatusNormalClosure, ""},
		{3000, "ünïcødé ✓"},
	}
	forEachPeer(t, func(t *testing.T, p interopPeer) {
		pp := startPeer(t, p, "", "")
		for _, tc := range cases {
			t.Run(strconv.Itoa(int(tc.code)), func(t *testing.T) {
				id := newConnID()
				q := url.Values{"id": {id}, "code": {strconv.Itoa(int(tc.code))}, "reason": {tc.reason}}
				c, _ := dialPeer(t, pp.url("/close?"+q.Encode()))
				ce, skipped := waitClose(t, c)
				if skipped != 0 {
					t.Errorf("%d unexpected messages before Close", skipped)
				}
				if ce.Code != tc.code || ce.Reason != tc.reason || !ce.Clean || ce.Err != nil {
					t.Errorf("Close event = %+v, want Code %d Reason %q Clean true Err nil", ce, tc.code, tc.reason)
				}
				if ce.Sent != tc.code {
					t.Errorf("Close event Sent = %d, want the echoed %d", ce.Sent, tc.code)
				}
				if st := c.ReadyState(); st != wsactor.StateClosed {
					t.Errorf("ReadyState = %v after Close event, want StateClosed", st)
				}
				// The peer got our echo of its close frame.
				r := pp.waitReport(id)
				if r.Code != int(tc.code) {
					t.Errorf("%s reported close code %d, want %d", p.name, r.Code, tc.code)
				}
			})
		}
	})
}

func TestInteropPeerKilled(t *testing.T) {
	forEachPeer(t, func(t *testing.T, p interopPeer) {
		pp := startPeer(t, p, "", "")
		c, _ := dialPeer(t, pp.url("/stream"))
		// Wait until data is flowing, then kill the server mid-stream.
		const before = 8
		for i := range before {
			ev := nextEvent(t, c)
			m, ok := ev.(*wsactor.Message)
			if !ok {
				t.Fatalf("stream message %d: got %T %+v", i, ev, ev)
			}
			if m.Type != wsactor.Binary || len(m.Data) != 64<<10 || m.Data[1000] != byte(1000%251) {
				t.Fatalf("stream message %d: type %v, %d bytes", i, m.Type, len(m.Data))
			}
		}
		pp.kill()
		ce, skipped := waitClose(t, c)
		t.Logf("Close after kill (%d more messages drained): Code %d, Clean %v, Sent %d, Err %v",
			skipped, ce.Code, ce.Clean, ce.Sent, ce.Err)
		if ce.Code != wsactor.StatusAbnormalClosure {
			t.Errorf("Close Code = %d, want 1006", ce.Code)
		}
		if ce.Err == nil {
			t.Errorf("Close Err = nil, want the cause of the abnormal closure")
		}
		if ce.Clean {
			t.Errorf("Close Clean = true, want false")
		}
		if st := c.ReadyState(); st != wsactor.StateClosed {
			t.Errorf("ReadyState = %v, want StateClosed", st)
		}
	})
}

func TestInteropTLS(t *testing.T) {
	certFile, keyFile, pool := interopCerts(t)
	forEachPeer(t, func(t *testing.T, p interopPeer) {
		pp := startPeer(t, p, certFile, keyFile)
		t.Run("trusted-ca", func(t *testing.T) {
			c, _ := dialPeer(t, pp.url("/echo"),
				wsactor.WithTLSConfig(&tls.Config{RootCAs: pool}),
				wsactor.WithProtocols("chat.v2"))
			if c.Protocol() != "chat.v2" {
				t.Errorf("Protocol = %q over wss, want chat.v2", c.Protocol())
			}
			ctx, cancel := context.WithTimeout(context.Background(), interopEventTimeout)
			defer cancel()
			for _, typ := range []wsactor.MessageType{wsactor.Text, wsactor.Binary} {
				want := interopPayload(typ, 1<<20+3, 7)
				if err := c.Send(ctx, typ, want); err != nil {
					t.Fatalf("Send: %v", err)
				}
				m, ok := nextEvent(t, c).(*wsactor.Message)
				if !ok || m.Type != typ || !bytes.Equal(m.Data, want) {
					t.Fatalf("wss echo of %v message differs", typ)
				}
			}
			if err := c.Close(4000, "done"); err != nil {
				t.Fatalf("Close: %v", err)
			}
			ce, _ := waitClose(t, c)
			if !ce.Clean || ce.Code != 4000 || ce.Reason != "done" || ce.Err != nil {
				t.Errorf("Close event = %+v, want clean 4000/done", ce)
			}
		})
		untrusted := []struct {
			name string
			opts []wsactor.Option
		}{
			{"system-roots", nil},
			{"other-pool", []wsactor.Option{wsactor.WithTLSConfig(&tls.Config{RootCAs: x509.NewCertPool()})}},
		}
		for _, u := range untrusted {
			t.Run("untrusted/"+u.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), interopEventTimeout)
				defer cancel()
				c, err := wsactor.Dial(ctx, pp.url("/echo"), u.opts...)
				if c != nil {
					cleanupConn(t, c)
				}
				if err == nil {
					t.Fatalf("Dial without the test CA succeeded")
				}
				if !errors.Is(err, wsactor.ErrTLS) {
					t.Fatalf("Dial error = %v, want errors.Is(err, wsactor.ErrTLS)", err)
				}
				var uerr x509.UnknownAuthorityError
				if !errors.As(err, &uerr) {
					t.Logf("note: error does not wrap x509.UnknownAuthorityError: %v", err)
				}
				if c != nil {
					ev := nextEvent(t, c)
					if e, ok := ev.(*wsactor.Error); !ok || !errors.Is(e.Err, wsactor.ErrTLS) {
						t.Errorf("terminal event = %T %+v, want *wsactor.Error with ErrTLS", ev, ev)
					}
				}
			})
		}
	})
}

// interopCerts writes a fresh CA and a server certificate for 127.0.0.1
// (signed by that CA) into a temporary directory.
func interopCerts(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wsactor interop test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile = filepath.Join(dir, "server.crt")
	keyFile = filepath.Join(dir, "server.key")
	// The chain file holds the server certificate only; the client trusts
	// the CA through its pool.
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(caCert)
	return certFile, keyFile, pool
}
