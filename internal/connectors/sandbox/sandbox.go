// Package sandbox is a simulated card processor with deterministic test
// cards and wallet tokens, so that paygate works and is testable offline.
//
// It remembers every operation by its reference, as a real processor does,
// so a repeated reference returns the first answer and Lookup finds it.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// Outcomes of the test cards, by full number.
var cardOutcomes = map[string]connectors.Result{
	"4000000000000002": declined("card_declined", "generic_decline", "Your card was declined."),
	"4000000000009995": declined("card_declined", "insufficient_funds", "Your card has insufficient funds."),
	"4000000000000069": declined("expired_card", "expired_card", "Your card has expired."),
	"4000000000000127": declined("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
	"4000000000000119": {Outcome: connectors.Failed, FailureCode: "processing_error", DeclineCode: "processing_error", Message: "An error occurred while processing your card. Try again in a little bit."},
}

const (
	threeDSCard      = "4000000000003220"
	refundFailCard   = "4000000000005126"
	walletDeclineTok = "tok_wallet_declined"
	// offSessionAuthCard succeeds when its customer is present (no 3-D
	// Secure asked), and its issuer insists on authentication for every
	// merchant-initiated charge: off session it is declined with
	// authentication_required.
	offSessionAuthCard = "4000000000003238"
)

// authenticationRequired is the decline of an off-session charge whose
// issuer wants the customer to authenticate, who is not there.
var authenticationRequired = declined("authentication_required", "authentication_required",
	"The card's issuer requires the customer to authenticate this payment; bring them back on session.")

func declined(code, decline, msg string) connectors.Result {
	return connectors.Result{Outcome: connectors.Declined, FailureCode: code, DeclineCode: decline, Message: msg}
}

// Connector is the sandbox processor. The zero value is not usable; call New.
type Connector struct {
	baseURL string
	latency time.Duration // every call waits this long first (PAYGATE_SANDBOX_LATENCY)

	mu      sync.Mutex
	ops     *recent[connectors.Result] // by reference
	auths   *recent[*authorization]    // by processor id
	calls   map[string]int             // operations performed, by kind
	pending *recent[pendingAction]     // authorizations waiting for the customer, by reference
	// networkTx holds the network transaction ids the sandbox issued to
	// customer-initiated charges that saved a card, with the card's key
	// (ntKey): a merchant-initiated charge must name one of its card.
	networkTx *recent[string]
}

// Remembered is how many operations, authorizations and waiting customer
// actions the sandbox keeps at least (and twice as many at most): about
// 50 MiB at most. Older ones are forgotten, as a processor's records
// expire: a lookup of a forgotten reference finds nothing, and a capture
// or refund of a forgotten authorization is refused.
const Remembered = 25_000

// pendingAction is what an authorization that needs the customer will
// authorize once they approve.
type pendingAction struct {
	amount int64
	wallet bool
	// card is the card's network transaction key (ntKey), when the
	// authorization saves the card: approved, it gets a network
	// transaction id.
	card string
}

type authorization struct {
	amount, captured, refunded int64
	voided                     bool
	refundsFail                bool
}

// New returns a sandbox whose authentication pages live under baseURL
// (paygate's public URL).
func New(baseURL string) *Connector {
	return newConnector(baseURL, Remembered)
}

func newConnector(baseURL string, remembered int) *Connector {
	return &Connector{baseURL: baseURL, ops: newRecent[connectors.Result](remembered), auths: newRecent[*authorization](remembered),
		calls: map[string]int{}, pending: newRecent[pendingAction](remembered), networkTx: newRecent[string](remembered)}
}

// WithLatency makes every processor call of c wait d before it acts, as a
// real processor's network and work would: load tests use it to show what
// the gateway holds while calls are in flight. It returns c, to chain after
// New, and must be called before c is used.
func (c *Connector) WithLatency(d time.Duration) *Connector {
	c.latency = d
	return c
}

// wait is the call's latency, cut short by ctx. A call canceled while it
// waits has done nothing, as if it never reached the processor.
func (c *Connector) wait(ctx context.Context) error {
	if c.latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(c.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Name implements connectors.Connector.
func (c *Connector) Name() string { return "sandbox" }

// DecodeWallet tells which card a wallet token stands for; paypal has none.
func (c *Connector) DecodeWallet(walletType, token string) (brand, funding, last4 string, ok bool) {
	return decodeWallet(walletType, token)
}

// decodeWallet needs no state: the sandbox's tokens are fixed.
func decodeWallet(walletType, token string) (brand, funding, last4 string, ok bool) {
	switch walletType {
	case "apple_pay", "google_pay":
		last4 = "4242"
		if token == walletDeclineTok {
			last4 = "0002"
		}
		return "visa", "credit", last4, true
	}
	return "", "", "", false
}

// Performed counts the operations of a kind ("authorize", "capture",
// "void", "refund") the sandbox performed; repeated references don't count.
// Tests use it to prove that nothing was charged twice.
func (c *Connector) Performed(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[kind]
}

// remember runs op once per reference and stores its result.
func (c *Connector) remember(kind, ref string, op func() connectors.Result) connectors.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r, ok := c.ops.get(ref); ok {
		return r
	}
	c.calls[kind]++
	r := op()
	c.ops.put(ref, r)
	return r
}

func newProcessorID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Authorize implements connectors.Connector.
func (c *Connector) Authorize(ctx context.Context, req connectors.AuthorizeRequest) (connectors.Result, error) {
	if err := c.wait(ctx); err != nil {
		return connectors.Result{}, err
	}
	return c.remember("authorize", req.Reference, func() connectors.Result {
		refundsFail := false
		ntid := ""
		switch {
		case req.Method.Card != nil:
			n := req.Method.Card.Number
			if r, ok := cardOutcomes[n]; ok {
				return r
			}
			if req.OffSession {
				// Merchant-initiated: no customer to authenticate, and
				// the issuer wants the customer-initiated charge it
				// follows, for this card.
				if saved, ok := c.networkTx.get(req.NetworkTransactionID); !ok || saved != ntKey(n) {
					return declined("card_declined", "transaction_not_allowed",
						"A merchant-initiated charge must name the network transaction id of the customer-initiated charge that saved this card.")
				}
				if n == threeDSCard || n == offSessionAuthCard {
					return authenticationRequired
				}
			}
			saves := !req.OffSession && (req.SetupFutureUsage != "" || req.Verify)
			if n == threeDSCard {
				p := pendingAction{amount: req.Amount}
				if saves {
					p.card = ntKey(n)
				}
				c.pending.put(req.Reference, p)
				return c.actionRequired()
			}
			if saves {
				ntid = c.issueNetworkTx(ntKey(n))
			}
			refundsFail = n == refundFailCard
		case req.Method.Wallet != nil:
			w := req.Method.Wallet
			if w.Type == "paypal" {
				c.pending.put(req.Reference, pendingAction{amount: req.Amount, wallet: true})
				return c.actionRequired()
			}
			if w.Token != "tok_apple_pay" && w.Token != "tok_google_pay" {
				return declined("card_declined", "generic_decline", "The wallet payment was declined.")
			}
		default:
			return connectors.Result{Outcome: connectors.Failed, FailureCode: "processing_error", Message: "No payment method."}
		}
		id := newProcessorID("auth_")
		a := &authorization{amount: req.Amount, refundsFail: refundsFail}
		if req.Capture {
			a.captured = req.Amount
		}
		if req.Verify {
			a.voided = true // an authorization of 0 leaves nothing to capture
		}
		c.auths.put(id, a)
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: id, Amount: req.Amount, NetworkTransactionID: ntid}
	}), nil
}

// ntKey is what the sandbox keeps of a card to check that a network
// transaction id is the card's: a hash, not the number.
func ntKey(number string) string {
	h := sha256.Sum256([]byte("sandbox network transaction " + number))
	return hex.EncodeToString(h[:])
}

// issueNetworkTx gives a customer-initiated charge that saves a card its
// network transaction id. c.mu is held.
func (c *Connector) issueNetworkTx(card string) string {
	id := newProcessorID("ntx_")
	c.networkTx.put(id, card)
	return id
}

// actionRequired sends the customer to the sandbox's own approval page,
// which paygate serves; paygate puts the payment's token in the link.
func (c *Connector) actionRequired() connectors.Result {
	return connectors.Result{Outcome: connectors.ActionRequired, RedirectURL: c.baseURL + "/sandbox/authenticate/{token}"}
}

// CompleteAction implements connectors.Connector: approved, the pending
// authorization goes through (3-D Secure card or PayPal); declined, it is
// refused with authentication_failed.
func (c *Connector) CompleteAction(ctx context.Context, req connectors.CompleteActionRequest) (connectors.Result, error) {
	if err := c.wait(ctx); err != nil {
		return connectors.Result{}, err
	}
	return c.remember("complete_action", req.Reference, func() connectors.Result {
		p, ok := c.pending.get(req.ActionReference)
		if !ok {
			return failed("No authorization is waiting for the customer under that reference.")
		}
		c.pending.del(req.ActionReference)
		if !req.Approved {
			return connectors.Result{Outcome: connectors.Declined, FailureCode: "authentication_failed", DeclineCode: "authentication_failed",
				Message: "The customer did not complete the authentication."}
		}
		id := newProcessorID("auth_")
		a := &authorization{amount: p.amount}
		if req.Capture {
			a.captured = p.amount
		}
		c.auths.put(id, a)
		res := connectors.Result{Outcome: connectors.Succeeded, ProcessorID: id, Amount: p.amount}
		if p.card != "" {
			res.NetworkTransactionID = c.issueNetworkTx(p.card)
		}
		return res
	}), nil
}

// Capture implements connectors.Connector.
func (c *Connector) Capture(ctx context.Context, req connectors.CaptureRequest) (connectors.Result, error) {
	if err := c.wait(ctx); err != nil {
		return connectors.Result{}, err
	}
	return c.remember("capture", req.Reference, func() connectors.Result {
		a, ok := c.auths.get(req.ProcessorID)
		switch {
		case !ok:
			return failed("No such authorization.")
		case a.voided || a.captured > 0:
			return failed("The authorization is no longer open.")
		case req.Amount > a.amount:
			return failed(fmt.Sprintf("Cannot capture more than the %d authorized.", a.amount))
		}
		a.captured = req.Amount
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: newProcessorID("cap_"), Amount: req.Amount}
	}), nil
}

// Void implements connectors.Connector.
func (c *Connector) Void(ctx context.Context, req connectors.VoidRequest) (connectors.Result, error) {
	if err := c.wait(ctx); err != nil {
		return connectors.Result{}, err
	}
	return c.remember("void", req.Reference, func() connectors.Result {
		a, ok := c.auths.get(req.ProcessorID)
		if !ok || a.captured > 0 {
			return failed("The authorization cannot be voided.")
		}
		a.voided = true
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: newProcessorID("void_")}
	}), nil
}

// Refund implements connectors.Connector.
func (c *Connector) Refund(ctx context.Context, req connectors.RefundRequest) (connectors.Result, error) {
	if err := c.wait(ctx); err != nil {
		return connectors.Result{}, err
	}
	return c.remember("refund", req.Reference, func() connectors.Result {
		a, ok := c.auths.get(req.ProcessorID)
		switch {
		case !ok:
			return failed("No such authorization.")
		case a.refundsFail:
			return connectors.Result{Outcome: connectors.Failed, FailureCode: "refund_failed", Message: "The refund was refused by the card issuer."}
		case a.refunded+req.Amount > a.captured:
			return failed("Cannot refund more than was captured.")
		}
		a.refunded += req.Amount
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: newProcessorID("ref_"), Amount: req.Amount}
	}), nil
}

// Lookup implements connectors.Connector.
func (c *Connector) Lookup(ctx context.Context, reference string) (connectors.Result, error) {
	if err := c.wait(ctx); err != nil {
		return connectors.Result{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.ops.get(reference)
	if !ok {
		return connectors.Result{}, connectors.ErrNotFound
	}
	return r, nil
}

func failed(msg string) connectors.Result {
	return connectors.Result{Outcome: connectors.Failed, FailureCode: "processing_error", Message: msg}
}
