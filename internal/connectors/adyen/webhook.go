package adyen

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// Accepted is the body Adyen's standard webhook has long expected in
// paygate's answer (with HTTP 200). Webhooks-v1 now says notifications are
// "accepted on the basis of the HTTP status code"; answering both is safe.
const Accepted = "[accepted]"

// AcceptResponse is the body of the answer to a notification paygate took
// (HTTP 200): Adyen retries a notification until it gets it.
func (c *Connector) AcceptResponse() []byte { return []byte(Accepted) }

// ParseWebhook implements connectors.WebhookParser for Adyen's standard
// notifications (JSON). Every item must carry a valid HMAC signature
// (additionalData.hmacSignature) under the account's hmac_key, or the
// whole request is refused with connectors.ErrBadSignature.
//
// Adyen's signature covers only pspReference, originalReference,
// merchantAccountCode, merchantReference, amount, eventCode and success,
// and no timestamp, so: the message of a failure (the item's reason) is
// not authenticated, and a recorded notification can be replayed (harmless
// to paygate: the same reference always reports the same outcome). now is
// therefore unused. The request's headers carry nothing of the signature.
//
// Items map to notifications by merchantReference, which is paygate's
// reference of the operation (for a modification, the reference sent with
// the capture, cancel or refund); ProcessorID is the item's pspReference
// (for a modification, the one its request answered with):
//   - AUTHORISATION: success Succeeded (the authorization finished after a
//     redirect, or a Pending one), failure Declined with the reason mapped.
//   - CAPTURE: Succeeded, or Failed (capture_failed) when success is false;
//     CAPTURE_FAILED: Failed (capture_failed).
//   - CANCELLATION: Succeeded, or Failed (cancel_failed).
//   - REFUND: Succeeded, or Failed (refund_failed); REFUND_FAILED and
//     REFUNDED_REVERSED: Failed (refund_failed).
//
// Other event codes, and items of another merchant account than this
// connector's (a company-level webhook), give no notification.
func (c *Connector) ParseWebhook(header http.Header, body []byte, now time.Time) ([]connectors.Notification, error) {
	var req notificationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, fmt.Errorf("%w: not an Adyen notification: %v", connectors.ErrBadSignature, err)
	}
	if len(req.NotificationItems) == 0 {
		return nil, fmt.Errorf("%w: a notification without items", connectors.ErrBadSignature)
	}
	for i, w := range req.NotificationItems {
		if !c.validSignature(w.Item) {
			return nil, fmt.Errorf("%w: item %d (pspReference %q) has no valid hmacSignature", connectors.ErrBadSignature, i, w.Item.PSPReference)
		}
	}
	var out []connectors.Notification
	for _, w := range req.NotificationItems {
		it := w.Item
		if it.MerchantAccountCode != c.merchantAccount {
			continue
		}
		res, ok := notificationResult(it)
		if !ok {
			continue
		}
		out = append(out, connectors.Notification{Reference: it.MerchantReference, Result: res})
	}
	return out, nil
}

func notificationResult(it notificationItem) (connectors.Result, bool) {
	success := it.Success == "true"
	ok := connectors.Result{Outcome: connectors.Succeeded, ProcessorID: it.PSPReference, Amount: it.Amount.Value}
	failed := func(code string) connectors.Result {
		msg := strings.TrimSpace(it.Reason)
		if msg == "" {
			msg = "Adyen reported " + it.EventCode + " as unsuccessful."
		}
		return connectors.Result{Outcome: connectors.Failed, ProcessorID: it.PSPReference, Amount: it.Amount.Value, FailureCode: code, Message: msg}
	}
	switch it.EventCode {
	case "AUTHORISATION":
		if success {
			return ok, true
		}
		res := declined("", it.Reason)
		res.ProcessorID = it.PSPReference
		return res, true
	case "CAPTURE":
		if success {
			return ok, true
		}
		return failed("capture_failed"), true
	case "CAPTURE_FAILED":
		return failed("capture_failed"), true
	case "CANCELLATION":
		if success {
			return ok, true
		}
		return failed("cancel_failed"), true
	case "REFUND":
		if success {
			return ok, true
		}
		return failed("refund_failed"), true
	case "REFUND_FAILED", "REFUNDED_REVERSED":
		return failed("refund_failed"), true
	}
	return connectors.Result{}, false
}

// validSignature checks an item's hmacSignature in constant time.
func (c *Connector) validSignature(it notificationItem) bool {
	got, ok := it.AdditionalData["hmacSignature"].(string)
	if !ok || got == "" {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(got)
	if err != nil {
		return false
	}
	return hmac.Equal(sig, sign(c.hmacKey, signingString(it)))
}

// signingString is what Adyen signs of a notification item: pspReference,
// originalReference, merchantAccountCode, merchantReference, amount value,
// amount currency, eventCode and success, joined by colons, unescaped
// (Adyen/adyen-go-api-library, src/hmacvalidator, GetDataToSign).
func signingString(it notificationItem) string {
	return strings.Join([]string{
		it.PSPReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		strconv.FormatInt(it.Amount.Value, 10), it.Amount.Currency, it.EventCode, it.Success,
	}, ":")
}

// sign is HMAC-SHA256 under the hex-decoded hmac_key; Adyen sends it
// base64-encoded.
func sign(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

type notificationRequest struct {
	Live              string `json:"live"`
	NotificationItems []struct {
		Item notificationItem `json:"NotificationRequestItem"`
	} `json:"notificationItems"`
}

type notificationItem struct {
	AdditionalData      map[string]any `json:"additionalData"`
	Amount              amount         `json:"amount"`
	EventCode           string         `json:"eventCode"`
	EventDate           string         `json:"eventDate"`
	MerchantAccountCode string         `json:"merchantAccountCode"`
	MerchantReference   string         `json:"merchantReference"`
	OriginalReference   string         `json:"originalReference"`
	PSPReference        string         `json:"pspReference"`
	Reason              string         `json:"reason"`
	Success             string         `json:"success"`
}
