// Package audit is the append-only record of administrative actions and key
// operations: who did what, to which object, when, from where, under which
// request. Entries are written in the transaction of the action they
// record, and the database refuses to change or delete them.
package audit

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/logging"
)

// Actions.
const (
	MerchantCreated = "merchant.created"
	APIKeyCreated   = "api_key.created"
	APIKeyRevoked   = "api_key.revoked"
	KeysRotated     = "encryption_keys.rotated"
)

// Actors.
const (
	ActorAdmin = "admin_token" // the admin API's bearer token
	ActorCLI   = "cli"         // a paygate command run by an operator
)

// Event is one audit entry, as the admin API renders it.
type Event struct {
	ID         string            `json:"id"`
	Object     string            `json:"object"`
	Actor      string            `json:"actor"`
	Action     string            `json:"action"`
	ObjectID   string            `json:"object_id,omitempty"`
	MerchantID string            `json:"merchant_id,omitempty"`
	RequestID  string            `json:"request_id,omitempty"`
	SourceIP   string            `json:"source_ip,omitempty"`
	Details    map[string]string `json:"details"`
	CreatedAt  time.Time         `json:"created_at"`
}

// New makes an entry for an action of actor on objectID.
func New(actor, action, objectID, merchantID string, now time.Time) Event {
	return Event{ID: ids.New(ids.Audit), Object: "audit_event", Actor: actor, Action: action,
		ObjectID: objectID, MerchantID: merchantID, Details: map[string]string{}, CreatedAt: now}
}

// FromRequest makes an entry for an action taken through the admin API,
// with the request's id and source address: the client's address as the
// HTTP layer found it (the peer's, or behind a trusted proxy the one it
// forwarded), the same the rate limits use; else the TCP peer's.
func FromRequest(r *http.Request, action, objectID, merchantID string, now time.Time) Event {
	e := New(ActorAdmin, action, objectID, merchantID, now)
	info := logging.Request(r.Context())
	if info != nil {
		e.RequestID = info.ID
	}
	if info != nil && info.ClientIP != "" {
		e.SourceIP = info.ClientIP
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		e.SourceIP = host
	}
	return e
}

// ListQuery selects a page of entries, newest first.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
	Action        string
	ObjectID      string
}

// Lister reads the audit log.
type Lister interface {
	AuditEvents(ctx context.Context, q ListQuery) ([]*Event, bool, error)
}
