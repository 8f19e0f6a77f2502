package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

type column struct {
	head   string
	key    string
	ratio  bool // print value / raw's value instead of the value
	spread bool // print min–max over the runs instead of the median
	prec   int
}

var kindTitle = map[string]string{
	"echo": "sequential echo round trips (1 message in flight)",
	"pipe": "pipelined echo (%d in flight)",
	"push": "server push (client only receives)",
	"idle": "idle connections (receiving, nothing sent; Starter adapters without a goroutine of ours)",
	"conc": "%d connections echoing at once (16 B, sequential per connection)",
}

var kindColumns = map[string][]column{
	"echo": {
		{head: "msgs/s", key: "msgs_per_s"}, {head: "min–max", key: "msgs_per_s", spread: true}, {head: "× raw", key: "msgs_per_s", ratio: true},
		{head: "p50 µs", key: "p50_us", prec: 1}, {head: "p99 µs", key: "p99_us", prec: 1},
		{head: "CPU µs/op", key: "cpu_us_per_op", prec: 2}, {head: "CPU × raw", key: "cpu_us_per_op", ratio: true},
	},
	"pipe": {
		{head: "msgs/s", key: "msgs_per_s"}, {head: "min–max", key: "msgs_per_s", spread: true}, {head: "× raw", key: "msgs_per_s", ratio: true},
		{head: "MB/s", key: "mb_per_s", prec: 1},
		{head: "CPU µs/op", key: "cpu_us_per_op", prec: 2}, {head: "CPU × raw", key: "cpu_us_per_op", ratio: true},
	},
	"push": {
		{head: "msgs/s", key: "msgs_per_s"}, {head: "min–max", key: "msgs_per_s", spread: true}, {head: "MB/s", key: "mb_per_s", prec: 1}, {head: "× raw", key: "msgs_per_s", ratio: true},
		{head: "CPU µs/op", key: "cpu_us_per_op", prec: 3}, {head: "CPU × raw", key: "cpu_us_per_op", ratio: true},
	},
	"idle": {
		{head: "RSS KiB/conn", key: "rss_kib_per_conn", prec: 1}, {head: "min–max", key: "rss_kib_per_conn", spread: true, prec: 1}, {head: "× raw", key: "rss_kib_per_conn", ratio: true},
		{head: "heap KiB/conn", key: "heap_kib_per_conn", prec: 1}, {head: "stack KiB/conn", key: "stack_kib_per_conn", prec: 1},
		{head: "goroutines/conn", key: "goroutines_per_conn", prec: 2},
		{head: "dials/s", key: "dials_per_s"}, {head: "CPU µs/dial", key: "cpu_us_per_op", prec: 1},
	},
	"conc": {
		{head: "msgs/s", key: "msgs_per_s"}, {head: "min–max", key: "msgs_per_s", spread: true}, {head: "× raw", key: "msgs_per_s", ratio: true},
		{head: "p50 µs", key: "p50_us", prec: 0}, {head: "p99 µs", key: "p99_us", prec: 0},
		{head: "CPU µs/op", key: "cpu_us_per_op", prec: 2}, {head: "CPU × raw", key: "cpu_us_per_op", ratio: true},
	},
}

// primary metric of each kind for the summary table (and whether higher is better)
var kindPrimary = map[string]column{
	"echo": {head: "msgs/s", key: "msgs_per_s"},
	"pipe": {head: "msgs/s", key: "msgs_per_s"},
	"push": {head: "msgs/s", key: "msgs_per_s"},
	"idle": {head: "RSS KiB/conn", key: "rss_kib_per_conn", prec: 1},
	"conc": {head: "msgs/s", key: "msgs_per_s"},
}

type agg struct {
	scen      Scenario
	runs, ok  int
	truncated int
	vals      map[string][]float64
	errs      []string
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func aggregate(results []Result) map[string]map[string]*agg {
	out := map[string]map[string]*agg{}
	for _, r := range results {
		if out[r.Scenario] == nil {
			out[r.Scenario] = map[string]*agg{}
		}
		a := out[r.Scenario][r.Adapter]
		if a == nil {
			a = &agg{scen: r.Params, vals: map[string][]float64{}}
			out[r.Scenario][r.Adapter] = a
		}
		a.runs++
		if !r.OK {
			a.errs = append(a.errs, r.Err)
			continue
		}
		a.ok++
		if r.Truncated {
			a.truncated++
		}
		for k, v := range r.Metrics {
			a.vals[k] = append(a.vals[k], v)
		}
	}
	return out
}

func fmtNum(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if prec == 0 {
		return groupThousands(fmt.Sprintf("%.0f", v))
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtRatio(v, base float64) string {
	if math.IsNaN(v) || math.IsNaN(base) || base == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v/base)
}

func scenTitle(s Scenario) string {
	t := kindTitle[s.Kind]
	switch s.Kind {
	case "pipe":
		t = fmt.Sprintf(t, s.Window)
	case "conc":
		t = fmt.Sprintf(t, s.Conns)
	}
	switch s.Kind {
	case "echo", "pipe":
		return fmt.Sprintf("%s, %s, %d msgs measured after %d warm-up", t, sizeStr(s.Size), s.Count, s.Warmup)
	case "push":
		return fmt.Sprintf("%s, %d × %s", t, s.Count, sizeStr(s.Size))
	case "idle":
		return fmt.Sprintf("%d %s", s.Count, t)
	case "conc":
		return fmt.Sprintf("%s, %d round trips each", t, s.Count)
	}
	return t
}

func sizeStr(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func printReport(w io.Writer, results []Result, scenOrder, adOrder []string, cfg config) {
	ag := aggregate(results)
	// Fill orders from the data when not given (e.g. -from).
	if len(scenOrder) == 0 {
		for _, n := range scenarioNames() {
			if ag[n] != nil {
				scenOrder = append(scenOrder, n)
			}
		}
	}
	if len(adOrder) == 0 {
		seen := map[string]bool{}
		for _, n := range adapterOrder {
			for _, m := range ag {
				if m[n] != nil && !seen[n] {
					seen[n] = true
					adOrder = append(adOrder, n)
				}
			}
		}
		for _, m := range ag {
			for n := range m {
				if !seen[n] {
					seen[n] = true
					adOrder = append(adOrder, n)
				}
			}
		}
	}
	reps := 0
	for _, r := range results {
		reps = max(reps, r.Rep)
	}
	fmt.Fprintf(w, "## wsactor comparison benchmarks\n\n")
	fmt.Fprintf(w, "Medians of %d repetition(s); each run is a fresh client process against a fresh echo server process. "+
		"`× raw` = adapter median / raw gobwas median (msgs/s: higher is better; CPU and memory: lower is better). "+
		"CPU = client process user+sys time per operation.\n\n", reps)
	if cfg.serverCPU != "" || cfg.clientCPU != "" {
		fmt.Fprintf(w, "Placement: echo server on CPUs %q, clients on CPUs %q (taskset; \"\" = any).\n\n", cfg.serverCPU, cfg.clientCPU)
	}

	// Summary: primary metric per scenario x adapter.
	fmt.Fprintf(w, "### Summary (primary metric, ratio to raw gobwas)\n\n| scenario | metric |")
	for _, a := range adOrder {
		fmt.Fprintf(w, " %s |", a)
	}
	fmt.Fprintf(w, "\n|---|---|")
	for range adOrder {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintln(w)
	for _, sn := range scenOrder {
		m := ag[sn]
		if m == nil {
			continue
		}
		var kind string
		for _, a := range m {
			kind = a.scen.Kind
			break
		}
		pc := kindPrimary[kind]
		base := math.NaN()
		if r := m["raw"]; r != nil {
			base = median(r.vals[pc.key])
		}
		fmt.Fprintf(w, "| %s | %s |", sn, pc.head)
		for _, an := range adOrder {
			a := m[an]
			if a == nil || a.ok == 0 {
				fmt.Fprintf(w, " %s |", failCell(a))
				continue
			}
			v := median(a.vals[pc.key])
			if an == "raw" || math.IsNaN(base) {
				fmt.Fprintf(w, " %s |", fmtNum(v, pc.prec))
			} else {
				fmt.Fprintf(w, " %s (%s) |", fmtRatio(v, base), fmtNum(v, pc.prec))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)

	for _, sn := range scenOrder {
		m := ag[sn]
		if m == nil {
			continue
		}
		var s Scenario
		for _, a := range m {
			s = a.scen
			break
		}
		cols := kindColumns[s.Kind]
		fmt.Fprintf(w, "### %s: %s\n\n| adapter |", sn, scenTitle(s))
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", c.head)
		}
		fmt.Fprintf(w, " runs ok |\n|---|")
		for range cols {
			fmt.Fprintf(w, "---:|")
		}
		fmt.Fprintf(w, "---:|\n")
		raw := m["raw"]
		for _, an := range adOrder {
			a := m[an]
			if a == nil {
				continue
			}
			fmt.Fprintf(w, "| %s |", an)
			for _, c := range cols {
				if a.ok == 0 {
					fmt.Fprintf(w, " – |")
					continue
				}
				if c.spread {
					lo, hi := slices.Min(a.vals[c.key]), slices.Max(a.vals[c.key])
					fmt.Fprintf(w, " %s–%s |", fmtNum(lo, c.prec), fmtNum(hi, c.prec))
					continue
				}
				v := median(a.vals[c.key])
				if c.ratio {
					base := math.NaN()
					if raw != nil && raw.ok > 0 {
						base = median(raw.vals[c.key])
					}
					fmt.Fprintf(w, " %s |", fmtRatio(v, base))
				} else {
					fmt.Fprintf(w, " %s |", fmtNum(v, c.prec))
				}
			}
			okCell := fmt.Sprintf("%d/%d", a.ok, a.runs)
			if a.truncated > 0 {
				okCell += fmt.Sprintf(" (%d time-bound)", a.truncated)
			}
			fmt.Fprintf(w, " %s |\n", okCell)
		}
		fmt.Fprintln(w)
		for _, an := range adOrder {
			if a := m[an]; a != nil && len(a.errs) > 0 {
				fmt.Fprintf(w, "- %s failed %d run(s), first error: `%s`\n", an, len(a.errs), oneLine(firstLines(a.errs[0], 6)))
			}
		}
	}
}

func failCell(a *agg) string {
	if a == nil {
		return "–"
	}
	return fmt.Sprintf("failed (%d/%d)", a.runs-a.ok, a.runs)
}

func reportFromFile(w io.Writer, path string, cfg config) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var results []Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		results = append(results, r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var scens, ads []string
	if cfg.scenarios != "" {
		scens = strings.Split(cfg.scenarios, ",")
	}
	if cfg.adapters != "" {
		ads = strings.Split(cfg.adapters, ",")
	}
	printReport(w, results, scens, ads, cfg)
	return nil
}

var benchName = map[string]string{
	"echo16": "Echo16", "echo1k": "Echo1K", "echo64k": "Echo64K",
	"pipe16": "Pipe16", "pipe1k": "Pipe1K", "push16": "Push16", "push64k": "Push64K",
	"idle": "IdleConns", "conc": "ConcurrentEcho",
}

// writeBenchLine writes one Go benchmark format line per successful run so
// that `benchstat -col /adapter results/run-*.bench.txt` can compare them.
func writeBenchLine(w io.Writer, r Result) {
	if !r.OK {
		return
	}
	name := benchName[r.Scenario]
	if name == "" {
		name = r.Scenario
	}
	m := r.Metrics
	if r.Params.Kind == "idle" {
		n := m["conns"]
		fmt.Fprintf(w, "Benchmark%s/adapter=%s\t%d\t%.0f ns/op\t%.0f rss-B/conn\t%.0f heap-B/conn\t%.0f stack-B/conn\t%.3f goroutines/conn\t%.0f dials/s\t%.0f cpu-ns/dial\n",
			name, r.Adapter, int(n), m["dial_s"]*1e9/n, m["rss_kib_per_conn"]*1024, m["heap_kib_per_conn"]*1024,
			m["stack_kib_per_conn"]*1024, m["goroutines_per_conn"], m["dials_per_s"], m["cpu_us_per_op"]*1e3)
		return
	}
	fmt.Fprintf(w, "Benchmark%s/adapter=%s\t%d\t%.1f ns/op\t%.2f MB/s\t%.0f msgs/s\t%.1f cpu-ns/op",
		name, r.Adapter, int(m["ops"]), m["ns_per_op"], m["mb_per_s"], m["msgs_per_s"], m["cpu_us_per_op"]*1e3)
	if _, ok := m["p50_us"]; ok {
		fmt.Fprintf(w, "\t%.0f p50-ns\t%.0f p99-ns", m["p50_us"]*1e3, m["p99_us"]*1e3)
	}
	fmt.Fprintln(w)
}

func shortResult(r Result) string {
	if !r.OK {
		return "FAILED: " + firstLines(r.Err, 6)
	}
	m := r.Metrics
	tr := ""
	if r.Truncated {
		tr = " (time-bound)"
	}
	switch r.Params.Kind {
	case "idle":
		return fmt.Sprintf("rss %.1f KiB/conn heap %.1f KiB/conn stack %.1f KiB/conn %.2f goroutines/conn %.0f dials/s",
			m["rss_kib_per_conn"], m["heap_kib_per_conn"], m["stack_kib_per_conn"], m["goroutines_per_conn"], m["dials_per_s"])
	default:
		s := fmt.Sprintf("%.0f msgs/s %.1f MB/s cpu %.2f µs/op", m["msgs_per_s"], m["mb_per_s"], m["cpu_us_per_op"])
		if _, ok := m["p99_us"]; ok {
			s += fmt.Sprintf(" p50 %.1fµs p99 %.1fµs", m["p50_us"], m["p99_us"])
		}
		return s + tr
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n\t", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "`", "'")
}
