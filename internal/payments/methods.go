package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cards"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/tenant"
)

// Payment methods: tokenizing a card or wallet, sealing what must stay
// secret, and opening it again for the one call that needs it.

// CreateMethod tokenizes a card or wallet for later use.
func (s *Service) CreateMethod(ctx context.Context, acct tenant.Account, d *MethodData) (*Method, error) {
	now := s.now()
	digits, err := ValidateMethod(d, false, "", now)
	if err != nil {
		return nil, err
	}
	m, err := s.newMethod(acct, d, digits, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateMethod(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
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
