package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cards"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/tenant"
)

// Payment methods: tokenizing a card or wallet, sealing what must stay
// secret, and opening it again for the one call that needs it.

// CreateMethod tokenizes a card or wallet for later use; with customer it
// saves it to that customer, after the processor accepted an authorization
// of 0 when verify is set.
func (s *Service) CreateMethod(ctx context.Context, acct tenant.Account, in CreateMethodParams) (*Method, error) {
	now := s.now()
	digits, err := ValidateMethod(&in.MethodData, in.Verify, "", now)
	if err != nil {
		return nil, err
	}
	if err := validateCustomerRef(in.Customer); err != nil {
		return nil, err
	}
	if in.Customer != nil && in.Card == nil {
		return nil, apierror.Invalid("parameter_invalid", "customer", "Only a card can be saved to a customer.")
	}
	if in.Verify && in.Customer == nil {
		return nil, apierror.Invalid("parameter_missing", "customer", "verify checks a card before saving it to a customer: give customer.")
	}
	m, err := s.newMethod(acct, &in.MethodData, digits, now)
	if err != nil {
		return nil, err
	}
	if in.Customer == nil {
		if err := s.store.CreateMethod(ctx, m); err != nil {
			return nil, err
		}
		return m, nil
	}
	if err := s.customerExists(ctx, acct, *in.Customer); err != nil {
		return nil, err
	}
	if in.Verify {
		ntid, err := s.verify(ctx, acct, m, secrets{cvc: in.Card.CVC})
		if err != nil {
			return nil, err
		}
		m.NetworkTransactionID = ntid
	}
	return s.save(ctx, acct, *in.Customer, m, true, now)
}

// AttachMethod saves a payment method to a customer. The customer's card
// with the same fingerprint, when it has one, is the answer instead: one
// method per card per customer.
func (s *Service) AttachMethod(ctx context.Context, acct tenant.Account, id string, in AttachParams) (*Method, error) {
	m, err := s.Method(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	if in.Customer == nil {
		return nil, apierror.Missing("customer")
	}
	if err := validateCustomerRef(in.Customer); err != nil {
		return nil, err
	}
	if m.Card == nil {
		return nil, apierror.Invalid("parameter_invalid", "customer", "Only a card can be saved to a customer.")
	}
	return s.save(ctx, acct, *in.Customer, m, false, s.now())
}

// save saves m to a customer, with its event, and maps the store's errors.
func (s *Service) save(ctx context.Context, acct tenant.Account, customerID string, m *Method, isNew bool, now time.Time) (*Method, error) {
	saved, err := s.store.SaveMethod(ctx, acct.Scope, customerID, m, isNew, now, func(saved *Method, existed bool) ([]events.Event, error) {
		if existed {
			return nil, nil
		}
		ev, err := events.New(saved.MerchantID, events.MethodAttached, saved.ID, saved.Livemode, saved, now)
		return []events.Event{ev}, err
	})
	switch {
	case errors.Is(err, ErrCustomerNotFound):
		return nil, customerMissing(customerID)
	case errors.Is(err, ErrNotFound):
		return nil, apierror.NotFound("payment_method", m.ID)
	case errors.Is(err, ErrMethodDetached):
		return nil, methodUnusable(m.ID, "")
	case errors.Is(err, ErrMethodAttached):
		return nil, &apierror.Error{Kind: apierror.KindConflict, Code: "payment_method_attached",
			Message: "This payment method is saved to another customer; detach it first."}
	}
	return saved, err
}

// DetachMethod detaches a saved method from its customer and destroys its
// sealed card data: it can never be charged again.
func (s *Service) DetachMethod(ctx context.Context, acct tenant.Account, id string, _ DetachParams) (*Method, error) {
	now := s.now()
	m, err := s.store.DetachMethod(ctx, acct.Scope, id, now, func(m *Method) ([]events.Event, error) {
		ev, err := events.New(m.MerchantID, events.MethodDetached, m.ID, m.Livemode, m, now)
		return []events.Event{ev}, err
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, apierror.NotFound("payment_method", id)
	case errors.Is(err, ErrMethodNotAttached):
		return nil, &apierror.Error{Kind: apierror.KindConflict, Code: "payment_method_not_attached",
			Message: "This payment method is saved to no customer."}
	}
	return m, err
}

// CustomerMethods lists the methods saved to a customer, newest first.
func (s *Service) CustomerMethods(ctx context.Context, acct tenant.Account, customerID string, q MethodListQuery) ([]*Method, bool, error) {
	if err := s.store.CustomerExists(ctx, acct.Scope, customerID); errors.Is(err, ErrCustomerNotFound) {
		return nil, false, apierror.NotFound("customer", customerID)
	} else if err != nil {
		return nil, false, err
	}
	return s.store.CustomerMethods(ctx, acct.Scope, customerID, q)
}

// customerExists is a 404 naming the customer parameter when the scope has
// no such customer.
func (s *Service) customerExists(ctx context.Context, acct tenant.Account, id string) error {
	err := s.store.CustomerExists(ctx, acct.Scope, id)
	if errors.Is(err, ErrCustomerNotFound) {
		return customerMissing(id)
	}
	return err
}

func customerMissing(id string) error {
	e := apierror.NotFound("customer", id)
	e.Param = "customer"
	return e
}

// methodUnusable is the 409 of a method whose card data was destroyed.
func methodUnusable(id, param string) error {
	return &apierror.Error{Kind: apierror.KindConflict, Code: "payment_method_unusable", Param: param,
		Message: fmt.Sprintf("Payment method %s was detached from its customer and its card data destroyed; it cannot be used again.", id)}
}

func validateCustomerRef(c *string) error {
	if c != nil && !ids.Valid(ids.Customer, *c) {
		return apierror.Invalid("parameter_invalid", "customer", "customer must be a customer id (cus_…).")
	}
	return nil
}

// verifyCurrency is the currency of a card verification (an authorization
// of 0): routing rules on currency see it.
const verifyCurrency = "USD"

// verify asks the processor to authorize 0 on m, a card about to be saved,
// and returns the network transaction id of that customer-initiated
// check. A decline, a card that wants 3-D Secure (no customer is there to
// redirect) or a processor that could not answer is a 402 card_error, and
// nothing is saved.
func (s *Service) verify(ctx context.Context, acct tenant.Account, m *Method, sec secrets) (string, error) {
	p := &Payment{ID: m.ID, Amount: 0, Currency: verifyCurrency, PaymentMethod: m, Livemode: acct.Livemode, MerchantID: acct.MerchantID}
	routes, err := s.routes().Routes(ctx, p)
	if err != nil {
		return "", err
	}
	cm, err := s.openMethod(m, sec)
	if err != nil {
		return "", err
	}
	var res connectors.Result
	for _, r := range routes {
		res, err = r.Connector.Authorize(ctx, connectors.AuthorizeRequest{Reference: m.ID + ":verify", Amount: 0, Currency: verifyCurrency,
			Method: cm, SetupFutureUsage: OffSession, Verify: true})
		s.routes().Observe(r.AccountID, err)
		if !errors.Is(err, connectors.ErrNotProcessed) {
			break
		}
	}
	if err == nil && res.Outcome == connectors.Pending {
		err = errors.New("the processor answered pending") // no outcome to save on
	}
	if err != nil {
		s.log.InfoContext(ctx, "card verification: no answer from the processor", "payment_method", m.ID, "error", err.Error())
		return "", &apierror.Error{Kind: apierror.KindCardError, Code: "processing_error", Param: "verify",
			Message: "The processor could not verify the card; nothing was saved. Try again."}
	}
	switch res.Outcome {
	case connectors.Succeeded:
		return res.NetworkTransactionID, nil
	case connectors.ActionRequired:
		return "", &apierror.Error{Kind: apierror.KindCardError, Code: "authentication_required", DeclineCode: "authentication_required", Param: "verify",
			Message: "The card's issuer wants the customer to authenticate; save it with a payment (setup_future_usage) instead."}
	}
	code := res.FailureCode
	if code == "" {
		code = "card_declined"
	}
	return "", &apierror.Error{Kind: apierror.KindCardError, Code: code, DeclineCode: res.DeclineCode, Param: "verify",
		Message: "The card was declined; nothing was saved. " + res.Message}
}

// Method retrieves a payment method.
func (s *Service) Method(ctx context.Context, acct tenant.Account, id string) (*Method, error) {
	m, err := s.store.Method(ctx, acct.Scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("payment_method", id)
	}
	return m, err
}

// resolveMethod returns the method a parameter names: an existing one of the
// merchant's, or a new one built (not yet stored) from inline data.
func (s *Service) resolveMethod(ctx context.Context, acct tenant.Account, mp *MethodParam, digits string, now time.Time) (m *Method, isNew bool, err error) {
	if mp.Inline == nil {
		m, err := s.Method(ctx, acct, mp.ID)
		if e, ok := errors.AsType[*apierror.Error](err); ok && e.Kind == apierror.KindNotFound {
			e.Param = "payment_method" // the request's parameter, not the path's id
		}
		return m, false, err
	}
	m, err = s.newMethod(acct, mp.Inline, digits, now)
	return m, true, err
}

func (s *Service) newMethod(acct tenant.Account, d *MethodData, digits string, now time.Time) (*Method, error) {
	m := &Method{ID: ids.New(ids.PaymentMethod), Object: "payment_method", Type: d.Type, Livemode: acct.Livemode, CreatedAt: now, MerchantID: acct.MerchantID}
	var secret []byte
	switch {
	case d.Card != nil:
		info := cards.Describe(digits)
		m.First6 = info.First6
		m.Card = &CardDetails{Brand: string(info.Brand), Last4: info.Last4, ExpMonth: d.Card.ExpMonth, ExpYear: d.Card.ExpYear,
			Funding: string(info.Funding), Fingerprint: s.sealer.Fingerprint(digits), HolderName: d.Card.HolderName}
		secret = []byte(digits)
	case d.Wallet != nil:
		m.Wallet = &WalletDetails{Type: d.Wallet.Type}
		if wd, ok := s.builtin.(WalletDecoder); ok {
			if brand, funding, last4, ok := wd.DecodeWallet(d.Wallet.Type, d.Wallet.Token); ok {
				m.Wallet.Card = &CardDetails{Brand: brand, Funding: funding, Last4: last4}
			}
		}
		secret = []byte(d.Wallet.Token)
	}
	if len(secret) > 0 {
		sealed, err := s.sealer.Seal(secret, m.ID)
		if err != nil {
			return nil, fmt.Errorf("seal payment method: %w", err)
		}
		m.Secret = sealed
	}
	return m, nil
}

// openMethod decrypts what the connector needs; only here does a card
// number exist in clear after the request that brought it.
func (s *Service) openMethod(m *Method, sec secrets) (connectors.Method, error) {
	if m == nil {
		return connectors.Method{}, errors.New("payment has no payment method")
	}
	if m.Shredded() {
		return connectors.Method{}, fmt.Errorf("payment method %s was detached: its card data is destroyed", m.ID)
	}
	var secret []byte
	if len(m.Secret.Data) > 0 {
		var err error
		if secret, err = s.sealer.Open(m.Secret, m.ID); err != nil {
			return connectors.Method{}, fmt.Errorf("open payment method %s: %w", m.ID, err)
		}
	}
	switch {
	case m.Card != nil:
		return connectors.Method{Card: &connectors.Card{Number: string(secret), ExpMonth: m.Card.ExpMonth, ExpYear: m.Card.ExpYear, CVC: sec.cvc, HolderName: m.Card.HolderName}}, nil
	case m.Wallet != nil:
		return connectors.Method{Wallet: &connectors.Wallet{Type: m.Wallet.Type, Token: string(secret)}}, nil
	}
	return connectors.Method{}, errors.New("payment method has neither card nor wallet")
}
