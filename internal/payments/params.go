package payments

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cards"
	"github.com/paygate/paygate/internal/currency"
	"github.com/paygate/paygate/internal/ids"
)

// Amount limits, in minor units of any currency.
const (
	MinAmount = 1
	MaxAmount = 99_999_999
)

// CreateParams is the body of POST /v1/payments.
type CreateParams struct {
	Amount        *int64            `json:"amount"`
	Currency      *string           `json:"currency"`
	CaptureMethod *string           `json:"capture_method"`
	Description   *string           `json:"description"`
	Metadata      map[string]string `json:"metadata"`
	PaymentMethod *MethodParam      `json:"payment_method"`
	Confirm       bool              `json:"confirm"`
	ReturnURL     *string           `json:"return_url"`
	// Customer names the paying customer; SetupFutureUsage
	// (on_session, off_session) saves the card to it once authorized;
	// OffSession charges a card saved to it, with no customer present.
	Customer         *string `json:"customer"`
	SetupFutureUsage *string `json:"setup_future_usage"`
	OffSession       bool    `json:"off_session"`
}

// UpdateParams is the body of PATCH /v1/payments/{id}.
type UpdateParams struct {
	Amount        *int64            `json:"amount"`
	Currency      *string           `json:"currency"`
	CaptureMethod *string           `json:"capture_method"`
	Description   *string           `json:"description"`
	Metadata      map[string]string `json:"metadata"`
	PaymentMethod *MethodParam      `json:"payment_method"`
}

// ConfirmParams is the body of POST /v1/payments/{id}/confirm.
type ConfirmParams struct {
	PaymentMethod *MethodParam `json:"payment_method"`
	ReturnURL     *string      `json:"return_url"`
}

// CaptureParams is the body of POST /v1/payments/{id}/capture.
type CaptureParams struct {
	Amount *int64 `json:"amount"`
}

// CancelParams is the body of POST /v1/payments/{id}/cancel.
type CancelParams struct {
	CancellationReason *string `json:"cancellation_reason"`
}

// MethodParam is a payment method given by id ("pm_…") or inline.
type MethodParam struct {
	ID     string
	Inline *MethodData
}

// MethodData is an inline payment method, also the body of
// POST /v1/payment_methods.
type MethodData struct {
	Type   string      `json:"type"`
	Card   *CardData   `json:"card"`
	Wallet *WalletData `json:"wallet"`
}

// CreateMethodParams is the body of POST /v1/payment_methods: a method,
// and optionally the customer to save it to, after verifying it with the
// processor (an authorization of 0) when Verify is set.
type CreateMethodParams struct {
	MethodData
	Customer *string `json:"customer"`
	Verify   bool    `json:"verify"`
}

// AttachParams is the body of POST /v1/payment_methods/{id}/attach.
type AttachParams struct {
	Customer *string `json:"customer"`
}

// DetachParams is the body of POST /v1/payment_methods/{id}/detach: none.
type DetachParams struct{}

// MethodListQuery selects a page of a customer's saved methods, newest
// first.
type MethodListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
}

// Setup future usage values.
const (
	OnSession  = "on_session"
	OffSession = "off_session"
)

// CardData is a card as the merchant sends it. It must never be logged.
type CardData struct {
	Number     string `json:"number"`
	ExpMonth   int    `json:"exp_month"`
	ExpYear    int    `json:"exp_year"`
	CVC        string `json:"cvc"`
	HolderName string `json:"holder_name"`
}

// WalletData is a wallet payment token.
type WalletData struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// String keeps card data out of any accidental %v formatting.
func (CardData) String() string { return "[card data redacted]" }

// LogValue keeps card data out of structured logs too, where String is not
// consulted.
func (CardData) LogValue() slog.Value { return slog.StringValue("[card data redacted]") }

// UnmarshalJSON accepts either an id string or an inline object, strictly.
func (m *MethodParam) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &m.ID); err != nil {
			return apierror.FromJSON(err, "payment_method")
		}
		return nil
	case len(b) > 0 && b[0] == '{':
		var d MethodData
		if err := strictDecode(b, &d, "payment_method"); err != nil {
			return err
		}
		m.Inline = &d
		return nil
	}
	return apierror.Invalid("parameter_invalid", "payment_method", "payment_method must be a payment method id or an object.")
}

// UnmarshalJSON rejects unknown fields, naming them with their path.
func (c *CardData) UnmarshalJSON(b []byte) error {
	type plain CardData
	return strictDecode(b, (*plain)(c), "card")
}

// UnmarshalJSON rejects unknown fields, naming them with their path.
func (w *WalletData) UnmarshalJSON(b []byte) error {
	type plain WalletData
	return strictDecode(b, (*plain)(w), "wallet")
}

// strictDecode decodes one object, refusing unknown fields. Errors of
// nested objects arrive already as API errors; their param gets prefix.
func strictDecode(b []byte, v any, prefix string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if e, ok := apierror.As(err); ok {
			if e.Param != "" {
				e.Param = prefix + "." + e.Param
			}
			return e
		}
		return apierror.FromJSON(err, prefix)
	}
	return nil
}

// ValidateMethod checks an inline method; requireCVC is set when the card is
// about to be charged. param is the path of the object in the request.
func ValidateMethod(d *MethodData, requireCVC bool, param string, now time.Time) (digits string, err error) {
	at := func(name string) string {
		if param == "" {
			return name
		}
		return param + "." + name
	}
	switch d.Type {
	case "":
		return "", apierror.Missing(at("type"))
	case "card":
		if d.Wallet != nil {
			return "", apierror.Invalid("parameter_unknown", at("wallet"), "A card payment method takes no wallet.")
		}
		if d.Card == nil {
			return "", apierror.Missing(at("card"))
		}
		c := d.Card
		digits, err := cards.Validate(cards.Input{Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, CVC: c.CVC, RequireCVC: requireCVC}, now)
		if fe, ok := err.(*cards.FieldError); ok {
			return "", apierror.Invalid(fe.Code, at("card.")+fe.Field, "%s", fe.Message)
		} else if err != nil {
			return "", err
		}
		if utf8.RuneCountInString(c.HolderName) > 200 {
			return "", apierror.Invalid("parameter_invalid", at("card.holder_name"), "holder_name must be at most 200 characters.")
		}
		return digits, nil
	case "wallet":
		if d.Card != nil {
			return "", apierror.Invalid("parameter_unknown", at("card"), "A wallet payment method takes no card.")
		}
		if d.Wallet == nil {
			return "", apierror.Missing(at("wallet"))
		}
		switch d.Wallet.Type {
		case "":
			return "", apierror.Missing(at("wallet.type"))
		case "apple_pay", "google_pay":
			if d.Wallet.Token == "" {
				return "", apierror.Missing(at("wallet.token"))
			}
			if len(d.Wallet.Token) > 8192 {
				return "", apierror.Invalid("parameter_invalid", at("wallet.token"), "The wallet token is too long.")
			}
		case "paypal":
			if d.Wallet.Token != "" {
				return "", apierror.Invalid("parameter_invalid", at("wallet.token"), "A paypal wallet takes no token: the customer approves on PayPal's page.")
			}
		default:
			return "", apierror.Invalid("parameter_invalid", at("wallet.type"), "wallet.type must be one of apple_pay, google_pay, paypal.")
		}
		return "", nil
	}
	return "", apierror.Invalid("parameter_invalid", at("type"), "type must be card or wallet.")
}

// ValidateAmount checks an amount parameter: present, 1 to MaxAmount.
func ValidateAmount(a *int64, param string) error {
	switch {
	case a == nil:
		return apierror.Missing(param)
	case *a < MinAmount:
		return apierror.Invalid("amount_too_small", param, "Amount must be at least %d (in the currency's minor unit).", MinAmount)
	case *a > MaxAmount:
		return apierror.Invalid("amount_too_large", param, "Amount must be at most %d (in the currency's minor unit).", MaxAmount)
	}
	return nil
}

func validateCurrency(c *string) (string, error) {
	if c == nil {
		return "", apierror.Missing("currency")
	}
	cur, ok := currency.Lookup(*c)
	if !ok {
		return "", apierror.Invalid("currency_invalid", "currency", "Invalid currency: %q is not a supported ISO 4217 code.", apierror.Truncate(*c, 10))
	}
	return cur.Code, nil
}

func validateCaptureMethod(c *string) error {
	if c != nil && *c != CaptureAutomatic && *c != CaptureManual {
		return apierror.Invalid("parameter_invalid", "capture_method", "capture_method must be automatic or manual.")
	}
	return nil
}

func validateDescription(d *string) error {
	if d != nil && utf8.RuneCountInString(*d) > 1000 {
		return apierror.Invalid("parameter_invalid", "description", "description must be at most 1000 characters.")
	}
	return nil
}

// Metadata limits, as Stripe's.
const (
	maxMetadataKeys  = 50
	maxMetadataKey   = 40
	maxMetadataValue = 500
)

// ValidateMetadata checks metadata against the limits.
func ValidateMetadata(m map[string]string) error {
	if len(m) > maxMetadataKeys {
		return apierror.Invalid("parameter_invalid", "metadata", "metadata can have at most %d keys.", maxMetadataKeys)
	}
	for k, v := range m {
		if k == "" || utf8.RuneCountInString(k) > maxMetadataKey {
			return apierror.Invalid("parameter_invalid", "metadata", "metadata keys must be 1 to %d characters.", maxMetadataKey)
		}
		if utf8.RuneCountInString(v) > maxMetadataValue {
			return apierror.Invalid("parameter_invalid", "metadata."+k, "metadata values must be at most %d characters.", maxMetadataValue)
		}
	}
	return nil
}

func validateReturnURL(u *string) error {
	if u == nil {
		return nil
	}
	p, err := url.Parse(*u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || len(*u) > 2048 {
		return apierror.Invalid("parameter_invalid", "return_url", "return_url must be an absolute http or https URL.")
	}
	return nil
}

func validateMethodRef(m *MethodParam, requireCVC bool, now time.Time) (string, error) {
	if m == nil {
		return "", nil
	}
	if m.Inline == nil {
		if !ids.Valid(ids.PaymentMethod, m.ID) {
			return "", apierror.Invalid("parameter_invalid", "payment_method", "payment_method must be a pm_ id or an object.")
		}
		return "", nil
	}
	return ValidateMethod(m.Inline, requireCVC, "payment_method", now)
}

// validCancellationReasons are Stripe's.
var validCancellationReasons = map[string]bool{"duplicate": true, "fraudulent": true, "requested_by_customer": true, "abandoned": true}

func validateCancellationReason(r *string) error {
	if r != nil && !validCancellationReasons[*r] {
		return apierror.Invalid("parameter_invalid", "cancellation_reason", "cancellation_reason must be one of duplicate, fraudulent, requested_by_customer, abandoned.")
	}
	return nil
}

// MergeMetadata applies a PATCH of metadata: keys set to "" are removed.
func MergeMetadata(cur, upd map[string]string) (map[string]string, error) {
	return mergeMetadata(cur, upd)
}

// mergeMetadata applies a PATCH: keys set to "" are removed.
func mergeMetadata(cur, upd map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(cur)+len(upd))
	for k, v := range cur {
		out[k] = v
	}
	for k, v := range upd {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	if len(out) > maxMetadataKeys {
		return nil, apierror.Invalid("parameter_invalid", "metadata", "metadata can have at most %d keys.", maxMetadataKeys)
	}
	return out, nil
}
