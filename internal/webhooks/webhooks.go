// Package webhooks tells merchants what happened: their webhook endpoints,
// and the delivery of every event to them, signed as Standard Webhooks
// says, at least once, retried with exponential backoff for up to three
// days. Deliveries are rows written in the transaction of their event (see
// the store), so no committed event can be lost; a worker in every
// instance claims due rows under a lease and sends them.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/netguard"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/pkg/webhook"
)

// Endpoint statuses.
const (
	Enabled  = "enabled"
	Disabled = "disabled"
)

// Endpoint is a webhook endpoint as the API renders it. Secret is set only
// in the answers that create it or rotate it.
type Endpoint struct {
	ID            string    `json:"id"`
	Object        string    `json:"object"`
	URL           string    `json:"url"`
	Description   string    `json:"description,omitempty"`
	EnabledEvents []string  `json:"enabled_events"`
	Status        string    `json:"status"`
	Livemode      bool      `json:"livemode"`
	Secret        string    `json:"secret,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	MerchantID string `json:"-"`
	// The signing secrets, sealed; Previous signs too until it expires.
	Sealed            vault.Sealed `json:"-"`
	Previous          vault.Sealed `json:"-"`
	PreviousExpiresAt *time.Time   `json:"-"`
}

// Deleted is the answer to a deletion.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// Delivery is the delivery of one event to one endpoint.
type Delivery struct {
	Object         string     `json:"object"`
	EndpointID     string     `json:"endpoint_id"`
	EventID        string     `json:"event_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// Delivery statuses.
const (
	Pending   = "pending"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Attempt is one try at a delivery.
type Attempt struct {
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	EndpointID  string    `json:"endpoint_id"`
	EventID     string    `json:"event_id"`
	AttemptedAt time.Time `json:"attempted_at"`
	StatusCode  int       `json:"status_code"` // 0: no answer
	DurationMS  int64     `json:"duration_ms"`
	Error       string    `json:"error,omitempty"`
}

// CreateParams is the body of POST /v1/webhook_endpoints.
type CreateParams struct {
	URL           *string  `json:"url"`
	EnabledEvents []string `json:"enabled_events"`
	Description   *string  `json:"description"`
}

// UpdateParams is the body of PATCH /v1/webhook_endpoints/{id}.
type UpdateParams struct {
	URL           *string  `json:"url"`
	EnabledEvents []string `json:"enabled_events"`
	Description   *string  `json:"description"`
	Disabled      *bool    `json:"disabled"`
}

// RotateParams is the body of POST /v1/webhook_endpoints/{id}/rotate_secret.
type RotateParams struct {
	// How long the old secret keeps signing, in seconds: 0 to 7 days,
	// default 24 hours, so receivers can switch without missing an event.
	ExpirePreviousIn *int64 `json:"expire_previous_in"`
}

// RedeliverParams is the body of POST /v1/webhook_endpoints/{id}/redeliver.
type RedeliverParams struct {
	EventID *string `json:"event_id"`
}

// ListQuery selects a page of endpoints, deliveries or attempts.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
	EventID       string // deliveries and attempts of one event
	Status        string // deliveries with this status
}

// ErrNotFound is returned by a Store for a missing object, or one of
// another merchant or of the other mode.
var ErrNotFound = errors.New("webhooks: not found")

// Store is the persistence of endpoints and deliveries.
type Store interface {
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	Endpoint(ctx context.Context, scope tenant.Scope, id string) (*Endpoint, error)
	Endpoints(ctx context.Context, scope tenant.Scope, q ListQuery) ([]*Endpoint, bool, error)
	// UpdateEndpoint locks the endpoint, lets fn change it, and stores it.
	UpdateEndpoint(ctx context.Context, scope tenant.Scope, id string, fn func(e *Endpoint) error) (*Endpoint, error)
	DeleteEndpoint(ctx context.Context, scope tenant.Scope, id string) error
	Deliveries(ctx context.Context, scope tenant.Scope, endpointID string, q ListQuery) ([]*Delivery, bool, error)
	Attempts(ctx context.Context, scope tenant.Scope, endpointID string, q ListQuery) ([]*Attempt, bool, error)
	// Redeliver makes the delivery of the event to the endpoint due now,
	// creating it when the endpoint was not subscribed at the time.
	Redeliver(ctx context.Context, scope tenant.Scope, endpointID, eventID string, now time.Time) (*Delivery, error)
}

// Sealer encrypts signing secrets.
type Sealer interface {
	Seal(plaintext []byte, aad string) (vault.Sealed, error)
	Open(s vault.Sealed, aad string) ([]byte, error)
}

// Service manages endpoints.
type Service struct {
	store      Store
	sealer     Sealer
	production bool // only https, public addresses
}

// NewService wires a Service.
func NewService(store Store, sealer Sealer, production bool) *Service {
	return &Service{store: store, sealer: sealer, production: production}
}

// previousAAD binds the sealed previous secret to its endpoint and slot.
func previousAAD(id string) string { return id + "#previous" }

func (s *Service) checkURL(u *string, required bool) (string, error) {
	if u == nil || strings.TrimSpace(*u) == "" {
		if required {
			return "", apierror.Missing("url")
		}
		return "", nil
	}
	if err := netguard.CheckURL(*u, s.production); err != nil {
		return "", apierror.Invalid("url_invalid", "url", "%v", err)
	}
	return *u, nil
}

// validTypes checks enabled_events: known types, or ["*"] alone.
func validTypes(types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, apierror.Missing("enabled_events")
	}
	if len(types) > 1 && slices.Contains(types, "*") {
		return nil, apierror.Invalid("parameter_invalid", "enabled_events", `"*" means every event type and stands alone.`)
	}
	out := []string{}
	for i, t := range types {
		if t != "*" && !slices.Contains(events.Types(), t) {
			return nil, apierror.Invalid("parameter_invalid", fmt.Sprintf("enabled_events[%d]", i), "%q is not an event type; see the API reference for the list, or use \"*\".", apierror.Truncate(t, 60))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

func validDescription(d *string) error {
	if d != nil && len(*d) > 500 {
		return apierror.Invalid("parameter_invalid", "description", "description must be at most 500 characters.")
	}
	return nil
}

// Create adds an endpoint; its secret is in this answer only.
func (s *Service) Create(ctx context.Context, acct tenant.Account, in CreateParams) (*Endpoint, error) {
	u, err := s.checkURL(in.URL, true)
	if err != nil {
		return nil, err
	}
	types, err := validTypes(in.EnabledEvents)
	if err != nil {
		return nil, err
	}
	if err := validDescription(in.Description); err != nil {
		return nil, err
	}
	now := clock.Now()
	e := &Endpoint{ID: ids.New(ids.WebhookEnd), Object: "webhook_endpoint", URL: u, EnabledEvents: types, Status: Enabled,
		Livemode: acct.Livemode, CreatedAt: now, UpdatedAt: now, MerchantID: acct.MerchantID}
	if in.Description != nil {
		e.Description = *in.Description
	}
	if e.Secret, e.Sealed, err = s.newSecret(e.ID); err != nil {
		return nil, err
	}
	if err := s.store.CreateEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Service) newSecret(id string) (string, vault.Sealed, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return "", vault.Sealed{}, err
	}
	sealed, err := s.sealer.Seal([]byte(secret), id)
	return secret, sealed, err
}

func (s *Service) notFound(err error, id string) error {
	if errors.Is(err, ErrNotFound) {
		return apierror.NotFound("webhook_endpoint", id)
	}
	return err
}

// Get retrieves an endpoint (without its secret).
func (s *Service) Get(ctx context.Context, acct tenant.Account, id string) (*Endpoint, error) {
	e, err := s.store.Endpoint(ctx, acct.Scope, id)
	if err != nil {
		return nil, s.notFound(err, id)
	}
	return e, nil
}

// List returns a page of the endpoints of the key's mode, newest first.
func (s *Service) List(ctx context.Context, acct tenant.Account, q ListQuery) ([]*Endpoint, bool, error) {
	return s.store.Endpoints(ctx, acct.Scope, q)
}

// Update changes an endpoint's URL, event types, description, or status.
func (s *Service) Update(ctx context.Context, acct tenant.Account, id string, in UpdateParams) (*Endpoint, error) {
	u, err := s.checkURL(in.URL, false)
	if err != nil {
		return nil, err
	}
	var types []string
	if in.EnabledEvents != nil {
		if types, err = validTypes(in.EnabledEvents); err != nil {
			return nil, err
		}
	}
	if err := validDescription(in.Description); err != nil {
		return nil, err
	}
	e, err := s.store.UpdateEndpoint(ctx, acct.Scope, id, func(e *Endpoint) error {
		if u != "" {
			e.URL = u
		}
		if types != nil {
			e.EnabledEvents = types
		}
		if in.Description != nil {
			e.Description = *in.Description
		}
		if in.Disabled != nil {
			e.Status = Enabled
			if *in.Disabled {
				e.Status = Disabled
			}
		}
		e.UpdatedAt = clock.Now()
		return nil
	})
	return e, s.notFound(err, id)
}

// Delete removes an endpoint and its pending deliveries.
func (s *Service) Delete(ctx context.Context, acct tenant.Account, id string, _ struct{}) (*Deleted, error) {
	// The mode check may precede the deletion outside its transaction: an
	// endpoint's mode never changes.
	if _, err := s.Get(ctx, acct, id); err != nil {
		return nil, err
	}
	if err := s.store.DeleteEndpoint(ctx, acct.Scope, id); err != nil {
		return nil, s.notFound(err, id)
	}
	return &Deleted{ID: id, Object: "webhook_endpoint", Deleted: true}, nil
}

// RotateSecret gives an endpoint a new secret; the old one keeps signing
// (both signatures are sent) until it expires.
func (s *Service) RotateSecret(ctx context.Context, acct tenant.Account, id string, in RotateParams) (*Endpoint, error) {
	overlap := 24 * time.Hour
	if in.ExpirePreviousIn != nil {
		if *in.ExpirePreviousIn < 0 || *in.ExpirePreviousIn > 7*24*3600 {
			return nil, apierror.Invalid("parameter_invalid", "expire_previous_in", "expire_previous_in must be from 0 to 604800 seconds (7 days).")
		}
		overlap = time.Duration(*in.ExpirePreviousIn) * time.Second
	}
	var secret string
	e, err := s.store.UpdateEndpoint(ctx, acct.Scope, id, func(e *Endpoint) error {
		now := clock.Now()
		old, err := s.sealer.Open(e.Sealed, e.ID)
		if err != nil {
			return fmt.Errorf("open webhook secret: %w", err)
		}
		e.Previous, e.PreviousExpiresAt = vault.Sealed{}, nil
		if overlap > 0 {
			until := now.Add(overlap)
			if e.Previous, err = s.sealer.Seal(old, previousAAD(e.ID)); err != nil {
				return err
			}
			e.PreviousExpiresAt = &until
		}
		if secret, e.Sealed, err = s.newSecret(e.ID); err != nil {
			return err
		}
		e.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, s.notFound(err, id)
	}
	e.Secret = secret
	return e, nil
}

// Deliveries lists an endpoint's deliveries, newest event first.
func (s *Service) Deliveries(ctx context.Context, acct tenant.Account, endpointID string, q ListQuery) ([]*Delivery, bool, error) {
	if _, err := s.Get(ctx, acct, endpointID); err != nil {
		return nil, false, err
	}
	return s.store.Deliveries(ctx, acct.Scope, endpointID, q)
}

// Attempts lists an endpoint's delivery attempts, newest first.
func (s *Service) Attempts(ctx context.Context, acct tenant.Account, endpointID string, q ListQuery) ([]*Attempt, bool, error) {
	if _, err := s.Get(ctx, acct, endpointID); err != nil {
		return nil, false, err
	}
	return s.store.Attempts(ctx, acct.Scope, endpointID, q)
}

// Redeliver sends an event to an endpoint again, now. The endpoint is of
// the key's mode (Get), and the store refuses an event of another mode as
// missing.
func (s *Service) Redeliver(ctx context.Context, acct tenant.Account, endpointID string, in RedeliverParams) (*Delivery, error) {
	if _, err := s.Get(ctx, acct, endpointID); err != nil {
		return nil, err
	}
	if in.EventID == nil || *in.EventID == "" {
		return nil, apierror.Missing("event_id")
	}
	d, err := s.store.Redeliver(ctx, acct.Scope, endpointID, *in.EventID, clock.Now())
	if errors.Is(err, ErrNotFound) {
		e := apierror.NotFound("event", *in.EventID)
		e.Param = "event_id"
		return nil, e
	}
	return d, err
}
