package httpapi_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
)

// paymentIn makes a payment of merchant A that is in status s.
func (h *harness) paymentIn(s string) string {
	h.t.Helper()
	create := func(body map[string]any) string {
		return h.obj("POST", "/v1/payments", h.keyA, body, 201)["id"].(string)
	}
	switch s {
	case "requires_payment_method":
		return create(map[string]any{"amount": 1000, "currency": "usd"})
	case "requires_confirmation":
		return create(map[string]any{"amount": 1000, "currency": "usd", "payment_method": card("4242424242424242")})
	case "requires_action":
		return create(newPayment(card("4000000000003220")))
	case "requires_capture":
		return create(newPayment(card("4242424242424242"), "capture_method", "manual"))
	case "succeeded":
		return create(newPayment(card("4242424242424242")))
	case "failed":
		return create(newPayment(card("4000000000000002")))
	case "canceled":
		id := create(map[string]any{"amount": 1000, "currency": "usd"})
		h.obj("POST", "/v1/payments/"+id+"/cancel", h.keyA, nil, 200)
		return id
	case "processing":
		// Only an operation in flight at the connector holds this status;
		// put the payment there directly, as a crash mid-call would leave it.
		id := create(map[string]any{"amount": 1000, "currency": "usd", "payment_method": card("4242424242424242")})
		_, err := h.db.UpdatePayment(context.Background(), tenant.Scope{MerchantID: h.merchant}, id, func(p *payments.Payment) (payments.Change, error) {
			p.Status, p.PendingOperation, p.ConnectorReference = payments.Processing, payments.OpAuthorize, id+":authorize"
			return payments.Change{}, nil
		})
		if err != nil {
			h.t.Fatal(err)
		}
		return id
	}
	h.t.Fatalf("no recipe for status %s", s)
	return ""
}

func TestTransitionTable(t *testing.T) {
	type action struct {
		name, method, suffix string
		body                 map[string]any
		legal                map[string]string // from status → resulting status
	}
	actions := []action{
		{"confirm", "POST", "/confirm", nil, map[string]string{"requires_confirmation": "succeeded"}},
		{"capture", "POST", "/capture", nil, map[string]string{"requires_capture": "succeeded"}},
		{"cancel", "POST", "/cancel", nil, map[string]string{
			"requires_payment_method": "canceled", "requires_confirmation": "canceled",
			"requires_action": "canceled", "requires_capture": "canceled"}},
		{"update amount", "PATCH", "", map[string]any{"amount": 999}, map[string]string{
			"requires_payment_method": "requires_payment_method", "requires_confirmation": "requires_confirmation"}},
		{"update method", "PATCH", "", map[string]any{"payment_method": card("5555555555554444")}, map[string]string{
			"requires_payment_method": "requires_confirmation", "requires_confirmation": "requires_confirmation"}},
		{"update capture_method", "PATCH", "", map[string]any{"capture_method": "manual"}, map[string]string{
			"requires_payment_method": "requires_payment_method", "requires_confirmation": "requires_confirmation"}},
	}
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		for _, status := range payments.AllStatuses {
			for _, a := range actions {
				t.Run(fmt.Sprintf("%s/%s", status, a.name), func(t *testing.T) {
					id := h.paymentIn(string(status))
					before := storetest.Dump(t, h.db)
					path := "/v1/payments/" + id + a.suffix
					want, legal := a.legal[string(status)]
					if legal {
						p := h.obj(a.method, path, h.keyA, a.body, 200)
						if p["status"] != want {
							t.Errorf("%s on %s: status %v, want %s", a.name, status, p["status"], want)
						}
						return
					}
					h.apiErr(a.method, path, h.keyA, a.body, 409, "payment_unexpected_state", "")
					if after := storetest.Dump(t, h.db); after != before {
						t.Errorf("%s on %s: a refused action changed the database", a.name, status)
					}
				})
			}
		}
	})
}

func TestBadInput(t *testing.T) {
	big := `{"amount":100,"currency":"usd","description":"` + strings.Repeat("x", 1<<20) + `"}`
	past := fmt.Sprint(expYear - 10)
	withCard := func(fields string) string {
		return `{"amount":100,"currency":"usd","confirm":true,"payment_method":{"type":"card","card":{` + fields + `}}}`
	}
	okCard := func(number string) string {
		return withCard(`"number":"` + number + `","exp_month":12,"exp_year":` + fmt.Sprint(expYear) + `,"cvc":"123"`)
	}
	okCardWith := func(extra string) string {
		return `{"amount":100,"currency":"usd","confirm":true,` + extra + `,"payment_method":{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":` +
			fmt.Sprint(expYear) + `,"cvc":"123"}}}`
	}
	meta51 := make([]string, 51)
	for i := range meta51 {
		meta51[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	cases := []struct {
		name, method, path, body, contentType string
		status                                int
		code, param                           string
	}{
		{"malformed json", "POST", "/v1/payments", `{"amount":`, "", 400, "invalid_json", ""},
		{"not an object", "POST", "/v1/payments", `[1,2]`, "", 400, "invalid_json", ""},
		{"two objects", "POST", "/v1/payments", `{"amount":100,"currency":"usd"}{}`, "", 400, "invalid_json", ""},
		{"unknown field", "POST", "/v1/payments", `{"amount":100,"currency":"usd","colour":"red"}`, "", 400, "parameter_unknown", "colour"},
		{"unknown card field", "POST", "/v1/payments", withCard(`"number":"4242424242424242","pin":"1234"`), "", 400, "parameter_unknown", "payment_method.card.pin"},
		{"amount as string", "POST", "/v1/payments", `{"amount":"100","currency":"usd"}`, "", 400, "parameter_invalid", "amount"},
		{"amount fractional", "POST", "/v1/payments", `{"amount":10.5,"currency":"usd"}`, "", 400, "parameter_invalid", "amount"},
		{"amount huge", "POST", "/v1/payments", `{"amount":1e30,"currency":"usd"}`, "", 400, "parameter_invalid", "amount"},
		{"amount zero", "POST", "/v1/payments", `{"amount":0,"currency":"usd"}`, "", 400, "amount_too_small", "amount"},
		{"amount negative", "POST", "/v1/payments", `{"amount":-5,"currency":"usd"}`, "", 400, "amount_too_small", "amount"},
		{"amount too large", "POST", "/v1/payments", `{"amount":100000000,"currency":"usd"}`, "", 400, "amount_too_large", "amount"},
		{"amount missing", "POST", "/v1/payments", `{"currency":"usd"}`, "", 400, "parameter_missing", "amount"},
		{"amount null", "POST", "/v1/payments", `{"amount":null,"currency":"usd"}`, "", 400, "parameter_missing", "amount"},
		{"currency missing", "POST", "/v1/payments", `{"amount":100}`, "", 400, "parameter_missing", "currency"},
		{"currency unknown", "POST", "/v1/payments", `{"amount":100,"currency":"usdx"}`, "", 400, "currency_invalid", "currency"},
		{"currency metal", "POST", "/v1/payments", `{"amount":100,"currency":"XAU"}`, "", 400, "currency_invalid", "currency"},
		{"currency number", "POST", "/v1/payments", `{"amount":100,"currency":840}`, "", 400, "parameter_invalid", "currency"},
		{"capture method", "POST", "/v1/payments", `{"amount":100,"currency":"usd","capture_method":"later"}`, "", 400, "parameter_invalid", "capture_method"},
		{"description too long", "POST", "/v1/payments", `{"amount":100,"currency":"usd","description":"` + strings.Repeat("d", 1001) + `"}`, "", 400, "parameter_invalid", "description"},
		{"metadata not strings", "POST", "/v1/payments", `{"amount":100,"currency":"usd","metadata":{"n":1}}`, "", 400, "parameter_invalid", "metadata"},
		{"metadata too many keys", "POST", "/v1/payments", `{"amount":100,"currency":"usd","metadata":{` + strings.Join(meta51, ",") + `}}`, "", 400, "parameter_invalid", "metadata"},
		{"luhn", "POST", "/v1/payments", okCard("4242424242424241"), "", 400, "invalid_number", "payment_method.card.number"},
		{"letters in number", "POST", "/v1/payments", okCard("4242x24242424242"), "", 400, "invalid_number", "payment_method.card.number"},
		{"number missing", "POST", "/v1/payments", withCard(`"exp_month":12,"exp_year":` + fmt.Sprint(expYear) + `,"cvc":"123"`), "", 400, "parameter_missing", "payment_method.card.number"},
		{"past expiry", "POST", "/v1/payments", withCard(`"number":"4242424242424242","exp_month":12,"exp_year":` + past + `,"cvc":"123"`), "", 400, "invalid_expiry_year", "payment_method.card.exp_year"},
		{"month 13", "POST", "/v1/payments", withCard(`"number":"4242424242424242","exp_month":13,"exp_year":` + fmt.Sprint(expYear) + `,"cvc":"123"`), "", 400, "invalid_expiry_month", "payment_method.card.exp_month"},
		{"missing cvc", "POST", "/v1/payments", withCard(`"number":"4242424242424242","exp_month":12,"exp_year":` + fmt.Sprint(expYear)), "", 400, "parameter_missing", "payment_method.card.cvc"},
		{"short cvc", "POST", "/v1/payments", withCard(`"number":"4242424242424242","exp_month":12,"exp_year":` + fmt.Sprint(expYear) + `,"cvc":"12"`), "", 400, "invalid_cvc", "payment_method.card.cvc"},
		{"amex 3-digit cvc", "POST", "/v1/payments", withCard(`"number":"378282246310005","exp_month":12,"exp_year":` + fmt.Sprint(expYear) + `,"cvc":"123"`), "", 400, "invalid_cvc", "payment_method.card.cvc"},
		{"method type", "POST", "/v1/payments", `{"amount":100,"currency":"usd","payment_method":{"type":"bank"}}`, "", 400, "parameter_invalid", "payment_method.type"},
		{"method number", "POST", "/v1/payments", `{"amount":100,"currency":"usd","payment_method":5}`, "", 400, "parameter_invalid", "payment_method"},
		{"method bad id", "POST", "/v1/payments", `{"amount":100,"currency":"usd","payment_method":"pm_nope"}`, "", 400, "parameter_invalid", "payment_method"},
		{"method unknown id", "POST", "/v1/payments", `{"amount":100,"currency":"usd","payment_method":"pm_01M8BADJHEJCNXBNB7KE7F2GYG"}`, "", 404, "resource_missing", "payment_method"},
		{"wallet type", "POST", "/v1/payments", `{"amount":100,"currency":"usd","payment_method":{"type":"wallet","wallet":{"type":"venmo","token":"x"}}}`, "", 400, "parameter_invalid", "payment_method.wallet.type"},
		{"wallet token missing", "POST", "/v1/payments", `{"amount":100,"currency":"usd","payment_method":{"type":"wallet","wallet":{"type":"apple_pay"}}}`, "", 400, "parameter_missing", "payment_method.wallet.token"},
		{"confirm without method", "POST", "/v1/payments", `{"amount":100,"currency":"usd","confirm":true}`, "", 400, "parameter_missing", "payment_method"},
		{"return_url scheme", "POST", "/v1/payments", `{"amount":100,"currency":"usd","return_url":"ftp://x"}`, "", 400, "parameter_invalid", "return_url"},
		{"oversized body", "POST", "/v1/payments", big, "", 413, "body_too_large", ""},
		{"wrong content type", "POST", "/v1/payments", `{"amount":100,"currency":"usd"}`, "text/plain", 415, "unsupported_media_type", ""},
		{"no content type", "POST", "/v1/payments", `{"amount":100,"currency":"usd"}`, "-", 415, "unsupported_media_type", ""},
		{"unknown payment", "GET", "/v1/payments/pay_01M8BADJHEQRG8T95B825HSK54", "", "", 404, "resource_missing", "id"},
		{"unknown payment patch", "PATCH", "/v1/payments/pay_01M8BADJHEQRG8T95B825HSK54", `{"description":"x"}`, "", 404, "resource_missing", "id"},
		{"unknown payment confirm", "POST", "/v1/payments/garbage/confirm", "", "", 404, "resource_missing", "id"},
		{"unknown method", "GET", "/v1/payment_methods/pm_01M8BADJHEJCNXBNB7KE7F2GYG", "", "", 404, "resource_missing", "id"},
		{"bad cursor", "GET", "/v1/payments?starting_after=abc", "", "", 400, "parameter_invalid", "starting_after"},
		{"both cursors", "GET", "/v1/payments?starting_after=pay_01M8BADJHEQRG8T95B825HSK54&ending_before=pay_01M8BADJHEQRG8T95B825HSK54", "", "", 400, "parameter_invalid", "ending_before"},
		{"limit zero", "GET", "/v1/payments?limit=0", "", "", 400, "parameter_invalid", "limit"},
		{"limit 101", "GET", "/v1/payments?limit=101", "", "", 400, "parameter_invalid", "limit"},
		{"bad status filter", "GET", "/v1/payments?status=paid", "", "", 400, "parameter_invalid", "status"},
		{"bad event type filter", "GET", "/v1/events?type=payment.paid", "", "", 400, "parameter_invalid", "type"},
		{"bad created filter", "GET", "/v1/payments?created_gte=yesterday", "", "", 400, "parameter_invalid", "created_gte"},
		{"unknown query", "GET", "/v1/payments?sort=asc", "", "", 400, "parameter_unknown", "sort"},
		{"capture amount zero", "POST", "/v1/payments/{succeeded}/capture", `{"amount":0}`, "", 400, "amount_too_small", "amount"},
		{"cancel reason", "POST", "/v1/payments/{succeeded}/cancel", `{"cancellation_reason":"bored"}`, "", 400, "parameter_invalid", "cancellation_reason"},
		{"update bad currency", "PATCH", "/v1/payments/{succeeded}", `{"currency":"zzz"}`, "", 400, "currency_invalid", "currency"},
		{"confirm unknown field", "POST", "/v1/payments/{succeeded}/confirm", `{"amount":5}`, "", 400, "parameter_unknown", "amount"},
		{"customer bad id", "POST", "/v1/payments", `{"amount":100,"currency":"usd","customer":"cus_nope"}`, "", 400, "parameter_invalid", "customer"},
		{"customer unknown", "POST", "/v1/payments", okCardWith(`"customer":"cus_01M8BADJHEJCNXBNB7KE7F2GYG"`), "", 404, "resource_missing", "customer"},
		{"setup_future_usage value", "POST", "/v1/payments", okCardWith(`"customer":"{customer}","setup_future_usage":"later"`), "", 400, "parameter_invalid", "setup_future_usage"},
		{"setup_future_usage without customer", "POST", "/v1/payments", okCardWith(`"setup_future_usage":"off_session"`), "", 400, "parameter_missing", "customer"},
		{"setup_future_usage of a wallet", "POST", "/v1/payments", `{"amount":100,"currency":"usd","customer":"{customer}","setup_future_usage":"off_session","payment_method":{"type":"wallet","wallet":{"type":"apple_pay","token":"tok_apple_pay"}}}`, "", 400, "parameter_invalid", "setup_future_usage"},
		{"off_session inline card", "POST", "/v1/payments", okCardWith(`"customer":"{customer}","off_session":true`), "", 400, "parameter_invalid", "payment_method"},
		{"off_session without confirm", "POST", "/v1/payments", `{"amount":100,"currency":"usd","customer":"{customer}","payment_method":"pm_01M8BADJHEJCNXBNB7KE7F2GYG","off_session":true}`, "", 400, "parameter_invalid", "off_session"},
		{"off_session unsaved method", "POST", "/v1/payments", `{"amount":100,"currency":"usd","confirm":true,"customer":"{customer}","payment_method":"{unsaved}","off_session":true}`, "", 404, "resource_missing", "payment_method"},
		{"customer email", "POST", "/v1/customers", `{"email":"nobody"}`, "", 400, "parameter_invalid", "email"},
		{"customer name type", "POST", "/v1/customers", `{"name":5}`, "", 400, "parameter_invalid", "name"},
		{"customer unknown field", "PATCH", "/v1/customers/{customer}", `{"phone":"1"}`, "", 400, "parameter_unknown", "phone"},
		{"customer list filter", "GET", "/v1/customers?status=active", "", "", 400, "parameter_unknown", "status"},
		{"attach without customer", "POST", "/v1/payment_methods/{unsaved}/attach", `{}`, "", 400, "parameter_missing", "customer"},
		{"attach unknown customer", "POST", "/v1/payment_methods/{unsaved}/attach", `{"customer":"cus_01M8BADJHEJCNXBNB7KE7F2GYG"}`, "", 404, "resource_missing", "customer"},
		{"verify without customer", "POST", "/v1/payment_methods", `{"type":"card","verify":true,"card":{"number":"4242424242424242","exp_month":12,"exp_year":` + fmt.Sprint(expYear) + `,"cvc":"123"}}`, "", 400, "parameter_missing", "customer"},
		{"verify without cvc", "POST", "/v1/payment_methods", `{"type":"card","verify":true,"customer":"{customer}","card":{"number":"4242424242424242","exp_month":12,"exp_year":` + fmt.Sprint(expYear) + `}}`, "", 400, "parameter_missing", "card.cvc"},
		{"declined verification", "POST", "/v1/payment_methods", `{"type":"card","verify":true,"customer":"{customer}","card":{"number":"4000000000000002","exp_month":12,"exp_year":` + fmt.Sprint(expYear) + `,"cvc":"123"}}`, "", 402, "card_declined", "verify"},
		{"save a wallet", "POST", "/v1/payment_methods", `{"type":"wallet","customer":"{customer}","wallet":{"type":"apple_pay","token":"tok_apple_pay"}}`, "", 400, "parameter_invalid", "customer"},
		{"unknown route", "GET", "/v1/nothing", "", "", 404, "route_not_found", ""},
		{"wrong method", "PUT", "/v1/payments", "", "", 405, "method_not_allowed", ""},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		succeeded := h.paymentIn("succeeded")
		customer := h.customer(h.keyA, "jane@example.com")
		unsaved := h.obj("POST", "/v1/payment_methods", h.keyA, card("4242424242424242"), 201)["id"].(string)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := storetest.Dump(t, h.db)
				path := strings.NewReplacer("{succeeded}", succeeded, "{customer}", customer, "{unsaved}", unsaved).Replace(c.path)
				c.body = strings.NewReplacer("{customer}", customer, "{unsaved}", unsaved).Replace(c.body)
				var body any
				if c.body != "" {
					body = c.body
				}
				ct := "application/json"
				switch c.contentType {
				case "-":
					ct = ""
				case "":
				default:
					ct = c.contentType
				}
				resp, got := h.request(c.method, path, h.keyA, body, "Content-Type", ct)
				if resp.StatusCode != c.status {
					t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, c.status, got)
				}
				if !strings.Contains(string(got), `"code":"`+c.code+`"`) {
					t.Errorf("want code %s: %.300s", c.code, got)
				}
				if c.param != "" && !strings.Contains(string(got), `"param":"`+c.param+`"`) {
					t.Errorf("want param %s: %.300s", c.param, got)
				}
				if strings.Contains(string(got), "4242424242424241") || strings.Contains(string(got), "sql") {
					t.Errorf("error leaks input or internals: %.300s", got)
				}
				if after := storetest.Dump(t, h.db); after != before {
					t.Error("a rejected request changed the database")
				}
			})
		}
	})
}

func TestTenancy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		ids := map[string]string{}
		for _, s := range []string{"requires_confirmation", "requires_capture", "succeeded", "requires_payment_method"} {
			ids[s] = h.paymentIn(s)
		}
		pm := h.obj("POST", "/v1/payment_methods", h.keyA, card("4242424242424242"), 201)["id"].(string)
		before := storetest.Dump(t, h.db)
		for _, id := range ids {
			for _, c := range []struct {
				method, path string
				body         any
			}{
				{"GET", "/v1/payments/" + id, nil},
				{"PATCH", "/v1/payments/" + id, map[string]any{"description": "mine now"}},
				{"POST", "/v1/payments/" + id + "/confirm", nil},
				{"POST", "/v1/payments/" + id + "/capture", nil},
				{"POST", "/v1/payments/" + id + "/cancel", nil},
			} {
				e := h.apiErr(c.method, c.path, h.keyB, c.body, 404, "resource_missing", "")
				if strings.Contains(fmt.Sprint(e), "Merchant A") || strings.Contains(fmt.Sprint(e), h.merchant) {
					t.Errorf("404 reveals the owner: %v", e)
				}
			}
		}
		h.apiErr("GET", "/v1/payment_methods/"+pm, h.keyB, nil, 404, "resource_missing", "")
		h.apiErr("POST", "/v1/payments", h.keyB, newPayment(pm), 404, "resource_missing", "payment_method")
		h.apiErr("PATCH", "/v1/payments/"+h.paymentInB(), h.keyB, map[string]any{"payment_method": pm}, 404, "resource_missing", "payment_method")
		if l := h.obj("GET", "/v1/payments", h.keyB, nil, 200); len(l["data"].([]any)) > 1 {
			t.Errorf("B lists A's payments: %v", l)
		}
		// B's own payment was the one write allowed; A's rows are untouched.
		after := storetest.Dump(t, h.db)
		for _, line := range strings.Split(before, "\n") {
			if strings.HasPrefix(line, "api_keys:") && !strings.Contains(line, h.merchant) {
				continue // B's own key records its use
			}
			if !strings.Contains(after, line) {
				t.Errorf("row changed by merchant B: %.200s", line)
			}
		}
		// Without a key, or with a bad one: 401.
		h.apiErr("GET", "/v1/payments/"+ids["succeeded"], "", nil, 401, "api_key_missing", "")
		h.apiErr("GET", "/v1/payments/"+ids["succeeded"], "sk_test_AAAAAAAAAAAAAAAAAAAAAAAAAA", nil, 401, "api_key_invalid", "")
		h.apiErr("GET", "/v1/payments/"+ids["succeeded"], "garbage", nil, 401, "api_key_invalid", "")
	})
}

func (h *harness) paymentInB() string {
	return h.obj("POST", "/v1/payments", h.keyB, map[string]any{"amount": 100, "currency": "usd"}, 201)["id"].(string)
}

func TestAdminAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		m := h.obj("POST", "/v1/merchants", adminToken, map[string]any{"name": "Shop"}, 201)
		k := m["api_key"].(map[string]any)
		secret := k["secret"].(string)
		if !strings.HasPrefix(secret, "sk_test_") || !strings.HasPrefix(secret, k["prefix"].(string)) || m["object"] != "merchant" {
			t.Fatalf("merchant %v", m)
		}
		h.obj("GET", "/v1/payments", secret, nil, 200)
		// The secret is stored only hashed.
		if strings.Contains(storetest.Dump(t, h.db), secret) {
			t.Fatal("secret key stored in clear")
		}
		k2 := h.obj("POST", "/v1/merchants/"+m["id"].(string)+"/api_keys", adminToken, nil, 201)
		if k2["secret"] == nil || k2["merchant_id"] != m["id"] {
			t.Fatalf("second key %v", k2)
		}
		revoked := h.obj("DELETE", "/v1/api_keys/"+k["id"].(string), adminToken, nil, 200)
		if revoked["revoked_at"] == nil || revoked["secret"] != nil {
			t.Errorf("revoked %v", revoked)
		}
		h.apiErr("GET", "/v1/payments", secret, nil, 401, "api_key_invalid", "")
		h.obj("GET", "/v1/payments", k2["secret"].(string), nil, 200)

		h.apiErr("POST", "/v1/merchants", "wrong-token", map[string]any{"name": "x"}, 401, "admin_token_invalid", "")
		h.apiErr("POST", "/v1/merchants", h.keyA, map[string]any{"name": "x"}, 401, "admin_token_invalid", "")
		h.apiErr("POST", "/v1/merchants", adminToken, map[string]any{}, 400, "parameter_missing", "name")
		h.apiErr("POST", "/v1/merchants/mer_01M8BADGJXE8QP72A9THY5D73R/api_keys", adminToken, nil, 404, "resource_missing", "")
		h.apiErr("DELETE", "/v1/api_keys/key_01M8BADGJXE8QP72A9THY5D73R", adminToken, nil, 404, "resource_missing", "")
		// A merchant key is not an admin token, and an admin token not a key.
		h.apiErr("GET", "/v1/payments", adminToken, nil, 401, "api_key_invalid", "")
	})
}

func TestHealthAndLogs(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		h.do("GET", "/healthz", "", nil, 200, nil)
		h.do("GET", "/readyz", "", nil, 200, nil)
		doc := h.obj("GET", "/openapi.json", "", nil, 200)
		if doc["openapi"] == nil || doc["paths"] == nil {
			t.Errorf("openapi.json: %.200v", doc)
		}
		resp, _ := h.request("POST", "/v1/payments", h.keyA, newPayment(card("4000056655665556")))
		rid := resp.Header.Get("Request-Id")
		logs := h.logs.String()
		var line string
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, `"msg":"request"`) && strings.Contains(l, rid) {
				line = l
			}
		}
		for _, want := range []string{`"method":"POST"`, `"route":"POST /v1/payments"`, `"status":201`, `"duration_ms":`, `"merchant_id":"` + h.merchant + `"`, `"request_id":"` + rid + `"`} {
			if !strings.Contains(line, want) {
				t.Errorf("request log line lacks %s: %s", want, line)
			}
		}
		if !strings.Contains(logs, `"msg":"payment status changed"`) {
			t.Error("no state change log line")
		}
		for _, secret := range []string{"4000056655665556", "4000 0566", `"cvc"`, h.keyA, adminToken} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain %q", secret)
			}
		}
	})
}
