package routing

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cards"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/currency"
	"github.com/paygate/paygate/internal/tenant"
)

// Rules is a merchant's routing in one mode, as PUT /v1/routing takes it.
// The first rule whose conditions all hold picks an account by weight;
// Fallback is tried in order after it (and alone when no rule holds).
type Rules struct {
	Object    string     `json:"object"`
	Rules     []Rule     `json:"rules"`
	Fallback  []string   `json:"fallback"`
	Livemode  bool       `json:"livemode"`
	UpdatedAt *time.Time `json:"updated_at,omitempty"`
}

// Rule is one routing rule.
type Rule struct {
	Conditions Conditions `json:"conditions"`
	Split      []Share    `json:"split"`
}

// Conditions a payment must meet for a rule; an empty one always holds.
type Conditions struct {
	Currency          []string `json:"currency,omitempty"`
	CardBrand         []string `json:"card_brand,omitempty"`
	PaymentMethodType []string `json:"payment_method_type,omitempty"`
	AmountGTE         *int64   `json:"amount_gte,omitempty"`
	AmountLTE         *int64   `json:"amount_lte,omitempty"`
}

// Share is an account's part of a rule's payments.
type Share struct {
	ConnectorAccount string `json:"connector_account"`
	Weight           int    `json:"weight"`
}

// RulesParams is the body of PUT /v1/routing.
type RulesParams struct {
	Rules    []Rule   `json:"rules"`
	Fallback []string `json:"fallback"`
}

// Payment is what routing knows of a payment.
type Payment struct {
	ID                string
	Amount            int64
	Currency          string // upper case
	CardBrand         string // "" for a method with no card (paypal)
	PaymentMethodType string // card or wallet
}

// limits on a routing's size, so that it stays one small row.
const (
	maxRules    = 50
	maxSplit    = 10
	maxFallback = 10
	maxWeight   = 10_000
)

// validate checks in field by field, naming the parameter at fault, and
// normalizes currencies to upper case.
func (in *RulesParams) validate() (*Rules, error) {
	if len(in.Rules) > maxRules {
		return nil, apierror.Invalid("parameter_invalid", "rules", "At most %d rules.", maxRules)
	}
	if len(in.Fallback) > maxFallback {
		return nil, apierror.Invalid("parameter_invalid", "fallback", "At most %d accounts in the fallback.", maxFallback)
	}
	out := &Rules{Object: "routing", Rules: []Rule{}, Fallback: []string{}}
	for i, r := range in.Rules {
		at := func(f string) string { return fmt.Sprintf("rules[%d].%s", i, f) }
		c := r.Conditions
		for j, cur := range c.Currency {
			cu, ok := currency.Lookup(cur)
			if !ok {
				return nil, apierror.Invalid("parameter_invalid", fmt.Sprintf("%s[%d]", at("conditions.currency"), j), "%q is not a supported currency.", apierror.Truncate(cur, 10))
			}
			c.Currency[j] = cu.Code
		}
		for j, b := range c.CardBrand {
			if !cards.KnownBrand(b) {
				return nil, apierror.Invalid("parameter_invalid", fmt.Sprintf("%s[%d]", at("conditions.card_brand"), j), "%q is not a card brand paygate knows.", apierror.Truncate(b, 20))
			}
		}
		for j, t := range c.PaymentMethodType {
			if t != "card" && t != "wallet" {
				return nil, apierror.Invalid("parameter_invalid", fmt.Sprintf("%s[%d]", at("conditions.payment_method_type"), j), "payment_method_type is card or wallet.")
			}
		}
		if c.AmountGTE != nil && *c.AmountGTE < 0 {
			return nil, apierror.Invalid("parameter_invalid", at("conditions.amount_gte"), "amount_gte must not be negative.")
		}
		if c.AmountLTE != nil && (*c.AmountLTE < 0 || c.AmountGTE != nil && *c.AmountLTE < *c.AmountGTE) {
			return nil, apierror.Invalid("parameter_invalid", at("conditions.amount_lte"), "amount_lte must not be negative nor below amount_gte.")
		}
		if len(r.Split) == 0 || len(r.Split) > maxSplit {
			return nil, apierror.Invalid("parameter_invalid", at("split"), "A rule splits between 1 and %d accounts.", maxSplit)
		}
		for j, sh := range r.Split {
			if sh.ConnectorAccount == "" {
				return nil, apierror.Missing(fmt.Sprintf("%s[%d].connector_account", at("split"), j))
			}
			if sh.Weight < 1 || sh.Weight > maxWeight {
				return nil, apierror.Invalid("parameter_invalid", fmt.Sprintf("%s[%d].weight", at("split"), j), "weight must be from 1 to %d.", maxWeight)
			}
		}
		out.Rules = append(out.Rules, Rule{Conditions: c, Split: r.Split})
	}
	for i, id := range in.Fallback {
		if id == "" {
			return nil, apierror.Missing(fmt.Sprintf("fallback[%d]", i))
		}
		for _, seen := range in.Fallback[:i] {
			if seen == id {
				return nil, apierror.Invalid("parameter_invalid", fmt.Sprintf("fallback[%d]", i), "%s is already in the fallback.", id)
			}
		}
		out.Fallback = append(out.Fallback, id)
	}
	return out, nil
}

// named lists every account the rules name, with the parameter naming it
// first.
func (r *Rules) named() (ids, params []string) {
	for i, rule := range r.Rules {
		for j, sh := range rule.Split {
			ids, params = append(ids, sh.ConnectorAccount), append(params, fmt.Sprintf("rules[%d].split[%d].connector_account", i, j))
		}
	}
	for i, id := range r.Fallback {
		ids, params = append(ids, id), append(params, fmt.Sprintf("fallback[%d]", i))
	}
	return ids, params
}

// Names tells whether the rules name the account.
func (r *Rules) Names(id string) bool {
	ids, _ := r.named()
	for _, n := range ids {
		if n == id {
			return true
		}
	}
	return false
}

// holds tells whether c holds for p.
func (c Conditions) holds(p Payment) bool {
	in := func(list []string, v string, fold bool) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			if x == v || fold && strings.EqualFold(x, v) {
				return true
			}
		}
		return false
	}
	return in(c.Currency, p.Currency, true) && in(c.CardBrand, p.CardBrand, false) &&
		in(c.PaymentMethodType, p.PaymentMethodType, false) &&
		(c.AmountGTE == nil || p.Amount >= *c.AmountGTE) && (c.AmountLTE == nil || p.Amount <= *c.AmountLTE)
}

// Candidates is the accounts to try for p, in order: the account the first
// rule that holds picks by weight, then the fallback, each once. The pick
// is a function of the payment's id, so a retry goes where the first try
// went.
func (r *Rules) Candidates(p Payment) []string {
	var out []string
	add := func(id string) {
		for _, have := range out {
			if have == id {
				return
			}
		}
		out = append(out, id)
	}
	for _, rule := range r.Rules {
		if !rule.Conditions.holds(p) {
			continue
		}
		total := 0
		for _, sh := range rule.Split {
			total += sh.Weight
		}
		point := int(spread(p.ID) % uint64(total))
		for _, sh := range rule.Split {
			if point < sh.Weight {
				add(sh.ConnectorAccount)
				break
			}
			point -= sh.Weight
		}
		break
	}
	for _, id := range r.Fallback {
		add(id)
	}
	return out
}

// spread maps a payment's id to a number uniform over 64 bits (ids share
// their time prefix, so they are hashed first).
func spread(id string) uint64 {
	h := sha256.Sum256([]byte("paygate routing\x00" + id))
	return binary.BigEndian.Uint64(h[:8])
}

// Routing returns the scope's routing.
func (s *Service) Routing(ctx context.Context, acct tenant.Account) (*Rules, error) {
	r, err := s.store.Routing(ctx, acct.Scope)
	if err != nil {
		return nil, err
	}
	r.Object, r.Livemode = "routing", acct.Livemode
	return r, nil
}

// PutRouting replaces the scope's routing; every account it names must be
// one of the scope's.
func (s *Service) PutRouting(ctx context.Context, acct tenant.Account, in RulesParams) (*Rules, error) {
	r, err := in.validate()
	if err != nil {
		return nil, err
	}
	now := clock.Now()
	r.UpdatedAt, r.Livemode = &now, acct.Livemode
	err = s.store.PutRouting(ctx, acct.Scope, r)
	var missing *MissingAccountError
	if errors.As(err, &missing) {
		ids, params := r.named()
		for i, id := range ids {
			if id == missing.ID {
				e := apierror.NotFound("connector_account", id)
				e.Param = params[i]
				return nil, e
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
