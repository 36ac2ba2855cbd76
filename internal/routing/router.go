package routing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/tenant"
)

// Builder makes the connector of an account of one kind of processor.
type Builder func(connectors.Config) (connectors.Connector, error)

// Router implements payments.Connectors: it turns a payment into the
// accounts to try, in order, and an account into its connector. It keeps
// built connectors (credentials opened once per version of an account) and
// the circuit breaker's counts in memory; both are per instance.
type Router struct {
	store    Store
	sealer   Sealer
	log      *slog.Logger
	builders map[string]Builder
	// Builtin is the built-in sandbox, which test mode uses when no
	// routing sends a payment elsewhere; live mode never does.
	builtin connectors.Connector
	// HTTP makes the client of an account's calls: the outgoing-request
	// guard, and the connector timeout.
	HTTP func() *http.Client
	// ReturnURL is where customers come back from a processor's page.
	ReturnURL string
	// Wrap, when set, decorates every connector built (metrics).
	Wrap func(connectors.Connector) connectors.Connector
	// OnBreaker, when set, hears of an account skipped or taken back.
	OnBreaker func(accountID string, open bool)

	mu      sync.Mutex
	built   map[string]built // by account id
	breaker breaker
}

type built struct {
	version   time.Time // the account's updated_at when built
	connector connectors.Connector
}

// NewRouter wires a Router. builders has one Builder per connector name;
// builtin is the sandbox test mode falls back to.
func NewRouter(store Store, sealer Sealer, log *slog.Logger, builtin connectors.Connector, builders map[string]Builder) *Router {
	return &Router{store: store, sealer: sealer, log: log, builtin: builtin, builders: builders,
		HTTP: func() *http.Client { return &http.Client{Timeout: 10 * time.Second} }, built: map[string]built{},
		breaker: breaker{failures: map[string]int{}, until: map[string]time.Time{}, threshold: 3, cooldown: 30 * time.Second, now: time.Now}}
}

// ErrNoConnector is the answer to a payment no account can take: a live
// payment without a live account.
func noConnector() error {
	return &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "no_connector",
		Message: "No connector account can take this payment: register a live connector account (POST /v1/connector_accounts) and route to it (PUT /v1/routing)."}
}

// Routes implements payments.Connectors.
func (r *Router) Routes(ctx context.Context, p *payments.Payment) ([]payments.Route, error) {
	scope := tenant.Of(p.MerchantID, p.Livemode)
	rules, err := r.store.Routing(ctx, scope)
	if err != nil {
		return nil, err
	}
	facts := Payment{ID: p.ID, Amount: p.Amount, Currency: p.Currency}
	if m := p.PaymentMethod; m != nil {
		facts.PaymentMethodType = m.Type
		facts.CardBrand, _ = m.Funding()
	}
	var accounts []*Account
	if len(rules.Rules) == 0 && len(rules.Fallback) == 0 && p.Livemode {
		// No routing: a live payment goes to the mode's accounts, oldest
		// first (test mode has the built-in sandbox).
		as, _, err := r.store.ConnectorAccounts(ctx, scope, ListQuery{Limit: 100})
		if err != nil {
			return nil, err
		}
		accounts = as
		slices.Reverse(accounts)
	} else {
		candidates := rules.Candidates(facts)
		found, err := r.store.ConnectorAccountsByID(ctx, scope, candidates)
		if err != nil {
			return nil, err
		}
		byID := make(map[string]*Account, len(found))
		for _, a := range found {
			byID[a.ID] = a
		}
		for _, id := range candidates {
			if a := byID[id]; a != nil { // else deleted since: routing is checked when it is set
				accounts = append(accounts, a)
			}
		}
	}
	var routes, skipped []payments.Route
	for _, a := range accounts {
		if !a.Enabled {
			continue
		}
		route, err := r.route(a)
		if err != nil {
			r.log.WarnContext(ctx, "connector account unusable", "connector_account", a.ID, "error", err.Error())
			continue
		}
		if r.breaker.open(a.ID) {
			skipped = append(skipped, route) // tried only after every closed one
			continue
		}
		routes = append(routes, route)
	}
	routes = append(routes, skipped...)
	if len(routes) == 0 {
		if p.Livemode || r.builtin == nil {
			return nil, noConnector()
		}
		routes = []payments.Route{{Name: r.builtin.Name(), Connector: r.builtin}}
	}
	return routes, nil
}

// Route implements payments.Connectors: the connector of the account
// (deleted, disabled or not: what an account authorized, it captures,
// cancels and refunds), "" for the built-in sandbox.
func (r *Router) Route(ctx context.Context, accountID string) (payments.Route, error) {
	if accountID == "" {
		if r.builtin == nil {
			return payments.Route{}, errors.New("routing: no built-in sandbox")
		}
		return payments.Route{Name: r.builtin.Name(), Connector: r.builtin}, nil
	}
	a, err := r.store.ConnectorAccountAnyScope(ctx, accountID)
	if err != nil {
		return payments.Route{}, fmt.Errorf("connector account %s: %w", accountID, err)
	}
	return r.route(a)
}

// Account finds an account by id alone (a processor's webhook URL names
// it), with its connector.
func (r *Router) Account(ctx context.Context, accountID string) (*Account, connectors.Connector, error) {
	a, err := r.store.ConnectorAccountAnyScope(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	route, err := r.route(a)
	return a, route.Connector, err
}

// Observe implements payments.Connectors: a call that the processor
// provably did not take counts towards trying the account last for a
// cool-down; any other end of a call (an answer, or a timeout, which is no
// proof) resets the count.
func (r *Router) Observe(accountID string, err error) {
	if accountID == "" {
		return
	}
	opened, closed := r.breaker.observe(accountID, errors.Is(err, connectors.ErrNotProcessed))
	if opened {
		r.log.Warn("connector account tried last for a cool-down after repeated calls it did not take", "connector_account", accountID, "cooldown", r.breaker.cooldown.String())
	}
	if closed {
		r.log.Info("connector account answers again", "connector_account", accountID)
	}
	if (opened || closed) && r.OnBreaker != nil {
		r.OnBreaker(accountID, opened)
	}
}

// route builds (or reuses) the account's connector.
func (r *Router) route(a *Account) (payments.Route, error) {
	r.mu.Lock()
	b, ok := r.built[a.ID]
	r.mu.Unlock()
	if !ok || !b.version.Equal(a.UpdatedAt) {
		c, err := r.build(a)
		if err != nil {
			return payments.Route{}, err
		}
		b = built{version: a.UpdatedAt, connector: c}
		r.mu.Lock()
		if len(r.built) > 10_000 { // bounded: forget them all, rebuild on use
			r.built = map[string]built{}
		}
		r.built[a.ID] = b
		r.mu.Unlock()
	}
	return payments.Route{AccountID: a.ID, Name: a.Connector, Connector: b.connector}, nil
}

func (r *Router) build(a *Account) (connectors.Connector, error) {
	if a.Connector == Sandbox && a.BaseURL == "" && r.builtin != nil {
		return r.builtin, nil
	}
	build, ok := r.builders[a.Connector]
	if !ok {
		return nil, fmt.Errorf("no connector %q in this build", a.Connector)
	}
	creds, err := openCredentials(r.sealer, a)
	if err != nil {
		return nil, err
	}
	c, err := build(connectors.Config{Credentials: creds, BaseURL: a.BaseURL, HTTP: r.HTTP(),
		ReturnURL: strings.TrimSuffix(r.ReturnURL, "/")})
	if err != nil {
		return nil, err
	}
	if r.Wrap != nil {
		c = r.Wrap(c)
	}
	return c, nil
}

func openCredentials(s Sealer, a *Account) (map[string]string, error) {
	b, err := s.Open(a.Sealed, a.ID)
	if err != nil {
		return nil, fmt.Errorf("open credentials of %s: %w", a.ID, err)
	}
	defer clear(b)
	creds := map[string]string{}
	return creds, json.Unmarshal(b, &creds)
}

// breaker skips an account after threshold calls in a row that it
// provably did not take, for cooldown; the first call after it is a probe.
type breaker struct {
	mu        sync.Mutex
	failures  map[string]int
	until     map[string]time.Time
	threshold int
	cooldown  time.Duration
	now       func() time.Time
}

func (b *breaker) open(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now().Before(b.until[id])
}

// observe records a call's end; it tells whether that opened the breaker,
// or closed it after it had been open.
func (b *breaker) observe(id string, notProcessed bool) (opened, closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !notProcessed {
		_, wasOpen := b.until[id]
		delete(b.failures, id)
		delete(b.until, id)
		return false, wasOpen
	}
	b.failures[id]++
	until, wasOpen := b.until[id]
	if b.failures[id] >= b.threshold && !b.now().Before(until) {
		// Opened, or open again after a probe that failed: only the
		// first counts as opening.
		b.until[id] = b.now().Add(b.cooldown)
		return !wasOpen, false
	}
	return false, false
}
