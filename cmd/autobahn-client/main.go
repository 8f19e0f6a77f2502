// Command autobahn-client runs the Autobahn|Testsuite client test cases
// against wsactor: start the fuzzing server (wstest -m fuzzingserver) and
// run
//
//	go run ./cmd/autobahn-client -url ws://127.0.0.1:9001 -agent wsactor
//
// It asks the fuzzing server for the number of cases (/getCaseCount), runs
// every case (/runCase?case=N&agent=A) by echoing each text and binary
// message back with its type until the connection closes, prints each case's
// outcome (/getCaseStatus) unless -status=false, and finally asks the server
// to write its reports (/updateReports?agent=A).
//
// The exit status is 0 when every case ran (whatever the verdicts, unless
// -strict), 1 otherwise, 2 on bad flags.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wsactor/wsactor"
)

type config struct {
	url         string
	agent       string
	cases       string // "" = all, else "1,5,10-20"
	caseTimeout time.Duration
	status      bool
	strict      bool
	verbose     bool
	errlog      []string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var cfg config
	fs := flag.NewFlagSet("autobahn-client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.url, "url", "ws://127.0.0.1:9001", "fuzzing server URL")
	fs.StringVar(&cfg.agent, "agent", "wsactor", "agent name in the reports")
	fs.StringVar(&cfg.cases, "cases", "", "case numbers to run, e.g. 1,5,10-20 (default all)")
	fs.DurationVar(&cfg.caseTimeout, "case-timeout", 5*time.Minute, "abort a case after this long")
	fs.BoolVar(&cfg.status, "status", true, "fetch and print each case's verdict")
	fs.BoolVar(&cfg.strict, "strict", false, "exit 1 if a case's verdict is FAILED")
	fs.BoolVar(&cfg.verbose, "v", false, "print every case, not only the non-OK ones")
	errlog := fs.String("errlog", "none", "wsactor error log channels, comma-separated")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "autobahn-client: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg.errlog = strings.Split(*errlog, ",")
	cfg.url = strings.TrimSuffix(cfg.url, "/")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runAll(ctx, cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "autobahn-client: %v\n", err)
		return 1
	}
	return 0
}

func (cfg config) opts() []wsactor.Option {
	return []wsactor.Option{
		// Autobahn sends messages of up to 16 MiB (cases 9.x).
		wsactor.WithMaxMessageSize(64 << 20),
		wsactor.WithErrorLog(cfg.errlog...),
	}
}

func (cfg config) endpoint(path string, q url.Values) string {
	q.Set("agent", cfg.agent)
	return cfg.url + path + "?" + q.Encode()
}

func runAll(ctx context.Context, cfg config, out io.Writer) error {
	// Validate the URL and options before touching the network.
	probe, err := wsactor.New(cfg.url+"/getCaseCount", cfg.opts()...)
	if err != nil {
		return err
	}
	_ = probe.Close(wsactor.StatusNormalClosure, "")

	text, err := fetchText(ctx, cfg, cfg.url+"/getCaseCount")
	if err != nil {
		return fmt.Errorf("getCaseCount: %w", err)
	}
	count, err := strconv.Atoi(strings.TrimSpace(text))
	if err != nil || count < 0 {
		return fmt.Errorf("getCaseCount: bad answer %q", text)
	}
	cases, err := parseCases(cfg.cases, count)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%d cases on the server, running %d as agent %q\n", count, len(cases), cfg.agent)

	verdicts := map[string]int{}
	var failedToRun, failedVerdict []int
	start := time.Now()
	for _, n := range cases {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		cl, err := runCase(ctx, cfg, n)
		dur := time.Since(t0)
		if err != nil {
			failedToRun = append(failedToRun, n)
			fmt.Fprintf(out, "case %d: did not run: %v\n", n, err)
			continue
		}
		verdict := "-"
		if cfg.status {
			verdict, err = caseStatus(ctx, cfg, n)
			if err != nil {
				verdict = "status error: " + err.Error()
			}
			verdicts[verdict]++
			if verdict == "FAILED" {
				failedVerdict = append(failedVerdict, n)
			}
		}
		if cfg.verbose || (cfg.status && verdict != "OK") {
			fmt.Fprintf(out, "case %d: %s (%s; close %d sent %d clean %v%s)\n",
				n, verdict, dur.Round(time.Millisecond), cl.Code, cl.Sent, cl.Clean, causeSuffix(cl.Err))
		}
	}

	if _, err := fetchText(ctx, cfg, cfg.endpoint("/updateReports", url.Values{})); err != nil {
		return fmt.Errorf("updateReports: %w", err)
	}

	fmt.Fprintf(out, "ran %d cases in %s", len(cases)-len(failedToRun), time.Since(start).Round(time.Millisecond))
	if cfg.status {
		keys := make([]string, 0, len(verdicts))
		for k := range verdicts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(out, ", %d %s", verdicts[k], k)
		}
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "reports updated")
	switch {
	case len(failedToRun) > 0:
		return fmt.Errorf("%d cases did not run: %v", len(failedToRun), failedToRun)
	case cfg.strict && len(failedVerdict) > 0:
		return fmt.Errorf("%d cases FAILED: %v", len(failedVerdict), failedVerdict)
	}
	return nil
}

func causeSuffix(err error) string {
	if err == nil {
		return ""
	}
	return ", cause: " + err.Error()
}

// runCase echoes every data message of case n back until the connection
// ends, and returns its Close event.
func runCase(ctx context.Context, cfg config, n int) (*wsactor.Close, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.caseTimeout)
	defer cancel()
	c, err := wsactor.Dial(ctx, cfg.endpoint("/runCase", url.Values{"case": {strconv.Itoa(n)}}), cfg.opts()...)
	if err != nil {
		if c != nil {
			<-c.Done()
		}
		return nil, err
	}
	stop := context.AfterFunc(ctx, c.Abort) // case timeout or Ctrl-C
	defer stop()
	for ev := range c.Events() {
		switch e := ev.(type) {
		case *wsactor.Message:
			// Send fails with ErrNotOpen once the connection is closing:
			// nothing to do, the Close event follows.
			err := c.Send(ctx, e.Type, e.Data)
			if err != nil && !errors.Is(err, wsactor.ErrNotOpen) && ctx.Err() == nil {
				return nil, fmt.Errorf("echo: %w", err)
			}
		case *wsactor.Close:
			<-c.Done()
			if ctx.Err() != nil {
				return e, fmt.Errorf("aborted: %w", context.Cause(ctx))
			}
			return e, nil
		case *wsactor.Error:
			return nil, e.Err
		}
	}
	return nil, errors.New("events channel closed without a terminal event")
}

// caseStatus returns the verdict of case n ("OK", "NON-STRICT", "FAILED"...).
func caseStatus(ctx context.Context, cfg config, n int) (string, error) {
	text, err := fetchText(ctx, cfg, cfg.endpoint("/getCaseStatus", url.Values{"case": {strconv.Itoa(n)}}))
	if err != nil {
		return "", err
	}
	var st struct {
		Behavior string `json:"behavior"`
	}
	if err := json.Unmarshal([]byte(text), &st); err != nil || st.Behavior == "" {
		return "", fmt.Errorf("bad status %q", text)
	}
	return st.Behavior, nil
}

// fetchText connects to u, collects the text messages the server sends and
// returns them concatenated once the server has closed the connection.
func fetchText(ctx context.Context, cfg config, u string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := wsactor.Dial(ctx, u, cfg.opts()...)
	if err != nil {
		if c != nil {
			<-c.Done()
		}
		return "", err
	}
	stop := context.AfterFunc(ctx, c.Abort)
	defer stop()
	var sb strings.Builder
	for ev := range c.Events() {
		switch e := ev.(type) {
		case *wsactor.Message:
			sb.Write(e.Data)
		case *wsactor.Close:
			<-c.Done()
			if ctx.Err() != nil {
				return "", context.Cause(ctx)
			}
			if e.Code != wsactor.StatusNormalClosure && e.Code != wsactor.StatusNoStatusReceived {
				return sb.String(), fmt.Errorf("closed with %d %q%s", e.Code, e.Reason, causeSuffix(e.Err))
			}
			return sb.String(), nil
		case *wsactor.Error:
			return "", e.Err
		}
	}
	return "", errors.New("events channel closed without a terminal event")
}

// parseCases parses "1,5,10-20" into case numbers within 1..count; "" means
// all of them.
func parseCases(spec string, count int) ([]int, error) {
	var out []int
	if spec == "" {
		for n := 1; n <= count; n++ {
			out = append(out, n)
		}
		return out, nil
	}
	for part := range strings.SplitSeq(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("-cases: bad number %q", lo)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("-cases: bad number %q", hi)
			}
		}
		if a < 1 || b > count || a > b {
			return nil, fmt.Errorf("-cases: %q outside 1-%d", part, count)
		}
		for n := a; n <= b; n++ {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
