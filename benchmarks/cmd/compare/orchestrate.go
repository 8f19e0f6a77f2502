package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func scenarioNames() []string {
	return []string{"echo16", "echo1k", "echo64k", "pipe16", "pipe1k", "push16", "push64k", "idle", "conc"}
}

// buildScenarios turns the flags into concrete scenario sizes.
func buildScenarios(cfg config) []Scenario {
	scale := cfg.scale
	idle, conc, concMsgs := cfg.idleConns, cfg.concConns, cfg.concMsgs
	if cfg.quick {
		if !cfg.explicitly["scale"] {
			scale = 0.1
		}
		if !cfg.explicitly["idle-conns"] {
			idle = 1000
		}
		if !cfg.explicitly["conc-conns"] {
			conc = 500
		}
	}
	n := func(base int) int { return max(1, int(float64(base)*scale+0.5)) }
	w := func(base int) int { return max(10, n(base)) }
	cm := max(5, n(concMsgs))
	if cfg.explicitly["conc-msgs"] {
		cm = max(1, concMsgs)
	}
	return []Scenario{
		{Name: "echo16", Kind: "echo", Size: 16, Count: n(20000), Warmup: w(1000)},
		{Name: "echo1k", Kind: "echo", Size: 1024, Count: n(20000), Warmup: w(1000)},
		{Name: "echo64k", Kind: "echo", Size: 64 << 10, Count: n(3000), Warmup: w(200)},
		{Name: "pipe16", Kind: "pipe", Size: 16, Count: n(200000), Window: cfg.window, Warmup: w(5000)},
		{Name: "pipe1k", Kind: "pipe", Size: 1024, Count: n(100000), Window: cfg.window, Warmup: w(5000)},
		{Name: "push16", Kind: "push", Size: 16, Count: n(200000)},
		{Name: "push64k", Kind: "push", Size: 64 << 10, Count: n(20000)},
		{Name: "idle", Kind: "idle", Count: idle},
		{Name: "conc", Kind: "conc", Size: 16, Conns: conc, Count: cm},
	}
}

// selectList picks the names spec lists from all (all of them when spec
// is empty); names in also are accepted when listed but not by default.
func selectList(spec string, all []string, what string, also ...string) ([]string, error) {
	if strings.TrimSpace(spec) == "" {
		return all, nil
	}
	all = append(all[:len(all):len(all)], also...)
	var out []string
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		found := false
		for _, a := range all {
			if a == s {
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown %s %q (available: %s)", what, s, strings.Join(all, ","))
		}
		out = append(out, s)
	}
	return out, nil
}

func orchestrate(cfg config) error {
	if cfg.quick && !cfg.explicitly["reps"] {
		cfg.reps = 1
	}
	if cfg.quick && !cfg.explicitly["timeout"] {
		cfg.timeout = 30 * time.Second
	}
	cfg.reps = max(1, cfg.reps)
	ads, err := selectList(cfg.adapters, availableAdapters(), "adapter", controlAdapters()...)
	if err != nil {
		return err
	}
	var scenByName = map[string]Scenario{}
	for _, s := range buildScenarios(cfg) {
		scenByName[s.Name] = s
	}
	names, err := selectList(cfg.scenarios, scenarioNames(), "scenario")
	if err != nil {
		return err
	}
	if cfg.listOnly {
		fmt.Println("adapters:", strings.Join(availableAdapters(), ","))
		fmt.Println("controls (run when named in -adapters):", strings.Join(controlAdapters(), ","))
		for _, n := range names {
			b, _ := json.Marshal(scenByName[n])
			fmt.Printf("%-8s %s\n", n, b)
		}
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.outDir, 0o755); err != nil {
		return err
	}
	stamp := time.Now().Format("20060102-150405")
	jsonPath := filepath.Join(cfg.outDir, "run-"+stamp+".jsonl")
	jf, err := os.Create(jsonPath)
	if err != nil {
		return err
	}
	defer jf.Close()
	var bf *os.File
	benchPath := filepath.Join(cfg.outDir, "run-"+stamp+".bench.txt")
	if cfg.benchFile {
		if bf, err = os.Create(benchPath); err != nil {
			return err
		}
		defer bf.Close()
		fmt.Fprintf(bf, "goos: %s\ngoarch: %s\npkg: github.com/wsactor/wsactor/benchmarks\ncpu: %s\n", runtime.GOOS, runtime.GOARCH, cpuModel())
	}

	if la := loadAvg(); la > float64(runtime.NumCPU())*0.5 {
		fmt.Fprintf(os.Stderr, "compare: warning: 1-minute load average is %.1f on %d CPUs; other processes compete for the CPU and results will be noisy\n", la, runtime.NumCPU())
	}
	total := cfg.reps * len(names) * len(ads)
	fmt.Fprintf(os.Stderr, "compare: %d runs (%d reps x %d scenarios x %d adapters), results -> %s\n",
		total, cfg.reps, len(names), len(ads), jsonPath)
	var results []Result
	began := time.Now()
	k := 0
	for rep := 1; rep <= cfg.reps; rep++ {
		for si, name := range names {
			s := scenByName[name]
			// Round-robin: rotate the adapter order every repetition (and
			// scenario) so no adapter always runs first or last.
			off := (rep - 1 + si) % len(ads)
			for j := range ads {
				ad := ads[(off+j)%len(ads)]
				k++
				if k > 1 && cfg.pause > 0 {
					time.Sleep(cfg.pause) // let the previous processes' sockets and CPU settle
				}
				t0 := time.Now()
				res := runOne(cfg, self, ad, s, rep)
				results = append(results, res)
				b, _ := json.Marshal(res)
				jf.Write(append(b, '\n'))
				if bf != nil {
					writeBenchLine(bf, res)
				}
				fmt.Fprintf(os.Stderr, "[%d/%d] rep %d %-8s %-8s %s (%.1fs)\n", k, total, rep, name, ad, shortResult(res), time.Since(t0).Seconds())
				if cfg.verbose {
					fmt.Fprintf(os.Stderr, "  %s\n", b)
				}
			}
		}
	}
	fmt.Fprintf(os.Stderr, "compare: done in %s\n", time.Since(began).Round(time.Second))
	printReport(os.Stdout, results, names, ads, cfg)
	fmt.Fprintf(os.Stdout, "\nRaw results: %s", jsonPath)
	if bf != nil {
		fmt.Fprintf(os.Stdout, " (benchstat format: %s)", benchPath)
	}
	fmt.Fprintln(os.Stdout)
	return nil
}

func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// runOne starts a fresh echo server process and a fresh client process,
// and returns the client's result. Both processes are ended by PID.
func runOne(cfg config, self, adapter string, s Scenario, rep int) Result {
	fail := func(err error) Result {
		return Result{Time: time.Now().UTC().Format(time.RFC3339), Scenario: s.Name, Adapter: adapter, Rep: rep, Params: s, Err: err.Error()}
	}
	srv, addr, err := startServer(cfg, self)
	if err != nil {
		return fail(fmt.Errorf("echo server: %w", err))
	}
	defer srv.stop()

	sj, _ := json.Marshal(s)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout+15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-child", "-adapter", adapter, "-scenario", string(sj),
		"-addr", addr, "-rep", strconv.Itoa(rep), "-timeout", cfg.timeout.String())
	pin(cmd, cfg.clientCPU)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &limitedWriter{w: &errb, n: 64 << 10}
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	for _, line := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			var r Result
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				return fail(fmt.Errorf("bad result line: %v", err))
			}
			if runErr != nil && r.OK {
				// e.g. a panic during teardown or the race detector's exit 66
				r.OK = false
				r.Err = fmt.Sprintf("client process exited with %v after reporting its result", runErr)
			}
			if !r.OK && errb.Len() > 0 {
				r.Err += " | stderr: " + stderrExcerpt(errb.String())
			}
			return r
		}
	}
	if runErr == nil {
		runErr = errors.New("no result line")
	}
	return fail(fmt.Errorf("client process: %v; stderr: %s", runErr, stderrExcerpt(errb.String())))
}

type server struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func (s *server) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill() // by PID
	}
	_ = s.stdin.Close()
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
}

func startServer(cfg config, self string) (*server, string, error) {
	var cmd *exec.Cmd
	if cfg.serverBin != "" {
		cmd = exec.Command(cfg.serverBin, "-watch-stdin", "-max-life", "2h")
	} else {
		cmd = exec.Command(self, "-serve")
	}
	pin(cmd, cfg.serverCPU)
	stdin, err := cmd.StdinPipe() // closing it (or our death) makes the server exit
	if err != nil {
		return nil, "", err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	s := &server{cmd: cmd, stdin: stdin}
	line := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		l, _ := r.ReadString('\n')
		line <- strings.TrimSpace(l)
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case l := <-line:
		if l == "" {
			s.stop()
			return nil, "", errors.New("server printed no address")
		}
		return s, l, nil
	case <-time.After(10 * time.Second):
		s.stop()
		return nil, "", errors.New("server did not print its address within 10s")
	}
}

type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		q := p
		if len(q) > l.n {
			q = q[:l.n]
		}
		l.n -= len(q)
		_, _ = l.w.Write(q)
	}
	return len(p), nil
}

// stderrExcerpt keeps the start of a panic (message and first frames) or
// else the end of the output.
func stderrExcerpt(s string) string {
	i := strings.Index(s, "panic:")
	if j := strings.Index(s, "WARNING: DATA RACE"); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i >= 0 {
		s = s[i:]
		if len(s) > 1500 {
			s = s[:1500] + "..."
		}
		return strings.TrimSpace(s)
	}
	return tail(s, 1000)
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// pin runs cmd under taskset -c cpus (which execs it: the PID is the
// program's). Placement on a small VM decides sequential echo results: see
// the README.
func pin(cmd *exec.Cmd, cpus string) {
	if cpus == "" {
		return
	}
	path, err := exec.LookPath("taskset")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare: -server-cpu/-client-cpu need taskset (util-linux)")
		os.Exit(2)
	}
	cmd.Args = append([]string{"taskset", "-c", cpus}, cmd.Args...)
	cmd.Path = path
	cmd.Err = nil
}
