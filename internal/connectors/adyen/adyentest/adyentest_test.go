package adyentest

import (
	"encoding/hex"
	"testing"
)

// TestSignature checks the fake's signing on its own against the vector of
// Adyen's Go library (src/hmacvalidator/hmacvalidator_test.go), so a
// notification it signs is one Adyen would sign.
func TestSignature(t *testing.T) {
	key, _ := hex.DecodeString("DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00")
	item := map[string]any{"pspReference": "pspReference", "originalReference": "originalReference", "merchantAccountCode": "merchantAccount",
		"merchantReference": "reference", "amount": map[string]any{"value": 1000.0, "currency": "EUR"}, "eventCode": "EVENT", "success": "true"}
	if got, want := signature(key, item), "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="; got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
}
