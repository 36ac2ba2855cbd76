// Command paygate-load drives a running paygate over HTTP with one flow of
// requests, from a number of concurrent clients, for a duration or a number
// of requests, and reports throughput, latency percentiles, status codes
// and errors, as text or JSON.
//
//	paygate-load -url http://127.0.0.1:8080 -key sk_test_… -flow confirm -c 32 -d 20s -json
//
// -url takes several instances of paygate, separated by commas: client i
// sends to the (i mod n)th, so the load spreads evenly over them. -ids
// writes the id of every payment paygate acknowledged (answered 201), for a
// check that each is in the database exactly once.
//
// Flows:
//
//	confirm    POST /v1/payments with confirm: true, automatic capture, the
//	           success card 4242 4242 4242 4242 and a fresh Idempotency-Key
//	lifecycle  create and confirm with manual capture, capture, refund
//	           (three requests, each with its own Idempotency-Key)
//	reads      GET /v1/payments/{id} of payments created during the warm-up;
//	           every tenth request lists GET /v1/payments?limit=10
//
// Load tests target only loopback: a URL whose host is not a loopback
// address (or "localhost") is refused, and so is any connection to a
// non-loopback address, unless -allow-remote is given.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "paygate-load:", err)
		os.Exit(1)
	}
}

// Flows.
const (
	flowConfirm   = "confirm"
	flowLifecycle = "lifecycle"
	flowReads     = "reads"
)

// config is the parsed command line.
type config struct {
	bases       []string // the URLs, without a trailing slash
	ids         string   // a file for the acknowledged payments' ids; "" for none
	key         string
	flow        string
	concurrency int
	duration    time.Duration // 0: bounded by requests only
	requests    int64         // 0: bounded by duration only
	warmup      time.Duration
	timeout     time.Duration
	amount      int64
	currency    string
	json        bool
	allowRemote bool
	// rate, when above 0, paces the measured flows to this many a second
	// over all clients (an open load, instead of each client starting its
	// next flow as soon as the last ends).
	rate float64
	// expect is the status a confirm flow's payment must reach.
	expect string
}

// minReadIDs is how many payments the reads flow creates before it starts,
// at least, so that its reads spread over many rows. A variable for tests.
var minReadIDs = 100

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("paygate-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: paygate-load -url URL -key KEY [-flow confirm|lifecycle|reads] [-c N] [-d DURATION] [-n REQUESTS] [-warmup DURATION] [-json]")
		fs.PrintDefaults()
	}
	rawURL := fs.String("url", "http://127.0.0.1:8080", "paygate's base URL, or several separated by commas to spread the clients over (loopback only, unless -allow-remote)")
	fs.StringVar(&c.ids, "ids", "", "write the id of every payment answered 201 (warm-up included) to this file, one a line")
	fs.StringVar(&c.key, "key", "", "merchant secret key (default: $PAYGATE_KEY)")
	fs.StringVar(&c.flow, "flow", flowConfirm, "confirm | lifecycle | reads")
	fs.IntVar(&c.concurrency, "c", 32, "concurrent clients, each with one request in flight")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "how long to measure; 0 to stop after -n requests only")
	fs.Int64Var(&c.requests, "n", 0, "stop after this many measured requests (0: no limit; given alone, -d defaults to 0)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "run the flow this long first, unmeasured (the reads flow creates its payments then)")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "timeout of one request")
	fs.Int64Var(&c.amount, "amount", 2000, "payment amount, in minor units")
	fs.StringVar(&c.currency, "currency", "usd", "payment currency")
	fs.BoolVar(&c.json, "json", false, "print the report as JSON")
	fs.BoolVar(&c.allowRemote, "allow-remote", false, "allow a target that is not loopback")
	fs.Float64Var(&c.rate, "rate", 0, "start this many flows a second over all clients (0: as fast as the clients go); latency is then measured at a fixed load")
	fs.StringVar(&c.expect, "expect", "succeeded", "the status a confirmed payment must reach (confirm flow): failed for a processor test server whose canned answers leave it unpaid, such as stripe-mock")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	durationSet := false
	fs.Visit(func(f *flag.Flag) { durationSet = durationSet || f.Name == "d" })
	if c.requests > 0 && !durationSet {
		c.duration = 0
	}
	if c.key == "" {
		c.key = os.Getenv("PAYGATE_KEY")
	}
	for raw := range strings.SplitSeq(*rawURL, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			return c, fmt.Errorf("-url: %w", err)
		}
		if err := checkTarget(u, c.allowRemote); err != nil {
			return c, err
		}
		c.bases = append(c.bases, strings.TrimSuffix(u.String(), "/"))
	}
	switch {
	case c.key == "":
		return c, errors.New("no key: pass -key or set PAYGATE_KEY")
	case c.flow != flowConfirm && c.flow != flowLifecycle && c.flow != flowReads:
		return c, fmt.Errorf("-flow must be confirm, lifecycle or reads, not %q", c.flow)
	case c.concurrency < 1 || c.concurrency > 10000:
		return c, fmt.Errorf("-c must be from 1 to 10000, not %d", c.concurrency)
	case c.concurrency < len(c.bases):
		return c, fmt.Errorf("-c %d is fewer clients than the %d URLs", c.concurrency, len(c.bases))
	case c.duration < 0 || c.requests < 0 || c.warmup < 0:
		return c, errors.New("-d, -n and -warmup cannot be negative")
	case c.duration == 0 && c.requests == 0:
		return c, errors.New("give -d or -n (or both): the run must end by itself")
	case c.timeout <= 0:
		return c, errors.New("-timeout must be positive")
	case c.amount < 1:
		return c, errors.New("-amount must be positive")
	case c.expect != "succeeded" && c.expect != "failed" && c.expect != "requires_capture":
		return c, fmt.Errorf("-expect must be succeeded, failed or requires_capture, not %q", c.expect)
	case c.rate < 0 || c.rate > 1e6:
		return c, errors.New("-rate must be from 0 to 1000000 flows a second")
	}
	return c, nil
}

// errNotLoopback refuses a connection to a host that is not loopback.
var errNotLoopback = errors.New("load tests target only loopback; pass -allow-remote to load another host")

// checkTarget accepts http and https URLs of loopback hosts, or of any
// host with allowRemote.
func checkTarget(u *url.URL, allowRemote bool) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url must be an http or https URL, not %q", u.String())
	}
	if u.Host == "" {
		return fmt.Errorf("-url %q has no host", u.String())
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("-url must be the server's base URL, like http://127.0.0.1:8080, not %q", u.String())
	}
	if allowRemote {
		return nil
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing %s: %w", u.Host, errNotLoopback)
}

// run is the whole program, callable from tests: args without the
// program name.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	l := newLoader(cfg, stderr)
	rep, err := l.run(ctx)
	if err != nil {
		return err
	}
	if cfg.ids != "" {
		if err := l.writeIDs(cfg.ids); err != nil {
			return err
		}
	}
	if cfg.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		return err
	}
	if rep.Requests > 0 && rep.Succeeded == 0 {
		return errors.New("no request succeeded")
	}
	return nil
}
