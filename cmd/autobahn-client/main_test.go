package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"
)

// fakeFuzzer mimics the Autobahn fuzzing server's client-testing protocol.
type fakeFuzzer struct {
	t       *testing.T
	mu      sync.Mutex
	ran     []string // case numbers run
	status  map[string]string
	updated bool
}

func (f *fakeFuzzer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer conn.Close()
	q := r.URL.Query()
	closeNormal := func() {
		_ = ws.WriteFrame(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
		// Wait for the client's close frame.
		for {
			fr, err := ws.ReadFrame(conn)
			if err != nil || fr.Header.OpCode == ws.OpClose {
				return
			}
		}
	}
	switch r.URL.Path {
	case "/getCaseCount":
		_ = wsutil.WriteServerText(conn, []byte("3"))
		closeNormal()
	case "/runCase":
		if q.Get("agent") != "tester" {
			f.t.Errorf(
				"agent %q",
				q.Get("agent"),
			)
		}
		n := q.Get("case")
		f.mu.Lock()
		f.ran = append(f.ran, n)
		f.mu.Unlock()
		msgs := []struct {
			op ws.OpCode
			p  []byte
		}{
			{
				op: ws.OpText,
				p:  []byte("case " + n),
			},
			{
				op: ws.OpBinary,
				p:  bytes.Repeat([]byte{0, 0xff}, 40_000),
			},
			{
				op: ws.OpText,
				p:  nil,
			},
		}
		ok := true
		for _, m := range msgs {
			_ = wsutil.WriteServerMessage(conn, m.op, m.p)
			got, op, err := wsutil.ReadClientData(conn)
			if err != nil || op != m.op || !bytes.Equal(got, m.p) {
				ok = false
			}
		}
		verdict := "OK"
		if !ok {
			verdict = "FAILED"
		}
		f.mu.Lock()
		f.status[n] = verdict
		f.mu.Unlock()
		closeNormal()
	case "/getCaseStatus":
		f.mu.Lock()
		v := f.status[q.Get("case")]
		f.mu.Unlock()
		_ = wsutil.WriteServerText(conn, []byte(`{"behavior": "`+v+`"}`))
		closeNormal()
	case "/updateReports":
		f.mu.Lock()
		f.updated = true
		f.mu.Unlock()
		closeNormal()
	default:
		f.t.Errorf(
			"unexpected path %q",
			r.URL.Path,
		)
	}
}

func startFake(t *testing.T) (*fakeFuzzer, string) {
	f := &fakeFuzzer{t: t, status: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, "ws://" + srv.Listener.Addr().String()
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAllCases(t *testing.T) {
	f, u := startFake(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"-url", u, "-agent", "tester", "-v"}, &stdout, &stderr)
	t.Logf(
		"stdout:\n%s\nstderr:\n%s",
		stdout.String(), stderr.String(),
	)
	if code != 0 {
		t.Fatalf(
			"exit %d",
			code,
		)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.ran, ",") != "1,2,3" || !f.updated {
		t.Fatalf(
			"ran %v, updated %v",
			f.ran, f.updated,
		)
	}
	for n, v := range f.status {
		if v != "OK" {
			t.Errorf(
				"case %s: %s",
				n, v,
			)
		}
	}
	if !strings.Contains(stdout.String(), "ran 3 cases") || !strings.Contains(stdout.String(), "3 OK") {
		t.Fatalf(
			"summary missing:\n%s",
			stdout.String(),
		)
	}
}

func TestSomeCases(t *testing.T) {
	f, u := startFake(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-url", u + "/", "-agent", "tester", "-cases", "3,1-1", "-status=false"}, &stdout, &stderr); code != 0 {
		t.Fatalf(
			"exit %d\n%s%s",
			code, stdout.String(), stderr.String(),
		)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.Join(f.ran, ",") != "1,3" {
		t.Fatalf(
			"ran %v",
			f.ran,
		)
	}
}

func TestServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-url", "ws://" + addr}, &stdout, &stderr); code != 1 {
		t.Fatalf(
			"exit %d, want 1",
			code,
		)
	}
}

func TestParseCases(t *testing.T) {
	got, err := parseCases("5, 1-3,2", 10)
	if err != nil || len(got) != 4 || got[0] != 1 || got[3] != 5 {
		t.Fatalf(
			"got %v %v",
			got, err,
		)
	}
	for _, bad := range []string{"0", "11", "3-2", "x", "1-y"} {
		if _, err := parseCases(bad, 10); err == nil {
			t.Errorf(
				"%q: no error",
				bad,
			)
		}
	}
}
