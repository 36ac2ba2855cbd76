// Package events defines the event log: one record per state change,
// written in the same transaction as the change it reports.
package events

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/paygate/paygate/internal/ids"
)

// Types of events.
const (
	PaymentCreated         = "payment.created"
	PaymentRequiresAction  = "payment.requires_action"
	PaymentRequiresCapture = "payment.requires_capture"
	PaymentSucceeded       = "payment.succeeded"
	PaymentFailed          = "payment.failed"
	PaymentCanceled        = "payment.canceled"
	RefundCreated          = "refund.created"
	RefundSucceeded        = "refund.succeeded"
	RefundFailed           = "refund.failed"
	CustomerCreated        = "customer.created"
	CustomerUpdated        = "customer.updated"
	CustomerDeleted        = "customer.deleted"
	MethodAttached         = "payment_method.attached"
	MethodDetached         = "payment_method.detached"
	CheckoutCompleted      = "checkout.session.completed"
	CheckoutExpired        = "checkout.session.expired"
)

// ErrNotFound is returned by a store for a missing event, or one of
// another merchant or of the other mode.
var ErrNotFound = errors.New("events: not found")

// ListQuery selects a page of events, newest first.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
	Type          string
	ObjectID      string
}

// Types lists every event type.
func Types() []string {
	return []string{PaymentCreated, PaymentRequiresAction, PaymentRequiresCapture, PaymentSucceeded, PaymentFailed,
		PaymentCanceled, RefundCreated, RefundSucceeded, RefundFailed,
		CustomerCreated, CustomerUpdated, CustomerDeleted, MethodAttached, MethodDetached,
		CheckoutCompleted, CheckoutExpired}
}

// Event is one entry of the log, as the API shows it.
type Event struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	Livemode   bool      `json:"livemode"`
	Data       Data      `json:"data"`
	MerchantID string    `json:"-"`
	ObjectID   string    `json:"-"`
}

// Data holds a snapshot of the object after the change.
type Data struct {
	Object json.RawMessage `json:"object"`
}

// New snapshots obj (rendered as the API renders it) into an event.
func New(merchantID, typ, objectID string, livemode bool, obj any, now time.Time) (Event, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return Event{}, err
	}
	return Event{
		ID: ids.New(ids.Event), Object: "event", Type: typ, CreatedAt: now, Livemode: livemode,
		Data: Data{Object: b}, MerchantID: merchantID, ObjectID: objectID,
	}, nil
}
