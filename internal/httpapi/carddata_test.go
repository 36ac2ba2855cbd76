package httpapi_test

import (
	"strings"

	"github.com/paygate/paygate/internal/store/storetest"
)

// The CVCs every test card is sent with: distinctive, so that finding one
// anywhere means it was written.
const (
	testCVC     = "737"
	testAmexCVC = "7373"
)

// testPANs are the SPEC's test cards: no full number may appear in an
// answer, a log line, an event or any database row.
var testPANs = []string{
	"4242424242424242", "5555555555554444", "4000056655665556", "5200828282828210", "378282246310005",
	"4000000000000002", "4000000000009995", "4000000000000069", "4000000000000127", "4000000000000119",
	"4000000000003220", "4000000000005126",
}

// cardData names the card data in s, if any: a full test card number
// (plain, or grouped by spaces or dashes as clients send them), a CVC field,
// or a test CVC as a JSON string.
func cardData(s string) string {
	for _, pan := range testPANs {
		for _, form := range []string{pan, group(pan, " "), group(pan, "-")} {
			if strings.Contains(s, form) {
				return "card number " + form
			}
		}
	}
	// " cvc=" is the text log format's key; without the space a random
	// base64 value (a webhook secret) can end in "cvc=".
	for _, c := range []string{`"cvc"`, ` cvc=`, `"` + testCVC + `"`, `"` + testAmexCVC + `"`} {
		if strings.Contains(s, c) {
			return "CVC " + c
		}
	}
	return ""
}

// group writes a number in groups of four (Amex: 4-6-5), as on the card.
func group(pan, sep string) string {
	if len(pan) == 15 {
		return pan[:4] + sep + pan[4:10] + sep + pan[10:]
	}
	var parts []string
	for i := 0; i < len(pan); i += 4 {
		parts = append(parts, pan[i:min(i+4, len(pan))])
	}
	return strings.Join(parts, sep)
}

// assertNoCardData runs after every test that used a harness: the whole
// end-to-end suite is swept. It searches the logs, a text dump of every
// table (events, idempotency answers, audit entries included), for card
// numbers and CVCs. Answers are checked as they arrive (harness.request).
func (h *harness) assertNoCardData() {
	h.t.Helper()
	for _, line := range strings.Split(h.logs.String(), "\n") {
		if leak := cardData(line); leak != "" {
			h.t.Errorf("a log line holds card data (%s): %s", leak, line)
		}
	}
	for _, line := range strings.Split(storetest.Dump(h.t, h.db), "\n") {
		if leak := cardData(line); leak != "" {
			h.t.Errorf("a database row holds card data (%s): %.300s", leak, line)
		}
	}
}
