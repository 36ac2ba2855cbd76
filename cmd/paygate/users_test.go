package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUsersCreateCommand: `paygate users create` prints a user's temporary
// password once; the dashboard takes it, and asks for a new password
// first. Bad input is an error naming the flag, and makes no user. The
// demo user's password, printed at the first start, reaches no log.
func TestUsersCreateCommand(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "u.db")
	vars := map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": dbURL, "PAYGATE_LOG_LEVEL": "info"}
	s := startServe(t, vars)
	out := s.stdout.String()
	merchant := regexp.MustCompile(`mer_[0-9A-Z]+`).FindString(out)
	demo := regexp.MustCompile(`(?s)shown only this once:\s+sk_test_\S+.*shown only this once:\s+(\S+)`).FindStringSubmatch(out)
	if merchant == "" || demo == nil || !strings.Contains(out, s.url+"/dashboard") {
		t.Fatalf("the first start printed no dashboard line:\n%s", out)
	}

	run1 := func(args ...string) (string, error) {
		var o, e bytes.Buffer
		err := run(context.Background(), append([]string{"paygate", "users", "create"}, args...), env(vars), &o, &e)
		return o.String(), err
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--email", "a@shop.example", "--role", "admin"}, "--merchant"},
		{[]string{"--merchant", merchant, "--email", "a@shop.example", "--role", "owner"}, "role"},
		{[]string{"--merchant", merchant, "--email", "nope", "--role", "admin"}, "email"},
		{[]string{"--merchant", "mer_33NRCXBTDQS1MQRACYYKT0WPPG", "--email", "a@shop.example", "--role", "admin"}, "merchant"},
		{[]string{"--merchant", merchant, "--email", "demo@paygate.example", "--role", "admin"}, "email"},
	} {
		if o, err := run1(c.args...); err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(o, "temporary_password") {
			t.Errorf("users create %v: %v (printed %q), want an error about %s", c.args, err, o, c.want)
		}
	}
	o, err := run1("--merchant", merchant, "--email", "Ana@Shop.example", "--role", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^user_id: (usr_\S+)\nemail: ana@shop\.example\nrole: viewer\ntemporary_password: (\S+)$`).FindStringSubmatch(o)
	if m == nil {
		t.Fatalf("users create printed %q", o)
	}
	c := newDashClient(t, s.url)
	if st, _ := c.signIn("ana@shop.example", m[2]); st != http.StatusSeeOther {
		t.Fatalf("sign-in with the temporary password: %d", st)
	}
	if p := c.get("/dashboard/payments"); p.status != http.StatusSeeOther || p.location != "/dashboard/password" {
		t.Errorf("a temporary password leads to %d %q, want the password page", p.status, p.location)
	}
	d := newDashClient(t, s.url)
	if st, _ := d.signIn("demo@paygate.example", demo[1]); st != http.StatusSeeOther {
		t.Fatalf("the demo user's sign-in: %d", st)
	}
	if p := d.get("/dashboard/payments"); p.status != http.StatusOK {
		t.Errorf("the demo user's payments: %d (its password need not change)", p.status)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if logs := s.stderr.String(); strings.Contains(logs, demo[1]) || strings.Contains(logs, m[2]) {
		t.Error("a password reached the logs")
	}
}
