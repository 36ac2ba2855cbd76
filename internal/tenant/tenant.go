// Package tenant names whose objects a call may see and change: one
// merchant, in one mode. Test and live mode are two separate accounts of a
// merchant, as in Stripe: a key of one mode never sees an object of the
// other. The store applies a Scope in the SQL of every query that reads or
// changes a merchant's objects, so no caller has to remember the check.
package tenant

// Scope is one merchant's objects of one mode.
type Scope struct {
	MerchantID string
	Livemode   bool
}

// Account is whom a call acts for: the scope of its API key, and the key.
type Account struct {
	Scope
	// KeyID is the API key of the request; empty for background work
	// (recovery, expiry), which acts for the object's own scope.
	KeyID string
}

// Of is the scope of an object of merchantID in that mode, for background
// work that acts on objects of every merchant.
func Of(merchantID string, livemode bool) Scope {
	return Scope{MerchantID: merchantID, Livemode: livemode}
}

// Acting is an account with no key: background work on an object's scope.
func (s Scope) Acting() Account { return Account{Scope: s} }
