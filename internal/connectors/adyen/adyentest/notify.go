package adyentest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/connectors"
)

// events are the notifications' eventCode by the kind of operation.
var events = map[string]string{"authorize": "AUTHORISATION", "capture": "CAPTURE", "void": "CANCELLATION", "refund": "REFUND"}

// Notify is the standard notification Adyen sends for n (the request's
// header and body), built from the Webhooks-v1 example of its event and
// signed with the account's HMAC key. The event is the one of the
// operation the fake performed under n.Reference (AUTHORISATION for a
// reference it does not know); success is whether n.Result.Outcome is
// Succeeded, so Failed makes a failed capture, cancellation or refund, and
// n.Result.Message is its reason. The amount is n.Result.Amount, or the
// operation's.
func (s *Server) Notify(t testing.TB, n connectors.Notification) (http.Header, []byte) {
	t.Helper()
	s.mu.Lock()
	o, known := s.refs[n.Reference]
	s.mu.Unlock()
	if !known {
		o = op{kind: "authorize", amount: n.Result.Amount, currency: "USD"}
	}
	event := events[o.kind]
	amt := n.Result.Amount
	if amt == 0 {
		amt = o.amount
	}
	key, _ := hex.DecodeString(HMACKey)
	item := SignedItem(t, key, "notification-"+strings.ToLower(event)+".json", func(it map[string]any) {
		it["merchantAccountCode"] = MerchantAccount
		it["merchantReference"] = n.Reference
		it["pspReference"] = n.Result.ProcessorID
		if o.original != "" {
			it["originalReference"] = o.original
		} else {
			delete(it, "originalReference")
		}
		it["amount"] = map[string]any{"value": amt, "currency": o.currency}
		it["success"] = strconv.FormatBool(n.Result.Outcome == connectors.Succeeded)
		it["reason"] = n.Result.Message
	})
	return http.Header{"Content-Type": {"application/json"}}, Body(t, item)
}

// SignedItem is the NotificationRequestItem of a Webhooks-v1 example
// (fixture, e.g. "notification-capture-failed.json"), changed by edit and
// signed with key (raw bytes: the hex-decoded hmac_key) as Adyen signs it,
// for a test of events or tampering Notify does not make.
func SignedItem(t testing.TB, key []byte, fixture string, edit func(item map[string]any)) map[string]any {
	t.Helper()
	var doc struct {
		NotificationItems []struct {
			Item map[string]any `json:"NotificationRequestItem"`
		} `json:"notificationItems"`
	}
	if err := json.Unmarshal(Fixture(t, fixture), &doc); err != nil || len(doc.NotificationItems) == 0 {
		t.Fatalf("%s is not a notification: %v", fixture, err)
	}
	item := doc.NotificationItems[0].Item
	edit(item)
	ad, _ := item["additionalData"].(map[string]any)
	if ad == nil {
		ad = map[string]any{}
	}
	ad["hmacSignature"] = signature(key, item)
	item["additionalData"] = ad
	return item
}

// signature is Adyen's hmacSignature of an item: HMAC-SHA256, under key,
// of pspReference, originalReference, merchantAccountCode,
// merchantReference, amount value, amount currency, eventCode and success
// joined by colons (Adyen/adyen-go-api-library, src/hmacvalidator),
// base64. Written apart from the connector's, which it checks.
func signature(key []byte, item map[string]any) string {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	a, _ := item["amount"].(map[string]any)
	var value string
	switch v := a["value"].(type) {
	case float64:
		value = strconv.FormatInt(int64(v), 10)
	default:
		value = fmt.Sprint(v)
	}
	data := strings.Join([]string{str(item, "pspReference"), str(item, "originalReference"), str(item, "merchantAccountCode"),
		str(item, "merchantReference"), value, str(a, "currency"), str(item, "eventCode"), str(item, "success")}, ":")
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Body is the JSON body of a standard notification request carrying items
// (NotificationRequestItems, as SignedItem makes them), in order.
func Body(t testing.TB, items ...map[string]any) []byte {
	t.Helper()
	wrapped := make([]any, 0, len(items))
	for _, it := range items {
		wrapped = append(wrapped, map[string]any{"NotificationRequestItem": it})
	}
	b, err := json.Marshal(map[string]any{"live": "false", "notificationItems": wrapped})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Unsigned is a notification request (as Notify makes it) with each item's
// signature taken out: Adyen signs inside the body, so a request without
// headers would still be signed.
func Unsigned(t testing.TB, header http.Header, body []byte) (http.Header, []byte) {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	for _, it := range n["notificationItems"].([]any) {
		item := it.(map[string]any)["NotificationRequestItem"].(map[string]any)
		if ad, ok := item["additionalData"].(map[string]any); ok {
			delete(ad, "hmacSignature")
		}
	}
	out, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return header, out
}
