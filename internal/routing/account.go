// Package routing is how a payment reaches a processor: a merchant's
// accounts at processors (connector accounts, ca_…), the rules that choose
// one for each payment, and the Router that turns an account into a
// working connector, skipping an account that keeps failing.
package routing

import (
	"context"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/netguard"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
)

// Connector names.
const (
	Sandbox = "sandbox"
	Stripe  = "stripe"
	Adyen   = "adyen"
)

// Account is a merchant's account at a processor, as the API shows it:
// never its credentials, at most the last four characters of a key.
type Account struct {
	ID              string    `json:"id"`
	Object          string    `json:"object"`
	Connector       string    `json:"connector"`
	Label           string    `json:"label"`
	Enabled         bool      `json:"enabled"`
	BaseURL         string    `json:"base_url,omitempty"`
	CredentialsSet  bool      `json:"credentials_set"`
	CredentialsHint string    `json:"credentials_hint,omitempty"`
	Livemode        bool      `json:"livemode"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`

	MerchantID string `json:"-"`
	// Sealed is the credentials, as JSON, sealed under the account's id.
	Sealed vault.Sealed `json:"-"`
}

// Scope is the account's tenant.
func (a *Account) Scope() tenant.Scope { return tenant.Of(a.MerchantID, a.Livemode) }

// CreateParams is the body of POST /v1/connector_accounts.
type CreateParams struct {
	Connector   *string           `json:"connector"`
	Label       *string           `json:"label"`
	Credentials map[string]string `json:"credentials"`
	BaseURL     *string           `json:"base_url"`
	Enabled     *bool             `json:"enabled"`
}

// UpdateParams is the body of PATCH /v1/connector_accounts/{id}.
type UpdateParams struct {
	Label       *string           `json:"label"`
	Enabled     *bool             `json:"enabled"`
	Credentials map[string]string `json:"credentials"`
}

// ListQuery selects a page of accounts, newest first.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
}

// Deleted is the answer to a deletion.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// ErrNotFound is returned by a Store for a missing account, one of another
// scope, or a deleted one.
var ErrNotFound = errors.New("routing: no such connector account")

// ErrInUse is returned by a Store asked to delete an account its routing
// names.
var ErrInUse = errors.New("routing: the routing names the account")

// Store keeps accounts and routing; every method applies its scope.
type Store interface {
	CreateConnectorAccount(ctx context.Context, a *Account) error
	ConnectorAccount(ctx context.Context, scope tenant.Scope, id string) (*Account, error)
	ConnectorAccounts(ctx context.Context, scope tenant.Scope, q ListQuery) ([]*Account, bool, error)
	// ConnectorAccountsByID is the scope's live (not deleted) accounts
	// among ids, in any order.
	ConnectorAccountsByID(ctx context.Context, scope tenant.Scope, ids []string) ([]*Account, error)
	// UpdateConnectorAccount locks the account, lets fn change it, stores it.
	UpdateConnectorAccount(ctx context.Context, scope tenant.Scope, id string, fn func(a *Account) error) (*Account, error)
	// DeleteConnectorAccount marks the account deleted, unless the scope's
	// routing names it (ErrInUse).
	DeleteConnectorAccount(ctx context.Context, scope tenant.Scope, id string, now time.Time) error
	// Routing is the scope's rules; the zero Rules when none were set.
	Routing(ctx context.Context, scope tenant.Scope) (*Rules, error)
	// PutRouting stores rules, provided every account they name is an
	// account of the scope (else ErrNotFound with the first missing id).
	PutRouting(ctx context.Context, scope tenant.Scope, r *Rules) error
	// ConnectorAccountAnyScope finds an account by id, deleted or not, of
	// any merchant: for the operations that follow a payment's
	// authorization, and for processor webhooks, whose URL names it.
	ConnectorAccountAnyScope(ctx context.Context, id string) (*Account, error)
}

// MissingAccountError names an account rules refer to that the scope does
// not have.
type MissingAccountError struct{ ID string }

func (e *MissingAccountError) Error() string { return "routing: no connector account " + e.ID }

// Sealer seals and opens credentials (vault.Keyring).
type Sealer interface {
	Seal(plaintext []byte, aad string) (vault.Sealed, error)
	Open(s vault.Sealed, aad string) ([]byte, error)
}

// Service manages connector accounts and routing.
type Service struct {
	store  Store
	sealer Sealer
	// Production: base URLs must be https, and the sandbox is not an
	// account a live key may register.
	Production bool
}

// NewService wires a Service.
func NewService(store Store, sealer Sealer, production bool) *Service {
	return &Service{store: store, sealer: sealer, Production: production}
}

// credentialFields are each connector's credentials: required, then optional.
func credentialFields(connector string) (required, optional []string) {
	switch connector {
	case Stripe:
		return []string{"secret_key"}, []string{"webhook_secret"}
	case Adyen:
		return []string{"api_key", "merchant_account", "hmac_key"}, nil
	}
	return nil, nil
}

// checkCredentials validates credentials for connector in mode livemode.
func checkCredentials(connector string, livemode bool, creds map[string]string) error {
	required, optional := credentialFields(connector)
	for k, v := range creds {
		if !contains(required, k) && !contains(optional, k) {
			return apierror.Invalid("parameter_unknown", "credentials."+apierror.Truncate(k, 40),
				"%s takes no credential %q; it takes %s.", connector, apierror.Truncate(k, 40), strings.Join(append(required, optional...), ", "))
		}
		if v == "" || len(v) > 1024 || !utf8.ValidString(v) {
			return apierror.Invalid("parameter_invalid", "credentials."+k, "credentials.%s must be a non-empty string of at most 1024 characters.", k)
		}
	}
	for _, k := range required {
		if creds[k] == "" {
			return apierror.Missing("credentials." + k)
		}
	}
	switch connector {
	case Stripe:
		key := creds["secret_key"]
		want := "sk_test_"
		if livemode {
			want = "sk_live_"
		}
		if !strings.HasPrefix(key, want) && !strings.HasPrefix(key, "r"+want[1:]) {
			return apierror.Invalid("parameter_invalid", "credentials.secret_key",
				"A %s-mode account takes a Stripe key starting %s (or a restricted key r%s).", mode(livemode), want, want[1:])
		}
		if w, ok := creds["webhook_secret"]; ok && !strings.HasPrefix(w, "whsec_") {
			return apierror.Invalid("parameter_invalid", "credentials.webhook_secret", "A Stripe webhook signing secret starts whsec_.")
		}
	case Adyen:
		if b, err := hex.DecodeString(creds["hmac_key"]); err != nil || len(b) < 16 {
			return apierror.Invalid("parameter_invalid", "credentials.hmac_key", "credentials.hmac_key must be Adyen's HMAC key, in hexadecimal.")
		}
	}
	return nil
}

func mode(livemode bool) string {
	if livemode {
		return "live"
	}
	return "test"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// hint is what an account shows of its credentials: the last four
// characters of the main key.
func hint(connector string, creds map[string]string) string {
	key := creds["secret_key"]
	if connector == Adyen {
		key = creds["api_key"]
	}
	if len(key) < 12 {
		return ""
	}
	return "…" + key[len(key)-4:]
}

// checkBaseURL validates an account's base URL: absolute, and https in
// production; the outgoing-request guard checks the address it resolves
// to at every call.
func (s *Service) checkBaseURL(connector string, base *string) (string, error) {
	if base == nil || *base == "" {
		if connector == Adyen {
			// Adyen's live Checkout URL has a prefix of the merchant's own.
			return "", apierror.Missing("base_url")
		}
		return "", nil
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", apierror.Invalid("parameter_invalid", "base_url", "base_url must be an absolute http or https URL without credentials, query or fragment.")
	}
	if s.Production && u.Scheme != "https" {
		return "", apierror.Invalid("parameter_invalid", "base_url", "base_url must use https in production.")
	}
	// The same guard as webhook endpoints: in production, a public address
	// or an ordinary DNS name (the dialer checks what it resolves to).
	if err := netguard.CheckURL(*base, s.Production); err != nil {
		return "", apierror.Invalid("parameter_invalid", "base_url", "%s", strings.Replace(err.Error(), "url ", "base_url ", 1))
	}
	return strings.TrimSuffix(*base, "/"), nil
}

// Create registers an account.
func (s *Service) Create(ctx context.Context, acct tenant.Account, in CreateParams) (*Account, error) {
	if in.Connector == nil || *in.Connector == "" {
		return nil, apierror.Missing("connector")
	}
	c := *in.Connector
	switch c {
	case Stripe, Adyen:
	case Sandbox:
		if acct.Livemode && s.Production {
			return nil, apierror.Invalid("parameter_invalid", "connector", "Live keys never reach the sandbox: register a stripe or adyen account.")
		}
	default:
		return nil, apierror.Invalid("parameter_invalid", "connector", "connector must be stripe, adyen or sandbox.")
	}
	if err := checkCredentials(c, acct.Livemode, in.Credentials); err != nil {
		return nil, err
	}
	base, err := s.checkBaseURL(c, in.BaseURL)
	if err != nil {
		return nil, err
	}
	label, err := checkLabel(in.Label)
	if err != nil {
		return nil, err
	}
	now := clock.Now()
	a := &Account{ID: ids.New(ids.Connector), Object: "connector_account", Connector: c, Label: label, Enabled: true, BaseURL: base,
		Livemode: acct.Livemode, CreatedAt: now, UpdatedAt: now, MerchantID: acct.MerchantID}
	if in.Enabled != nil {
		a.Enabled = *in.Enabled
	}
	if err := s.seal(a, in.Credentials); err != nil {
		return nil, err
	}
	if err := s.store.CreateConnectorAccount(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

func checkLabel(l *string) (string, error) {
	if l == nil {
		return "", nil
	}
	if utf8.RuneCountInString(*l) > 200 {
		return "", apierror.Invalid("parameter_invalid", "label", "label must be at most 200 characters.")
	}
	return *l, nil
}

// seal stores creds in a, sealed, with the hint the API shows.
func (s *Service) seal(a *Account, creds map[string]string) error {
	if creds == nil {
		creds = map[string]string{}
	}
	b, err := jsonMarshal(creds)
	if err != nil {
		return err
	}
	a.Sealed, err = s.sealer.Seal(b, a.ID)
	clear(b)
	a.CredentialsSet, a.CredentialsHint = CredentialsSet(a.Connector), hint(a.Connector, creds)
	return err
}

// CredentialsSet tells whether an account of connector holds credentials:
// the sandbox takes none, the others cannot be registered without theirs.
func CredentialsSet(connector string) bool { return connector != Sandbox }

// Get retrieves an account.
func (s *Service) Get(ctx context.Context, acct tenant.Account, id string) (*Account, error) {
	a, err := s.store.ConnectorAccount(ctx, acct.Scope, id)
	return a, notFound(err, id)
}

// List returns a page of accounts, newest first.
func (s *Service) List(ctx context.Context, acct tenant.Account, q ListQuery) ([]*Account, bool, error) {
	return s.store.ConnectorAccounts(ctx, acct.Scope, q)
}

// Update changes an account's label, enabled flag or credentials.
func (s *Service) Update(ctx context.Context, acct tenant.Account, id string, in UpdateParams) (*Account, error) {
	label, err := checkLabel(in.Label)
	if err != nil {
		return nil, err
	}
	a, err := s.store.UpdateConnectorAccount(ctx, acct.Scope, id, func(a *Account) error {
		if in.Credentials != nil {
			if err := checkCredentials(a.Connector, a.Livemode, in.Credentials); err != nil {
				return err
			}
			if err := s.seal(a, in.Credentials); err != nil {
				return err
			}
		}
		if in.Label != nil {
			a.Label = label
		}
		if in.Enabled != nil {
			a.Enabled = *in.Enabled
		}
		a.UpdatedAt = clock.Now()
		return nil
	})
	return a, notFound(err, id)
}

// Delete removes an account, unless the routing names it (409).
func (s *Service) Delete(ctx context.Context, acct tenant.Account, id string, _ struct{}) (*Deleted, error) {
	err := s.store.DeleteConnectorAccount(ctx, acct.Scope, id, clock.Now())
	if errors.Is(err, ErrInUse) {
		return nil, &apierror.Error{Kind: apierror.KindConflict, Code: "connector_account_in_use",
			Message: "The routing names this connector account; take it out of the routing first."}
	}
	if err := notFound(err, id); err != nil {
		return nil, err
	}
	return &Deleted{ID: id, Object: "connector_account", Deleted: true}, nil
}

func notFound(err error, id string) error {
	if errors.Is(err, ErrNotFound) {
		return apierror.NotFound("connector_account", id)
	}
	return err
}
