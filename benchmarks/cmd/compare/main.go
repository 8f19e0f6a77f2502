// Command compare runs the wsactor comparison benchmarks (see ../../README.md).
//
// One invocation is the orchestrator: for every repetition, scenario and
// adapter (round-robin, rotated each repetition) it starts a fresh echo server
// process and a fresh client process, collects the client's JSON result,
// appends it to a JSON-lines file and finally prints medians as markdown.
//
// The same binary is also the client process (-child) and, unless -server is
// given, the echo server process (-serve).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/wsactor/wsactor/benchmarks/internal/echoserver"
)

type config struct {
	adapters   string
	scenarios  string
	reps       int
	quick      bool
	scale      float64
	idleConns  int
	concConns  int
	concMsgs   int
	window     int
	timeout    time.Duration
	pause      time.Duration
	outDir     string
	serverBin  string
	serverCPU  string // taskset CPU list for the echo server ("" = any)
	clientCPU  string // taskset CPU list for each client process
	from       string
	benchFile  bool
	verbose    bool
	listOnly   bool
	explicitly map[string]bool
}

func main() {
	var (
		cfg      config
		serve    = flag.Bool("serve", false, "internal: run the echo server (same code as cmd/echoserver)")
		child    = flag.Bool("child", false, "internal: run one client process")
		cAdapter = flag.String("adapter", "", "internal (-child): adapter name")
		cScen    = flag.String("scenario", "", "internal (-child): scenario as JSON")
		cAddr    = flag.String("addr", "", "internal (-child): echo server host:port")
		cRep     = flag.Int("rep", 0, "internal (-child): repetition number")
	)
	flag.StringVar(&cfg.adapters, "adapters", "", "comma-separated adapters (default: all compiled in: "+strings.Join(availableAdapters(), ",")+")")
	flag.StringVar(&cfg.scenarios, "scenarios", "", "comma-separated scenarios (default: all: "+strings.Join(scenarioNames(), ",")+")")
	flag.IntVar(&cfg.reps, "reps", 5, "repetitions of every (scenario, adapter) pair; -quick defaults to 1")
	flag.BoolVar(&cfg.quick, "quick", false, "smoke-test sizes: scale 0.1, 1 rep, 1000 idle / 500 concurrent connections (< 1 min)")
	flag.Float64Var(&cfg.scale, "scale", 1, "multiply every message count by this (not connection counts)")
	flag.IntVar(&cfg.idleConns, "idle-conns", 5000, "connections in the idle scenario")
	flag.IntVar(&cfg.concConns, "conc-conns", 2000, "connections in the concurrent-echo scenario")
	flag.IntVar(&cfg.concMsgs, "conc-msgs", 20, "round trips per connection in the concurrent-echo scenario (scaled by -scale)")
	flag.IntVar(&cfg.window, "window", 128, "messages in flight in the pipelined scenarios")
	flag.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "time bound of one client process (its loops stop there; it is killed 15s later)")
	flag.DurationVar(&cfg.pause, "pause", 100*time.Millisecond, "pause between runs")
	flag.StringVar(&cfg.outDir, "out", "results", "directory for raw results (JSON lines) and Go benchmark format output")
	flag.StringVar(&cfg.serverBin, "server", "", "echo server binary (e.g. built from ./cmd/echoserver); default: this binary with -serve")
	flag.StringVar(&cfg.serverCPU, "server-cpu", "", "pin the echo server to these CPUs (taskset -c list, e.g. 1)")
	flag.StringVar(&cfg.clientCPU, "client-cpu", "", "pin each client process to these CPUs (taskset -c list, e.g. 0)")
	flag.StringVar(&cfg.from, "from", "", "do not run anything: print the table from this JSON-lines results file")
	flag.BoolVar(&cfg.benchFile, "benchfmt", true, "also write Go benchmark format lines (for benchstat) next to the JSON lines")
	flag.BoolVar(&cfg.verbose, "v", false, "print every run's result line on stderr")
	flag.BoolVar(&cfg.listOnly, "list", false, "list adapters and scenarios (with the sizes that would be used) and exit")
	flag.Parse()
	cfg.explicitly = map[string]bool{}
	flag.Visit(func(f *flag.Flag) { cfg.explicitly[f.Name] = true })

	switch {
	case *serve:
		if err := echoserver.Main("127.0.0.1:0", true, 2*time.Hour); err != nil {
			fatalf("serve: %v", err)
		}
	case *child:
		os.Exit(childMain(*cAdapter, *cScen, *cAddr, *cRep, cfg.timeout))
	case cfg.from != "":
		if err := reportFromFile(os.Stdout, cfg.from, cfg); err != nil {
			fatalf("%v", err)
		}
	default:
		if err := orchestrate(cfg); err != nil {
			fatalf("%v", err)
		}
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
	os.Exit(1)
}

// childMain runs one scenario with one adapter and prints one result line
// prefixed with "RESULT " on stdout.
func childMain(adapterName, scenJSON, addr string, rep int, timeout time.Duration) int {
	nofile := echoserver.RaiseNoFile()
	var s Scenario
	if err := json.Unmarshal([]byte(scenJSON), &s); err != nil {
		fmt.Fprintln(os.Stderr, "child: bad -scenario:", err)
		return 2
	}
	res := Result{
		Time:     time.Now().UTC().Format(time.RFC3339),
		Scenario: s.Name,
		Adapter:  adapterName,
		Rep:      rep,
		Params:   s,
	}
	a, err := getAdapter(adapterName)
	conns := s.Conns
	if s.Kind == "idle" {
		conns = s.Count
	}
	if err == nil && nofile > 0 && uint64(conns)+64 > nofile {
		err = fmt.Errorf("%d connections need more file descriptors than RLIMIT_NOFILE allows (%d, raised to the hard limit; see ulimit -Hn)", conns, nofile)
	}
	if err == nil {
		maxRunTime = timeout + 30*time.Second
		e := &env{adapter: a, addr: addr, deadline: time.Now().Add(timeout)}
		var m map[string]float64
		m, res.Truncated, err = runScenario(e, s)
		res.Metrics = m
	}
	if err != nil {
		res.Err = err.Error()
	} else {
		res.OK = true
	}
	b, _ := json.Marshal(res)
	fmt.Fprintf(os.Stdout, "RESULT %s\n", b)
	return 0
}
