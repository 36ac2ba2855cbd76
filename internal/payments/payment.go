// Package payments is the payment lifecycle: the Payment and payment-method
// resources, the state machine that moves a payment between statuses, and
// the Service that drives payments through a processor connector.
package payments

import (
	"time"

	"github.com/paygate/paygate/internal/vault"
)

// Status of a payment.
type Status string

// Statuses, in lifecycle order.
const (
	RequiresPaymentMethod Status = "requires_payment_method"
	RequiresConfirmation  Status = "requires_confirmation"
	RequiresAction        Status = "requires_action"
	Processing            Status = "processing"
	RequiresCapture       Status = "requires_capture"
	Succeeded             Status = "succeeded"
	Failed                Status = "failed"
	Canceled              Status = "canceled"
)

// AllStatuses lists every status.
var AllStatuses = []Status{RequiresPaymentMethod, RequiresConfirmation, RequiresAction, Processing, RequiresCapture, Succeeded, Failed, Canceled}

// Final reports whether no action can move a payment out of s.
func (s Status) Final() bool { return s == Succeeded || s == Failed || s == Canceled }

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range AllStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// Capture methods.
const (
	CaptureAutomatic = "automatic"
	CaptureManual    = "manual"
)

// Operations a payment can have in flight at the connector while it is
// processing; recorded so that an interrupted one can be finished.
const (
	OpAuthorize = "authorize"
	OpCapture   = "capture"
	OpVoid      = "void"
)

// Payment is the payment resource, exactly as the API renders it.
type Payment struct {
	ID               string            `json:"id"`
	Object           string            `json:"object"`
	Amount           int64             `json:"amount"`
	AmountCapturable int64             `json:"amount_capturable"`
	AmountReceived   int64             `json:"amount_received"`
	AmountRefunded   int64             `json:"amount_refunded"`
	Currency         string            `json:"currency"`
	Status           Status            `json:"status"`
	CaptureMethod    string            `json:"capture_method"`
	Description      string            `json:"description,omitempty"`
	Metadata         map[string]string `json:"metadata"`
	PaymentMethod    *Method           `json:"payment_method,omitempty"`
	// Customer is the customer paying (cus_…); SetupFutureUsage, when set,
	// saves the payment's card to it once authorized; OffSession marks a
	// merchant-initiated charge of a saved card, with no customer present.
	Customer           string      `json:"customer,omitempty"`
	SetupFutureUsage   string      `json:"setup_future_usage,omitempty"`
	OffSession         bool        `json:"off_session,omitempty"`
	NextAction         *NextAction `json:"next_action,omitempty"`
	ReturnURL          string      `json:"return_url,omitempty"`
	FailureCode        string      `json:"failure_code,omitempty"`
	DeclineCode        string      `json:"decline_code,omitempty"`
	FailureMessage     string      `json:"failure_message,omitempty"`
	CancellationReason string      `json:"cancellation_reason,omitempty"`
	Connector          string      `json:"connector"`
	// ConnectorAccount is the account of the attempt that decided the
	// payment (its captures, cancels and refunds go there); none for the
	// built-in sandbox.
	ConnectorAccount string     `json:"connector_account,omitempty"`
	Livemode         bool       `json:"livemode"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	CanceledAt       *time.Time `json:"canceled_at,omitempty"`

	MerchantID      string `json:"-"`
	PaymentMethodID string `json:"-"`
	// Reference sent to the connector with the operation in flight or last
	// done, and the processor's id of the authorization.
	ConnectorReference string `json:"-"`
	ProcessorID        string `json:"-"`
	// While Status is Processing: which operation is in flight, and for a
	// capture its amount; Resume is the status to return to if the
	// connector refuses a capture or void.
	PendingOperation string `json:"-"`
	// Refunds sent to the processor and not yet settled.
	AmountRefundPending int64  `json:"-"`
	PendingAmount       int64  `json:"-"`
	ResumeStatus        Status `json:"-"`
	// While Status is RequiresAction: the SHA-256 of the single-use token
	// in the customer's link, and when the link expires.
	ActionTokenHash []byte     `json:"-"`
	ActionExpiresAt *time.Time `json:"-"`
}

// NextAction tells the merchant what the customer must do next.
type NextAction struct {
	Type          string         `json:"type"`
	RedirectToURL *RedirectToURL `json:"redirect_to_url,omitempty"`
}

// RedirectToURL is where to send the customer, who comes back to ReturnURL.
type RedirectToURL struct {
	URL       string `json:"url,omitempty"`
	ReturnURL string `json:"return_url,omitempty"`
}

// Method is a payment method: a card or a wallet. Only non-sensitive card
// data is ever rendered; the number lives sealed in Secret.
type Method struct {
	ID     string         `json:"id"`
	Object string         `json:"object"`
	Type   string         `json:"type"`
	Card   *CardDetails   `json:"card,omitempty"`
	Wallet *WalletDetails `json:"wallet,omitempty"`
	// Customer is the customer the method is saved to (cus_…), if any.
	Customer  string    `json:"customer,omitempty"`
	Livemode  bool      `json:"livemode"`
	CreatedAt time.Time `json:"created_at"`

	MerchantID string       `json:"-"`
	First6     string       `json:"-"`
	Secret     vault.Sealed `json:"-"`
	// NetworkTransactionID is the card scheme's id of the
	// customer-initiated charge that saved the method, sent with every
	// merchant-initiated charge of it.
	NetworkTransactionID string `json:"-"`
	// DetachedAt is when the method was detached from its customer (or
	// the customer deleted): its sealed data is destroyed, it can never be
	// charged again.
	DetachedAt *time.Time `json:"-"`
}

// Shredded reports whether the method's sealed card data was destroyed
// (detached from its customer): it can no longer be charged.
func (m *Method) Shredded() bool { return m.DetachedAt != nil }

// Expired reports whether the method is a card past its expiry at now (a
// card is valid through the last day of its expiry month).
func (m *Method) Expired(now time.Time) bool {
	if m.Card == nil || m.Card.ExpYear == 0 {
		return false
	}
	y, mo := now.Year(), int(now.Month())
	return m.Card.ExpYear < y || (m.Card.ExpYear == y && m.Card.ExpMonth < mo)
}

// CardDetails is what may be shown of a card.
type CardDetails struct {
	Brand       string `json:"brand"`
	Last4       string `json:"last4"`
	ExpMonth    int    `json:"exp_month,omitempty"` // unknown for a wallet's card
	ExpYear     int    `json:"exp_year,omitempty"`
	Funding     string `json:"funding"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Kept for the connector, not shown: the API shows only what
	// identifies a card without being cardholder data.
	HolderName string `json:"-"`
}

// WalletDetails is a wallet and, where the wallet is backed by one, its card.
type WalletDetails struct {
	Type string       `json:"type"`
	Card *CardDetails `json:"card,omitempty"`
}

// Funding is the funding type of the card behind a method, for logs and
// metrics; "" for a wallet without a card.
func (m *Method) Funding() (brand, funding string) {
	switch {
	case m == nil:
		return "", ""
	case m.Card != nil:
		return m.Card.Brand, m.Card.Funding
	case m.Wallet != nil && m.Wallet.Card != nil:
		return m.Wallet.Card.Brand, m.Wallet.Card.Funding
	}
	return "", ""
}

// Attempt is one authorization attempt of a payment at a processor
// account: a failover shows as a second one.
type Attempt struct {
	ID               string        `json:"id"`
	Object           string        `json:"object"`
	Payment          string        `json:"payment"`
	ConnectorAccount string        `json:"connector_account,omitempty"`
	Connector        string        `json:"connector"`
	Status           AttemptStatus `json:"status"`
	FailureCode      string        `json:"failure_code,omitempty"`
	CreatedAt        time.Time     `json:"created_at"`
	UpdatedAt        time.Time     `json:"updated_at"`
}

// AttemptStatus is where an attempt stands.
type AttemptStatus string

// Attempt statuses.
const (
	// AttemptProcessing: sent, no answer recorded yet (in flight, or an
	// unknown outcome that recovery will settle).
	AttemptProcessing     AttemptStatus = "processing"
	AttemptSucceeded      AttemptStatus = "succeeded"
	AttemptRequiresAction AttemptStatus = "requires_action"
	// AttemptFailed: the processor declined or refused.
	AttemptFailed AttemptStatus = "failed"
	// AttemptNotProcessed: the processor provably did not take it (the
	// connection was refused…): the payment went on to the next account.
	AttemptNotProcessed AttemptStatus = "not_processed"
)
