package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is the result of a run; its JSON form is the -json output.
type report struct {
	Flow        string  `json:"flow"`
	URL         string  `json:"url"`
	Concurrency int     `json:"concurrency"`
	Rate        float64 `json:"rate_per_s,omitempty"` // flows started a second, when paced
	DurationS   float64 `json:"duration_s"`           // as asked; 0 when bounded by requests
	WarmupS     float64 `json:"warmup_s"`
	ElapsedS    float64 `json:"elapsed_s"` // measured: until the last request ended
	Interrupted bool    `json:"interrupted,omitempty"`
	// Requests were sent and answered (or failed); Succeeded had the
	// expected status and result; every other request is one error.
	Requests   int64   `json:"requests"`
	Succeeded  int64   `json:"succeeded"`
	ErrorCount int64   `json:"error_count"`
	Throughput float64 `json:"throughput_rps"`
	// Flows is how many times the whole flow succeeded: payments for the
	// confirm flow, create-capture-refund rounds for lifecycle, reads for
	// reads.
	Flows         int64             `json:"flows"`
	FlowsPerS     float64           `json:"flows_per_s"`
	Latency       latency           `json:"latency_ms"`
	StatusCodes   map[string]int64  `json:"status_codes"`
	Errors        map[string]int64  `json:"errors"`
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	Operations    map[string]opStat `json:"operations"`
}

type latency struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99_9"`
	Max  float64 `json:"max"`
}

type opStat struct {
	Requests    int64            `json:"requests"`
	Succeeded   int64            `json:"succeeded"`
	Throughput  float64          `json:"throughput_rps"`
	Latency     latency          `json:"latency_ms"`
	StatusCodes map[string]int64 `json:"status_codes"`
	Errors      map[string]int64 `json:"errors"`
}

func ms(us uint64) float64 { return round3(float64(us) / 1000) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func latencyOf(h *histogram) latency {
	return latency{Min: ms(h.min), Mean: round3(h.mean() / 1000), P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)),
		P95: ms(h.quantile(0.95)), P99: ms(h.quantile(0.99)), P999: ms(h.quantile(0.999)), Max: ms(h.max)}
}

func newReport(cfg config, res *results, elapsed time.Duration, interrupted bool) *report {
	rep := &report{
		Flow: cfg.flow, URL: strings.Join(cfg.bases, ","), Concurrency: cfg.concurrency, Rate: cfg.rate, DurationS: cfg.duration.Seconds(),
		WarmupS: cfg.warmup.Seconds(), ElapsedS: round3(elapsed.Seconds()), Interrupted: interrupted,
		Flows: res.flows, StatusCodes: map[string]int64{}, Errors: map[string]int64{},
		ErrorExamples: res.examples, Operations: map[string]opStat{},
	}
	perS := func(n int64) float64 {
		if elapsed <= 0 {
			return 0
		}
		return round3(float64(n) / elapsed.Seconds())
	}
	var all histogram
	for i := range res.ops {
		o := &res.ops[i]
		if o.hist.n == 0 {
			continue
		}
		all.merge(&o.hist)
		st := opStat{Requests: int64(o.hist.n), Succeeded: o.ok, Throughput: perS(int64(o.hist.n)), Latency: latencyOf(&o.hist),
			StatusCodes: map[string]int64{}, Errors: map[string]int64{}}
		for code, n := range o.status {
			st.StatusCodes[strconv.Itoa(code)] += n
			rep.StatusCodes[strconv.Itoa(code)] += n
		}
		for kind, n := range o.errors {
			st.Errors[kind] += n
			rep.Errors[kind] += n
			rep.ErrorCount += n
		}
		rep.Succeeded += o.ok
		rep.Operations[opNames[i]] = st
	}
	rep.Requests = int64(all.n)
	rep.Throughput = perS(rep.Requests)
	rep.FlowsPerS = perS(rep.Flows)
	rep.Latency = latencyOf(&all)
	return rep
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r *report) writeText(w io.Writer) error {
	var b strings.Builder
	bound := fmt.Sprintf("%gs", r.DurationS)
	if r.DurationS == 0 {
		bound = "a request count"
	}
	fmt.Fprintf(&b, "flow %s: %d clients for %s against %s (warm-up %gs)", r.Flow, r.Concurrency, bound, r.URL, r.WarmupS)
	if r.Rate > 0 {
		fmt.Fprintf(&b, ", paced at %g flows/s", r.Rate)
	}
	if r.Interrupted {
		b.WriteString(", INTERRUPTED")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "requests    %d in %.2f s: %.1f req/s; %d flows, %.1f flows/s\n", r.Requests, r.ElapsedS, r.Throughput, r.Flows, r.FlowsPerS)
	l := r.Latency
	fmt.Fprintf(&b, "latency ms  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f  (min %.2f, mean %.2f, p90 %.2f, p99.9 %.2f)\n",
		l.P50, l.P95, l.P99, l.Max, l.Min, l.Mean, l.P90, l.P999)
	fmt.Fprintf(&b, "status      %s\n", counts(r.StatusCodes))
	fmt.Fprintf(&b, "errors      %d", r.ErrorCount)
	if r.ErrorCount > 0 {
		fmt.Fprintf(&b, ": %s", counts(r.Errors))
	}
	b.WriteString("\n")
	for _, kind := range slices.Sorted(maps.Keys(r.ErrorExamples)) {
		fmt.Fprintf(&b, "  %s, e.g.: %s\n", kind, r.ErrorExamples[kind])
	}
	if len(r.Operations) > 1 {
		for _, name := range opNames {
			o, ok := r.Operations[name]
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "  %-15s %7d req %8.1f/s  p50 %.2f  p95 %.2f  p99 %.2f  max %.2f ms  errors %d\n",
				name, o.Requests, o.Throughput, o.Latency.P50, o.Latency.P95, o.Latency.P99, o.Latency.Max, o.Requests-o.Succeeded)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// counts renders "key: n, key: n" in key order.
func counts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
