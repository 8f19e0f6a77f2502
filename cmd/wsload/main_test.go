package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestRunEmbedded(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, mode := range []struct{ text, receive bool }{{false, false}, {true, false}, {false, true}} {
		text := mode.text
		cfg := DefaultConfig()
		cfg.Conns = 20
		cfg.Dialers = 4
		cfg.Duration = time.Second
		cfg.Size = 100
		cfg.Text = text
		cfg.Receive = mode.receive
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		rep.Print(&out)
		t.Logf(
			"text=%v receive=%v\n%s",
			text, mode.receive, out.String(),
		)
		if !rep.OK() || rep.Opened != 20 || rep.Failed != 0 {
			t.Fatalf(
				"opened %d failed %d mismatches %d",
				rep.Opened, rep.Failed, rep.Mismatches,
			)
		}
		if rep.Messages == 0 || rep.LatP50 <= 0 || rep.LatMax < rep.LatP99 {
			t.Fatalf(
				"messages %d p50 %v p99 %v max %v",
				rep.Messages, rep.LatP50, rep.LatP99, rep.LatMax,
			)
		}
		if rep.CleanCloses != 20 || len(rep.Errors) != 0 {
			t.Fatalf(
				"clean closes %d, errors %v",
				rep.CleanCloses, rep.Errors,
			)
		}
		if s := rep.Server; s == nil || s.Closes != 20 || s.Messages < rep.Messages {
			t.Fatalf(
				"server stats %+v",
				s,
			)
		}
	}
}

func TestRunRate(t *testing.T) {
	defer goleak.VerifyNone(t)
	for _, receive := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Conns = 5
		cfg.Duration = time.Second
		cfg.Rate = 20
		cfg.Receive = receive
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		// 5 connections at 20 msg/s for 1s: about 100 messages.
		if !rep.OK() || rep.Messages < 30 || rep.Messages > 110 || rep.CleanCloses != 5 {
			t.Fatalf(
				"receive %v: ok %v, messages %d (want about 100), clean closes %d",
				receive, rep.OK(), rep.Messages, rep.CleanCloses,
			)
		}
	}
}

func TestRunRefused(t *testing.T) {
	defer goleak.VerifyNone(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var stdout, stderr bytes.Buffer
	code := run([]string{"-url", "ws://" + addr + "/", "-conns", "3", "-duration", "100ms"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf(
			"exit %d, want 1\nstdout:\n%s\nstderr:\n%s",
			code, stdout.String(), stderr.String(),
		)
	}
	if !strings.Contains(stdout.String(), "3  dial: refused") ||
		!strings.Contains(stderr.String(), "no connection opened") {
		t.Fatalf(
			"stdout:\n%s\nstderr:\n%s",
			stdout.String(), stderr.String(),
		)
	}
}

func TestRunBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-conns", "0"}, &stdout, &stderr); code != 2 {
		t.Fatalf(
			"exit %d, want 2",
			code,
		)
	}
}

func TestStamp(t *testing.T) {
	p := makePayload(3, 20)
	stamp(p, 0xabc)
	if got := string(p[:16]); got != "0000000000000abc" {
		t.Fatalf(
			"stamp %q",
			got,
		)
	}
	short := makePayload(0, 2)
	stamp(short, 0xabc)
	if string(short) != "bc" {
		t.Fatalf(
			"short stamp %q",
			short,
		)
	}
}
