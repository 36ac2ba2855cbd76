// Package config reads paygate's configuration from environment variables
// and validates it, so that a wrong value stops the server at start with
// one line naming the variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/ratelimit"
	"github.com/paygate/paygate/internal/retention"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// Config is the validated configuration.
type Config struct {
	Addr           string
	DatabaseURL    string
	Env            string
	AdminToken     string
	EncryptionKeys string
	FingerprintKey string
	LogLevel       slog.Level
	LogFormat      string
	TLSCertFile    string
	TLSKeyFile     string
	PublicURL      string
	AutoMigrate    bool
	AllowSQLite    bool
	// SandboxURL, when set, is a sandbox process (`paygate sandbox serve`)
	// to use instead of the in-process sandbox; SandboxAddr is where that
	// process listens.
	SandboxURL  string
	SandboxAddr string
	// ConnectorTimeout bounds every call to the processor; a call that
	// times out has an unknown outcome, settled later by recovery.
	ConnectorTimeout time.Duration
	// SandboxLatency (PAYGATE_SANDBOX_LATENCY) is how long every call to
	// the sandbox waits before it is answered, in process and in `paygate
	// sandbox serve`: a slow processor, for load tests. 0: none.
	SandboxLatency time.Duration
	// RecoveryAfter is how long a payment may stay processing, or an
	// idempotency key stay locked, before paygate treats its request as
	// dead and finishes the work itself.
	RecoveryAfter time.Duration
	// FaultPoint is a test-only setting (PAYGATE_TEST_FAULT_POINT, refused
	// in production): the process stops dead at that point, for crash tests.
	FaultPoint string
	// RateLimits: PAYGATE_RATE_LIMIT (per API key), PAYGATE_IP_RATE_LIMIT
	// (per client address), PAYGATE_DECLINE_LIMIT (declines a minute).
	RateLimits ratelimit.Config
	// Webhooks: PAYGATE_WEBHOOK_TIMEOUT, _RETRY_BASE, _RETRY_CAP, _MAX_AGE,
	// _POLL.
	Webhooks webhooks.Config
	// Retention: PAYGATE_IDEMPOTENCY_RETENTION,
	// PAYGATE_WEBHOOK_ATTEMPT_RETENTION, PAYGATE_RETENTION_INTERVAL.
	Retention retention.Config
	// ActionExpiry (PAYGATE_ACTION_EXPIRY) is how long a customer has to
	// authenticate before the payment is canceled as abandoned.
	ActionExpiry time.Duration
	// MetricsToken (PAYGATE_METRICS_TOKEN), when set, protects /metrics.
	MetricsToken string
	// MetricsAddr (PAYGATE_METRICS_ADDR), when set, is a listener of its
	// own for /metrics; the API's listener then does not serve it. In
	// production one of the two is required.
	MetricsAddr string
	// TrustedProxies (PAYGATE_TRUSTED_PROXIES): the peers whose
	// X-Forwarded-For is believed, to find the client's address.
	TrustedProxies []netip.Prefix
	// SandboxToken (PAYGATE_SANDBOX_TOKEN) is the secret the gateway and
	// `paygate sandbox serve` share: card numbers travel to the sandbox
	// process, which answers only a caller that knows it.
	SandboxToken string
	// DatabaseMaxConns (PAYGATE_DATABASE_MAX_CONNS) sizes the PostgreSQL
	// connection pool.
	DatabaseMaxConns int
	// PprofAddr (PAYGATE_PPROF_ADDR), when set, is a loopback address where
	// the Go profiler's endpoints are served, apart from the API.
	PprofAddr string
}

// Production reports whether the production checks apply.
func (c Config) Production() bool { return c.Env == "production" }

// SQLitePath is the database file when the database is SQLite, else "".
func (c Config) SQLitePath() string {
	if p, ok := strings.CutPrefix(c.DatabaseURL, "sqlite:"); ok {
		return strings.TrimPrefix(p, "//")
	}
	return ""
}

// VarError is a configuration error about one variable.
type VarError struct {
	Var string
	Msg string
}

func (e *VarError) Error() string { return e.Var + ": " + e.Msg }

func bad(name, format string, args ...any) error {
	return &VarError{Var: name, Msg: fmt.Sprintf(format, args...)}
}

// Load reads and validates the configuration.
func Load(getenv func(string) string) (Config, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	c := Config{
		Addr:           get("PAYGATE_ADDR", "127.0.0.1:8080"),
		DatabaseURL:    get("PAYGATE_DATABASE_URL", "sqlite:paygate.db"),
		Env:            get("PAYGATE_ENV", "development"),
		AdminToken:     getenv("PAYGATE_ADMIN_TOKEN"),
		EncryptionKeys: get("PAYGATE_ENCRYPTION_KEYS", ""),
		FingerprintKey: get("PAYGATE_FINGERPRINT_KEY", ""),
		LogFormat:      get("PAYGATE_LOG_FORMAT", "json"),
		TLSCertFile:    get("PAYGATE_TLS_CERT_FILE", ""),
		TLSKeyFile:     get("PAYGATE_TLS_KEY_FILE", ""),
		PublicURL:      strings.TrimSuffix(get("PAYGATE_PUBLIC_URL", ""), "/"),
		SandboxURL:     strings.TrimSuffix(get("PAYGATE_SANDBOX_URL", ""), "/"),
		SandboxAddr:    get("PAYGATE_SANDBOX_ADDR", "127.0.0.1:8090"),
	}
	var err error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, bad("PAYGATE_ADDR", "must be host:port, like 127.0.0.1:8080 (%v)", err)
	}
	if _, _, err := net.SplitHostPort(c.SandboxAddr); err != nil {
		return c, bad("PAYGATE_SANDBOX_ADDR", "must be host:port (%v)", err)
	}
	if c.SandboxURL != "" {
		if u, err := url.Parse(c.SandboxURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, bad("PAYGATE_SANDBOX_URL", "must be an absolute http or https URL")
		}
	}
	if c.Env != "development" && c.Env != "production" {
		return c, bad("PAYGATE_ENV", "must be development or production, not %q", c.Env)
	}
	if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") &&
		!strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		return c, bad("PAYGATE_DATABASE_URL", `must start with "postgres://" or "sqlite:"`)
	}
	if strings.HasPrefix(c.DatabaseURL, "sqlite:") && c.SQLitePath() == "" {
		return c, bad("PAYGATE_DATABASE_URL", "sqlite: needs a file path, like sqlite:paygate.db")
	}
	if c.LogLevel, err = logging.ParseLevel(get("PAYGATE_LOG_LEVEL", "info")); err != nil {
		return c, bad("PAYGATE_LOG_LEVEL", "%v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, bad("PAYGATE_LOG_FORMAT", "must be json or text, not %q", c.LogFormat)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return c, bad("PAYGATE_TLS_CERT_FILE", "PAYGATE_TLS_CERT_FILE and PAYGATE_TLS_KEY_FILE go together")
	}
	for name, f := range map[string]string{"PAYGATE_TLS_CERT_FILE": c.TLSCertFile, "PAYGATE_TLS_KEY_FILE": c.TLSKeyFile} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				return c, bad(name, "cannot read %s", f)
			}
		}
	}
	if c.AutoMigrate, err = parseBool(get("PAYGATE_AUTO_MIGRATE", "true")); err != nil {
		return c, bad("PAYGATE_AUTO_MIGRATE", "%v", err)
	}
	if c.AllowSQLite, err = parseBool(get("PAYGATE_ALLOW_SQLITE_IN_PRODUCTION", "false")); err != nil {
		return c, bad("PAYGATE_ALLOW_SQLITE_IN_PRODUCTION", "%v", err)
	}
	if c.PublicURL == "" {
		scheme := "http"
		if c.TLSCertFile != "" {
			scheme = "https"
		}
		c.PublicURL = scheme + "://" + c.Addr
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, bad("PAYGATE_PUBLIC_URL", "must be an absolute http or https URL")
	}
	if c.EncryptionKeys != "" {
		k, err := vault.ParseKeyring(c.EncryptionKeys, c.FingerprintKey)
		if err != nil {
			name := "PAYGATE_ENCRYPTION_KEYS"
			if strings.HasPrefix(err.Error(), "fingerprint") {
				name = "PAYGATE_FINGERPRINT_KEY"
			}
			return c, bad(name, "%v", err)
		}
		if c.Production() {
			if weak := k.Weak(); weak != "" {
				return c, bad("PAYGATE_ENCRYPTION_KEYS", "%s", weak)
			}
		}
	}
	if c.ConnectorTimeout, err = parseDuration(get("PAYGATE_CONNECTOR_TIMEOUT", "10s")); err != nil {
		return c, bad("PAYGATE_CONNECTOR_TIMEOUT", "%v", err)
	}
	if c.RecoveryAfter, err = parseDuration(get("PAYGATE_RECOVERY_AFTER", "30s")); err != nil {
		return c, bad("PAYGATE_RECOVERY_AFTER", "%v", err)
	}
	// A request gets half the lease; its connector call must fit in it, so
	// that recovery never starts on a request that is still alive.
	if c.RecoveryAfter < 2*c.ConnectorTimeout {
		return c, bad("PAYGATE_RECOVERY_AFTER", "must be at least twice PAYGATE_CONNECTOR_TIMEOUT (%s)", c.ConnectorTimeout)
	}
	if s := get("PAYGATE_SANDBOX_LATENCY", "0"); s != "0" {
		if c.SandboxLatency, err = time.ParseDuration(s); err != nil || c.SandboxLatency < 0 || c.SandboxLatency > maxSandboxLatency {
			return c, bad("PAYGATE_SANDBOX_LATENCY", "must be a duration from 0 to %s, like 300ms, not %q", maxSandboxLatency, s)
		}
	}
	c.RateLimits = ratelimit.Defaults()
	for _, v := range []struct {
		name string
		dst  *float64
	}{{"PAYGATE_RATE_LIMIT", &c.RateLimits.PerKey}, {"PAYGATE_IP_RATE_LIMIT", &c.RateLimits.PerAddress}} {
		if s := get(v.name, ""); s != "" {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > 1e6 {
				return c, bad(v.name, "must be requests per second from 0 (no limit) to 1000000, not %q", s)
			}
			*v.dst = f
		}
	}
	if s := get("PAYGATE_DECLINE_LIMIT", ""); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return c, bad("PAYGATE_DECLINE_LIMIT", "must be a number of declines per minute, 0 for no limit, not %q", s)
		}
		c.RateLimits.Declines = n
	}
	c.Webhooks = webhooks.DefaultConfig()
	c.Webhooks.Production = c.Production()
	for _, v := range []struct {
		name string
		dst  *time.Duration
	}{{"PAYGATE_WEBHOOK_TIMEOUT", &c.Webhooks.Timeout}, {"PAYGATE_WEBHOOK_RETRY_BASE", &c.Webhooks.RetryBase},
		{"PAYGATE_WEBHOOK_RETRY_CAP", &c.Webhooks.RetryCap}, {"PAYGATE_WEBHOOK_MAX_AGE", &c.Webhooks.MaxAge}, {"PAYGATE_WEBHOOK_POLL", &c.Webhooks.Poll}} {
		if s := get(v.name, ""); s != "" {
			if *v.dst, err = parseDuration(s); err != nil {
				return c, bad(v.name, "%v", err)
			}
		}
	}
	if c.ActionExpiry, err = parseDuration(get("PAYGATE_ACTION_EXPIRY", "30m")); err != nil {
		return c, bad("PAYGATE_ACTION_EXPIRY", "%v", err)
	}
	c.Retention = retention.DefaultConfig()
	for _, v := range []struct {
		name string
		dst  *time.Duration
		min  time.Duration
		why  string
	}{{"PAYGATE_IDEMPOTENCY_RETENTION", &c.Retention.IdempotencyKeys, idempotency.Retention, "the API promises keys are kept at least 24 hours"},
		{"PAYGATE_WEBHOOK_ATTEMPT_RETENTION", &c.Retention.WebhookAttempts, time.Hour, "a merchant needs time to see why a delivery failed"},
		{"PAYGATE_RETENTION_INTERVAL", &c.Retention.Interval, time.Second, "each round costs a few queries"}} {
		if s := get(v.name, ""); s != "" {
			if *v.dst, err = parseDuration(s); err != nil {
				return c, bad(v.name, "%v", err)
			}
			if *v.dst < v.min {
				return c, bad(v.name, "must be at least %s (%s), not %q", strings.TrimSuffix(strings.TrimSuffix(v.min.String(), "0s"), "0m"), v.why, s)
			}
		}
	}
	c.MetricsToken = getenv("PAYGATE_METRICS_TOKEN")
	if c.MetricsAddr = get("PAYGATE_METRICS_ADDR", ""); c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return c, bad("PAYGATE_METRICS_ADDR", "must be host:port, like 0.0.0.0:9090 (%v)", err)
		}
	}
	if c.TrustedProxies, err = ParsePrefixes(get("PAYGATE_TRUSTED_PROXIES", "")); err != nil {
		return c, bad("PAYGATE_TRUSTED_PROXIES", "%v", err)
	}
	c.SandboxToken = getenv("PAYGATE_SANDBOX_TOKEN")
	if c.DatabaseMaxConns, err = strconv.Atoi(get("PAYGATE_DATABASE_MAX_CONNS", "20")); err != nil || c.DatabaseMaxConns < 1 || c.DatabaseMaxConns > 1000 {
		return c, bad("PAYGATE_DATABASE_MAX_CONNS", "must be a number of connections from 1 to 1000, not %q", get("PAYGATE_DATABASE_MAX_CONNS", ""))
	}
	if c.PprofAddr = get("PAYGATE_PPROF_ADDR", ""); c.PprofAddr != "" {
		// Profiles show the program's insides (goroutine stacks, command
		// line): reachable only from the machine itself, or through a
		// port-forward.
		host, _, err := net.SplitHostPort(c.PprofAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return c, bad("PAYGATE_PPROF_ADDR", "must be a loopback host:port, like 127.0.0.1:6060")
		}
	}
	c.FaultPoint = get("PAYGATE_TEST_FAULT_POINT", "")
	if c.FaultPoint != "" && c.Production() {
		return c, bad("PAYGATE_TEST_FAULT_POINT", "is for crash tests only and refused in production")
	}
	if c.Production() {
		switch {
		case c.EncryptionKeys == "":
			return c, bad("PAYGATE_ENCRYPTION_KEYS", "required in production: ID:BASE64KEY with a 32-byte key (openssl rand -base64 32)")
		case c.FingerprintKey == "":
			// Derived from the active encryption key otherwise, fingerprints
			// would change at every key rotation.
			return c, bad("PAYGATE_FINGERPRINT_KEY", "required in production, so that card fingerprints survive key rotation (openssl rand -base64 32)")
		case c.AdminToken == "":
			return c, bad("PAYGATE_ADMIN_TOKEN", "required in production")
		case WeakSecret(c.AdminToken) != "":
			return c, bad("PAYGATE_ADMIN_TOKEN", "too weak: %s (openssl rand -hex 32)", WeakSecret(c.AdminToken))
		case c.SQLitePath() != "" && !c.AllowSQLite:
			return c, bad("PAYGATE_DATABASE_URL", "SQLite is not for production; use PostgreSQL, or set PAYGATE_ALLOW_SQLITE_IN_PRODUCTION=true")
		case c.MetricsToken != "" && WeakSecret(c.MetricsToken) != "":
			return c, bad("PAYGATE_METRICS_TOKEN", "too weak: %s (openssl rand -hex 32)", WeakSecret(c.MetricsToken))
		case c.SandboxURL != "" && WeakSecret(c.SandboxToken) != "":
			return c, bad("PAYGATE_SANDBOX_TOKEN", "a strong token shared with `paygate sandbox serve` is required in production with PAYGATE_SANDBOX_URL: %s",
				WeakSecret(c.SandboxToken))
		}
	}
	return c, nil
}

// ServeChecks are the production checks that concern only a serving
// process (`paygate serve`), not the commands that run beside it.
func (c Config) ServeChecks() error {
	if c.Production() && c.MetricsToken == "" && c.MetricsAddr == "" {
		return bad("PAYGATE_METRICS_TOKEN", "or PAYGATE_METRICS_ADDR is required in production: /metrics shows request rates, routes and volumes, "+
			"so it needs a bearer token, or a listener of its own that only the monitoring network reaches")
	}
	// The built-in sandbox must answer within the time any processor is
	// given. `paygate sandbox serve` may be slower: the gateway's client
	// then times out, which is how an unknown outcome is tested.
	if c.SandboxURL == "" && c.SandboxLatency > 0 && c.SandboxLatency >= c.ConnectorTimeout {
		return bad("PAYGATE_SANDBOX_LATENCY", "must be below PAYGATE_CONNECTOR_TIMEOUT (%s) for the built-in sandbox, not %s", c.ConnectorTimeout, c.SandboxLatency)
	}
	return nil
}

// SandboxServeChecks: `paygate sandbox serve` receives card numbers, so
// beyond loopback it answers only a caller with a strong shared token
// (PAYGATE_SANDBOX_TOKEN), whatever the mode.
func (c Config) SandboxServeChecks() error {
	host, _, _ := net.SplitHostPort(c.SandboxAddr)
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	if weak := WeakSecret(c.SandboxToken); weak != "" {
		return bad("PAYGATE_SANDBOX_TOKEN", "a strong token shared with the gateway is required when the sandbox listens beyond loopback (%s): %s", c.SandboxAddr, weak)
	}
	return nil
}

// WeakSecret tells why a bearer token is unfit for production, or "" when
// it is fit: shorter than 32 characters, fewer than 10 distinct characters
// (a random hex token of 32 has about 14), or a short pattern repeated.
// A check of length alone let "aaaa…a" through.
func WeakSecret(s string) string {
	if len(s) < 32 {
		return "use at least 32 random characters"
	}
	distinct := map[rune]bool{}
	for _, r := range s {
		distinct[r] = true
	}
	if len(distinct) < 10 {
		return fmt.Sprintf("only %d distinct characters; use random characters", len(distinct))
	}
	for p := 1; p <= len(s)/3; p++ {
		if strings.Repeat(s[:p], len(s)/p+1)[:len(s)] == s {
			return "a short pattern repeated; use random characters"
		}
	}
	return ""
}

// ParsePrefixes reads a comma-separated list of CIDRs (a bare address is
// a prefix of its full length).
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			a, err := netip.ParseAddr(part)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an address", part)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR like 10.0.0.0/8", part)
		}
		if a := p.Addr(); a.Is4In6() { // ::ffff:10.0.0.0/104 is 10.0.0.0/8
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q mixes IPv4-mapped and other IPv6 addresses", part)
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// maxSandboxLatency bounds PAYGATE_SANDBOX_LATENCY: beyond a minute a
// test waits on nothing it could learn from.
const maxSandboxLatency = time.Minute

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("must be a positive duration like 10s or 500ms, not %q", s)
	}
	return d, nil
}

func parseBool(s string) (bool, error) {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("must be true or false, not %q", s)
	}
	return b, nil
}

// Keyring returns the card-data key ring. In development without
// PAYGATE_ENCRYPTION_KEYS it reads, or on first use creates, a key file
// beside the SQLite database (or paygate.keys for PostgreSQL); created tells
// whether it was made now.
func (c Config) Keyring() (k *vault.Keyring, keyFile string, created bool, err error) {
	if c.EncryptionKeys != "" {
		k, err := vault.ParseKeyring(c.EncryptionKeys, c.FingerprintKey)
		return k, "", false, err
	}
	if c.Production() {
		return nil, "", false, bad("PAYGATE_ENCRYPTION_KEYS", "required in production")
	}
	keyFile = "paygate.keys"
	if p := c.SQLitePath(); p != "" {
		keyFile = p + ".keys"
	}
	b, err := os.ReadFile(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		b = []byte("keys=dev1:" + vault.NewKey() + "\nfingerprint=" + vault.NewKey() + "\n")
		if dir := filepath.Dir(keyFile); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, keyFile, false, err
			}
		}
		if err := os.WriteFile(keyFile, b, 0o600); err != nil {
			return nil, keyFile, false, fmt.Errorf("write key file: %w", err)
		}
		created = true
	} else if err != nil {
		return nil, keyFile, false, fmt.Errorf("read key file: %w", err)
	}
	var spec, fp string
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "keys="); ok {
			spec = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "fingerprint="); ok {
			fp = strings.TrimSpace(v)
		}
	}
	k, err = vault.ParseKeyring(spec, fp)
	if err != nil {
		return nil, keyFile, false, fmt.Errorf("key file %s: %w", keyFile, err)
	}
	return k, keyFile, created, nil
}
