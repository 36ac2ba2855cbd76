// Package customers is the customer resource (cus_…): a merchant's
// returning customer, to whom payment methods are saved for later charges
// (SPEC §8). Saving, detaching and charging methods are the payments
// package's; deleting a customer detaches its methods and destroys their
// card data, in the transaction that deletes it.
package customers

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/tenant"
)

// Customer is the customer resource, as the API renders it.
type Customer struct {
	ID        string            `json:"id"`
	Object    string            `json:"object"`
	Email     string            `json:"email,omitempty"`
	Name      string            `json:"name,omitempty"`
	Metadata  map[string]string `json:"metadata"`
	Livemode  bool              `json:"livemode"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`

	MerchantID string `json:"-"`
}

// Deleted is the answer of a deletion.
type Deleted struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Deleted bool   `json:"deleted"`
}

// CreateParams is the body of POST /v1/customers.
type CreateParams struct {
	Email    *string           `json:"email"`
	Name     *string           `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// UpdateParams is the body of PATCH /v1/customers/{id}: metadata is
// merged (a key set to "" is removed); email or name set to "" is cleared.
type UpdateParams struct {
	Email    *string           `json:"email"`
	Name     *string           `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// DeleteParams is the body of DELETE /v1/customers/{id}: none.
type DeleteParams struct{}

// ListQuery selects a page of customers, newest first.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
	Email         string
}

// ErrNotFound is returned by a Store for a missing customer, a deleted
// one, or one of another merchant or mode.
var ErrNotFound = errors.New("customers: not found")

// Store is the persistence the service needs; every change is written in
// one transaction with its events.
type Store interface {
	CreateCustomer(ctx context.Context, c *Customer, evs []events.Event) error
	Customer(ctx context.Context, scope tenant.Scope, id string) (*Customer, error)
	Customers(ctx context.Context, scope tenant.Scope, q ListQuery) ([]*Customer, bool, error)
	// UpdateCustomer locks the customer, lets fn change it and writes it
	// with fn's events.
	UpdateCustomer(ctx context.Context, scope tenant.Scope, id string, fn func(c *Customer) ([]events.Event, error)) (*Customer, error)
	// DeleteCustomer locks the customer, marks it deleted, detaches every
	// method saved to it and destroys their sealed card data, and writes
	// fn's events (given the customer and the methods as detached).
	DeleteCustomer(ctx context.Context, scope tenant.Scope, id string, now time.Time, fn func(c *Customer, detached []*payments.Method) ([]events.Event, error)) error
}

// Service manages customers.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService wires a Service.
func NewService(store Store) *Service { return &Service{store: store, now: clock.Now} }

// Limits of the fields, as Stripe's.
const (
	maxEmail = 512
	maxName  = 256
)

func validate(email, name *string, md map[string]string) error {
	if email != nil {
		if utf8.RuneCountInString(*email) > maxEmail {
			return apierror.Invalid("parameter_invalid", "email", "email must be at most %d characters.", maxEmail)
		}
		if *email != "" && (!strings.Contains(*email, "@") || strings.ContainsAny(*email, " \t\r\n")) {
			return apierror.Invalid("parameter_invalid", "email", "email must be an email address.")
		}
	}
	if name != nil && utf8.RuneCountInString(*name) > maxName {
		return apierror.Invalid("parameter_invalid", "name", "name must be at most %d characters.", maxName)
	}
	return payments.ValidateMetadata(md)
}

// Create makes a customer, with its customer.created event.
func (s *Service) Create(ctx context.Context, acct tenant.Account, in CreateParams) (*Customer, error) {
	if err := validate(in.Email, in.Name, in.Metadata); err != nil {
		return nil, err
	}
	now := s.now()
	c := &Customer{ID: ids.New(ids.Customer), Object: "customer", Metadata: map[string]string{}, Livemode: acct.Livemode,
		CreatedAt: now, UpdatedAt: now, MerchantID: acct.MerchantID}
	if in.Email != nil {
		c.Email = *in.Email
	}
	if in.Name != nil {
		c.Name = *in.Name
	}
	for k, v := range in.Metadata {
		if v != "" {
			c.Metadata[k] = v
		}
	}
	ev, err := events.New(c.MerchantID, events.CustomerCreated, c.ID, c.Livemode, c, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateCustomer(ctx, c, []events.Event{ev}); err != nil {
		return nil, err
	}
	return c, nil
}

// Get retrieves a customer; a deleted one is 404.
func (s *Service) Get(ctx context.Context, acct tenant.Account, id string) (*Customer, error) {
	c, err := s.store.Customer(ctx, acct.Scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("customer", id)
	}
	return c, err
}

// List returns a page of customers, newest first, optionally of one email.
func (s *Service) List(ctx context.Context, acct tenant.Account, q ListQuery) ([]*Customer, bool, error) {
	return s.store.Customers(ctx, acct.Scope, q)
}

// Update changes a customer's email, name or metadata, with its
// customer.updated event.
func (s *Service) Update(ctx context.Context, acct tenant.Account, id string, in UpdateParams) (*Customer, error) {
	if err := validate(in.Email, in.Name, in.Metadata); err != nil {
		return nil, err
	}
	now := s.now()
	c, err := s.store.UpdateCustomer(ctx, acct.Scope, id, func(c *Customer) ([]events.Event, error) {
		if in.Email != nil {
			c.Email = *in.Email
		}
		if in.Name != nil {
			c.Name = *in.Name
		}
		if in.Metadata != nil {
			md, err := payments.MergeMetadata(c.Metadata, in.Metadata)
			if err != nil {
				return nil, err
			}
			c.Metadata = md
		}
		c.UpdatedAt = now
		ev, err := events.New(c.MerchantID, events.CustomerUpdated, c.ID, c.Livemode, c, now)
		return []events.Event{ev}, err
	})
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("customer", id)
	}
	return c, err
}

// Delete deletes a customer: its saved methods are detached, their card
// data destroyed, and none can be charged again. Events customer.deleted
// and payment_method.detached for each method, in the same transaction.
func (s *Service) Delete(ctx context.Context, acct tenant.Account, id string, _ DeleteParams) (*Deleted, error) {
	now := s.now()
	err := s.store.DeleteCustomer(ctx, acct.Scope, id, now, func(c *Customer, detached []*payments.Method) ([]events.Event, error) {
		ev, err := events.New(c.MerchantID, events.CustomerDeleted, c.ID, c.Livemode, c, now)
		if err != nil {
			return nil, err
		}
		evs := []events.Event{ev}
		for _, m := range detached {
			ev, err := events.New(m.MerchantID, events.MethodDetached, m.ID, m.Livemode, m, now)
			if err != nil {
				return nil, err
			}
			evs = append(evs, ev)
		}
		return evs, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("customer", id)
	}
	if err != nil {
		return nil, err
	}
	return &Deleted{ID: id, Object: "customer", Deleted: true}, nil
}
