package webhook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/paygate/paygate/pkg/webhook"
)

// A merchant's endpoint: verify first, then parse, and answer 2xx only once
// the event is safely handled (any other answer makes paygate retry).
func handler(secret string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.VerifyRequest(secret, r, 0)
		switch {
		case errors.Is(err, webhook.ErrInvalidSecret):
			log.Printf("webhook endpoint misconfigured: %v", err)
			http.Error(w, "misconfigured", http.StatusInternalServerError)
			return
		case err != nil:
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		var event struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		// webhook-id repeats on retries: deduplicate on event.ID here.
		fmt.Println("received", event.Type, event.ID)
		w.WriteHeader(http.StatusNoContent)
	})
}

func ExampleVerifyRequest() {
	// The secret shown once when the endpoint was created; keep it in your
	// secret store.
	secret, err := webhook.NewSecret()
	if err != nil {
		log.Fatal(err)
	}
	h := handler(secret)

	// What paygate sends.
	body := []byte(`{"id":"evt_1","type":"payment.succeeded"}`)
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		log.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "/paygate/webhooks", bytes.NewReader(body))
	if err := signer.SetHeaders(r.Header, "evt_1", time.Now(), body); err != nil {
		log.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Code)

	// The same headers on a forged body.
	forged := httptest.NewRequest(http.MethodPost, "/paygate/webhooks",
		bytes.NewReader([]byte(`{"id":"evt_1","type":"refund.succeeded"}`)))
	forged.Header = r.Header.Clone()
	w = httptest.NewRecorder()
	h.ServeHTTP(w, forged)
	fmt.Println(w.Code)

	// Output:
	// received payment.succeeded evt_1
	// 204
	// 400
}

func ExampleSign() {
	sig, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}
