package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/config"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/adyen"
	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/connectors/stripe"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/dashboard"
	"github.com/paygate/paygate/internal/httpapi"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/metrics"
	"github.com/paygate/paygate/internal/netguard"
	"github.com/paygate/paygate/internal/openapi"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/ratelimit"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/retention"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/webhooks"
	"github.com/paygate/paygate/internal/worker"
)

// version is stamped at build time: -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: paygate <command>

commands:
  serve                      run the API server
  migrate                    apply database migrations
  merchants create --name N  create a merchant and print its secret key
  users create --merchant M --email E --role admin|viewer
                             create a dashboard user and print its temporary password
  keys rotate                re-encrypt stored card data under the active encryption key
  ledger verify              check the ledger's invariants; exit 1 on a violation
  healthcheck                exit 0 when the server at PAYGATE_ADDR is ready
  sandbox serve              run the sandbox processor on its own (PAYGATE_SANDBOX_ADDR)
  version                    print the version

Configuration is read from PAYGATE_* environment variables; see the README.`

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[1], args[2:]
	if cmd == "version" {
		fmt.Fprintln(stdout, "paygate", version)
		return nil
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, stdout, stderr)
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "merchants":
		if len(rest) == 0 || rest[0] != "create" {
			return errors.New("usage: paygate merchants create --name NAME [--live]")
		}
		return createMerchant(ctx, cfg, rest[1:], stdout, stderr)
	case "users":
		if len(rest) == 0 || rest[0] != "create" {
			return errors.New("usage: paygate users create --merchant MERCHANT_ID --email EMAIL --role admin|viewer")
		}
		return createUser(ctx, cfg, rest[1:], stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, cfg)
	case "sandbox":
		if len(rest) != 1 || rest[0] != "serve" {
			return errors.New("usage: paygate sandbox serve")
		}
		return serveSandbox(ctx, cfg, stderr)
	case "keys":
		if len(rest) != 1 || rest[0] != "rotate" {
			return errors.New("usage: paygate keys rotate")
		}
		return rotateKeys(ctx, cfg, stdout)
	case "ledger":
		if len(rest) != 1 || rest[0] != "verify" {
			return errors.New("usage: paygate ledger verify")
		}
		return verifyLedger(ctx, cfg, stdout)
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func openDB(ctx context.Context, cfg config.Config, doMigrate bool) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, store.Options{MaxConns: cfg.DatabaseMaxConns})
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	if doMigrate {
		if _, err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

func migrate(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	db, err := openDB(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
	return nil
}

func createMerchant(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merchants create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "merchant name")
	live := fs.Bool("live", false, "issue a live-mode key (sk_live_…)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if strings.TrimSpace(*name) == "" {
		return errors.New("merchants create: --name is required")
	}
	db, err := openDB(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer db.Close()
	now := clock.Now()
	m := merchants.NewMerchant(strings.TrimSpace(*name), *live, now)
	ev := audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, now)
	ev.Details["api_key_id"], ev.Details["api_key_prefix"] = m.APIKey.ID, m.APIKey.Prefix
	if err := db.CreateMerchant(ctx, m, ev); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merchant_id: %s\nsecret_key: %s\n", m.ID, m.APIKey.Secret)
	return nil
}

// createUser makes a dashboard user (issue 23) and prints its temporary
// password, which the first sign-in changes.
func createUser(ctx context.Context, cfg config.Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	merchant := fs.String("merchant", "", "the merchant's id (mer_…)")
	email := fs.String("email", "", "the user's email, which signs in")
	role := fs.String("role", "", "admin or viewer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *merchant == "" {
		return errors.New("users create: --merchant is required")
	}
	db, err := openDB(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer db.Close()
	u, err := staff.NewService(db).CreateUser(ctx, *merchant, staff.CreateParams{Email: email, Role: role},
		audit.New(audit.ActorCLI, staff.UserCreated, "", *merchant, clock.Now()))
	if err != nil {
		return fmt.Errorf("users create: %w", err)
	}
	fmt.Fprintf(stdout, "user_id: %s\nemail: %s\nrole: %s\ntemporary_password: %s\n", u.ID, u.Email, u.Role, u.Password)
	return nil
}

// rotateKeys re-encrypts every stored card and wallet token under the
// active key (the first of PAYGATE_ENCRYPTION_KEYS). It is safe while
// servers run, and resumes where it stopped when run again; afterwards the
// old keys can be removed from the ring.
func rotateKeys(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	keyring, _, _, err := cfg.Keyring()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := keyring.Rotate(ctx, db, func(done int) { fmt.Fprintf(stdout, "re-encrypted %d record(s)…\n", done) })
	if n > 0 {
		ev := audit.New(audit.ActorCLI, audit.KeysRotated, keyring.ActiveID(), "", clock.Now())
		ev.Details["records"] = strconv.Itoa(n)
		if aerr := db.AppendAudit(context.WithoutCancel(ctx), ev); aerr != nil {
			err = errors.Join(err, aerr)
		}
	}
	if err != nil {
		return fmt.Errorf("keys rotate: %w (run it again to resume)", err)
	}
	fmt.Fprintf(stdout, "done: %d record(s) re-encrypted; every stored record is now under key %q\n", n, keyring.ActiveID())
	return nil
}

func verifyLedger(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	db, err := openDB(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	report, err := db.LedgerReport(ctx)
	if err != nil {
		return fmt.Errorf("ledger verify: %w", err)
	}
	if bad := ledger.Check(report); len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(stdout, "VIOLATION:", b)
		}
		return fmt.Errorf("ledger verify: %d violation(s)", len(bad))
	}
	fmt.Fprintf(stdout, "ledger verified: %d transactions balance, and agree with payments and refunds\n", report.Transactions)
	return nil
}

func healthcheck(ctx context.Context, cfg config.Config) error {
	host, port, _ := net.SplitHostPort(cfg.Addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	client := &http.Client{Timeout: 3 * time.Second}
	if cfg.TLSCertFile != "" {
		scheme = "https"
		// The check talks to this very server, usually by an address its
		// certificate does not name.
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /readyz answered %d", resp.StatusCode)
	}
	return nil
}

func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	if err := cfg.ServeChecks(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
	keyring, keyFile, created, err := cfg.Keyring()
	if err != nil {
		return err
	}
	if created {
		log.Warn("generated a development key file for card data; keep it beside the database", "file", keyFile)
	}
	doc, err := openapi.JSON()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg, cfg.AutoMigrate)
	if err != nil {
		return err
	}
	defer db.Close()
	users := staff.NewService(db)
	if !cfg.Production() {
		if err := createDemoMerchant(ctx, db, users, cfg.PublicURL, stdout); err != nil {
			return err
		}
	}
	var connector connectors.Connector = sandbox.New(cfg.PublicURL).WithLatency(cfg.SandboxLatency)
	if cfg.SandboxURL != "" {
		connector = sandbox.NewClient(cfg.SandboxURL, cfg.ConnectorTimeout).WithToken(cfg.SandboxToken)
		if cfg.SandboxLatency > 0 {
			log.Warn("PAYGATE_SANDBOX_LATENCY applies where the sandbox runs: set it on `paygate sandbox serve`")
		}
	}
	m := metrics.New()
	// A processor's trouble is logged once per outage, not per payment.
	connector = m.Connector(connectors.LogOutages(connector, log, "sandbox"))
	m.WatchQueue(db.PendingDeliveries)
	for name, pool := range db.Pools() {
		m.WatchPool(name, pool)
	}
	// Payments go where the merchant's routing sends them; test mode
	// falls back to the built-in sandbox, live mode never does.
	router := routing.NewRouter(db, keyring, log, connector, connectorBuilders(cfg))
	router.HTTP = func() *http.Client { return netguard.Client(cfg.Production(), cfg.ConnectorTimeout) }
	router.ReturnURL = cfg.PublicURL + "/return/{payment}"
	router.Wrap = func(c connectors.Connector) connectors.Connector {
		return m.Connector(connectors.LogOutages(c, log, c.Name()))
	}
	router.OnBreaker = func(_ string, open bool) { m.Breaker(open) }
	pay := payments.NewService(db, connector, keyring, log)
	pay.Routes = router
	refs := refunds.NewService(db, connector, log)
	refs.Routes = router
	limits := ratelimit.New(cfg.RateLimits)
	pay.Declines = limits
	pay.ActionExpiry = cfg.ActionExpiry
	pay.OnStatus = func(s payments.Status, methodType string) { m.PaymentStatus(string(s), methodType) }
	if cfg.FaultPoint != "" {
		log.Warn("crash-test fault point armed", "point", cfg.FaultPoint)
		pay.Fault = faultPoint(log, cfg.FaultPoint)
		refs.Fault = pay.Fault
	}
	hooks := webhooks.NewService(db, keyring, cfg.Production())
	// /metrics is on the API's listener unless it has one of its own.
	var exporter http.Handler = m.Handler()
	if cfg.MetricsAddr != "" {
		exporter = nil
	}
	// Hosted checkout (issue 22): its pages at PAYGATE_PUBLIC_URL.
	co := checkout.NewService(db, pay, db, keyring.DeriveKey(checkout.KeyPurpose), cfg.PublicURL)
	cust, accts := customers.NewService(db), routing.NewService(db, keyring, cfg.Production())
	// The dashboard (issue 23) calls the same services as the API.
	board := dashboard.New(log, dashboard.Options{SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://")},
		dashboard.Deps{Payments: pay, Refunds: refs, Webhooks: hooks, Routing: accts, Customers: cust, Checkout: co, Staff: users,
			Ledger: db, Events: db, Keys: db, Audit: db})
	handler := httpapi.NewServer(log, httpapi.Config{AdminToken: cfg.AdminToken, OpenAPI: doc, Lease: cfg.RecoveryAfter, Limiter: limits, Sealer: keyring,
		Hasher:  idempotency.NewHasher(keyring.DeriveKey(idempotency.HasherPurpose)),
		Metrics: m, Exporter: exporter, MetricsToken: cfg.MetricsToken, TrustedProxies: cfg.TrustedProxies,
		HSTS: strings.HasPrefix(cfg.PublicURL, "https://")},
		httpapi.Deps{Payments: pay, Refunds: refs, Webhooks: hooks, Customers: cust, Routing: accts, Processors: router,
			Accounts: db, Keys: db, Ledger: db, Events: db, DB: db,
			Checkout: co, Staff: users, Dashboard: board})

	log.Info("paygate starting", "database", db.Backend(), "connector", connector.Name(), "remote_sandbox", cfg.SandboxURL != "")
	jobs, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		// A round may call processors (each call bounded by the connector
		// timeout); what it has not finished by the lease, the next takes.
		worker.Every(jobs, log, "recovery", min(cfg.RecoveryAfter/4, 10*time.Second), cfg.RecoveryAfter, func(ctx context.Context) error {
			cutoff := clock.Now().Add(-cfg.RecoveryAfter)
			np, err := pay.RecoverStale(ctx, cutoff)
			nr, rerr := refs.RecoverStale(ctx, cutoff)
			if np+nr > 0 {
				log.Info("recovered interrupted operations", "payments", np, "refunds", nr)
			}
			// Payments whose customer never came back are canceled.
			ne, eerr := pay.ExpireActions(ctx, clock.Now())
			if ne > 0 {
				log.Info("canceled payments whose customer link expired", "payments", ne)
			}
			// Checkout sessions past their expiry expire; those whose
			// payment succeeded without the page hearing of it complete.
			nc, cerr := co.ExpireDue(ctx)
			if nc > 0 {
				log.Info("settled checkout sessions", "sessions", nc)
			}
			return errors.Join(err, rerr, eerr, cerr)
		})
	})
	wg.Go(func() { retention.New(db, cfg.Retention, log).Run(jobs) })
	wg.Go(func() {
		w := webhooks.NewWorker(db, keyring, cfg.Webhooks, log)
		w.OnAttempt = m.WebhookAttempt
		w.Run(jobs)
	})
	// Listeners beside the API's, each with its own routes only.
	for _, side := range []struct {
		setting, addr, what string
		handler             func() http.Handler
	}{
		{"PAYGATE_METRICS_ADDR", cfg.MetricsAddr, "metrics", func() http.Handler { return httpapi.MetricsOnly(m.Handler(), cfg.MetricsToken) }},
		{"PAYGATE_PPROF_ADDR", cfg.PprofAddr, "Go profiles", profiles},
	} {
		if side.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", side.addr)
		if err != nil {
			stopJobs()
			wg.Wait()
			return fmt.Errorf("%s: %w", side.setting, err)
		}
		log.Info("serving "+side.what, "addr", ln.Addr().String())
		wg.Go(func() { serveUntil(jobs, ln, side.handler()) })
	}
	err = listenAndServe(ctx, cfg, cfg.Addr, handler, log)
	stopJobs()
	wg.Wait()
	return err
}

// faultPoint returns a fault hook that, at the named point, logs and then
// blocks for ever: the crash test kills the process there with SIGKILL.
func faultPoint(log *slog.Logger, point string) func(string) {
	return func(p string) {
		if p != point {
			return
		}
		log.Error("fault point reached; waiting to be killed", "point", p)
		select {}
	}
}

// profiles serves the Go profiler's endpoints. They are on a listener of
// their own so that the API's routes, timeouts and authentication stay as
// they are; a CPU profile runs for its seconds.
func profiles() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// serveUntil serves h on ln, a listener beside the API's (profiles,
// metrics), until ctx ends.
func serveUntil(ctx context.Context, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: maxHeaderBytes}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	_ = srv.Serve(ln)
}

// maxHeaderBytes bounds a request's line and headers (Go's default is
// 1 MiB): no client of the API needs more, and each connection's buffer is
// memory an unauthenticated client decides.
const maxHeaderBytes = 64 << 10

// listenAndServe serves handler on addr until ctx ends, then shuts down
// gracefully: no new connections, in-flight requests finish.
func listenAndServe(ctx context.Context, cfg config.Config, addr string, handler http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Addr:              addr,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "env", cfg.Env, "version", version)
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// serveSandbox runs the sandbox processor as its own process. Card numbers
// reach it, so with PAYGATE_SANDBOX_TOKEN it answers only a caller that
// sends the token; beyond loopback the token is required.
func serveSandbox(ctx context.Context, cfg config.Config, stderr io.Writer) error {
	if err := cfg.SandboxServeChecks(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := logging.New(stderr, cfg.LogLevel, cfg.LogFormat)
	return listenAndServe(ctx, cfg, cfg.SandboxAddr, sandbox.RequireToken(cfg.SandboxToken, sandbox.Handler(sandbox.New(cfg.PublicURL).WithLatency(cfg.SandboxLatency))), log)
}

// createDemoMerchant gives a newcomer a key on the first start of an empty
// development database. The key is printed once and stored only hashed.
func createDemoMerchant(ctx context.Context, db *store.DB, users *staff.Service, publicURL string, stdout io.Writer) error {
	n, err := db.CountMerchants(ctx)
	if err != nil || n > 0 {
		return err
	}
	now := clock.Now()
	m := merchants.NewMerchant("Demo merchant", false, now)
	ev := audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, now)
	ev.Details["api_key_id"], ev.Details["demo"] = m.APIKey.ID, "true"
	if err := db.CreateMerchant(ctx, m, ev); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nCreated a demo merchant (%s). Its test secret key, shown only this once:\n\n    %s\n\n", m.ID, m.APIKey.Secret)
	// The dashboard's demo admin (issue 23), printed once like the key.
	u, err := users.CreateDemoUser(ctx, m.ID, demoUserEmail, audit.New(audit.ActorCLI, staff.UserCreated, "", m.ID, now))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "The dashboard is at %s/dashboard. Sign in as %s with the password, shown only this once:\n\n    %s\n\n",
		publicURL, u.Email, u.Password)
	return nil
}

// demoUserEmail signs in the demo merchant's dashboard user.
const demoUserEmail = "demo@paygate.example"

// connectorBuilders make the connectors of merchants' processor accounts.
func connectorBuilders(cfg config.Config) map[string]routing.Builder {
	return map[string]routing.Builder{
		// A sandbox account with a base_url is a sandbox process of the
		// merchant's choosing (one without is the built-in sandbox).
		routing.Sandbox: func(c connectors.Config) (connectors.Connector, error) {
			return sandbox.NewClientHTTP(c.BaseURL, c.HTTP).WithToken(cfg.SandboxToken), nil
		},
		routing.Stripe: func(c connectors.Config) (connectors.Connector, error) { return stripe.New(c) },
		routing.Adyen:  func(c connectors.Config) (connectors.Connector, error) { return adyen.New(c) },
	}
}
