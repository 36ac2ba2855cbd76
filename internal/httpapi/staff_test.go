package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/store/storetest"
)

// TestStaffUsersAdminAPI: POST /v1/merchants/{id}/users answers once with
// a temporary password; bad input is 400 naming the field and changes
// nothing; DELETE /v1/users/{id} removes the user; both are audited, and
// both need the admin token.
func TestStaffUsersAdminAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		path := "/v1/merchants/" + h.merchant + "/users"
		u := h.obj("POST", path, adminToken, map[string]any{"email": " Ana@Shop.example", "role": "viewer"}, 201)
		if u["email"] != "ana@shop.example" || u["role"] != "viewer" || u["must_change_password"] != true || len(u["password"].(string)) < 20 {
			t.Fatalf("user: %v", u)
		}
		before := storetest.Dump(t, h.db)
		h.apiErr("POST", path, adminToken, map[string]any{"email": "ana@shop.example", "role": "admin"}, 409, "email_taken", "email")
		h.apiErr("POST", path, adminToken, map[string]any{"email": "bo@shop.example", "role": "owner"}, 400, "parameter_invalid", "role")
		h.apiErr("POST", path, adminToken, map[string]any{"email": "not an email", "role": "admin"}, 400, "parameter_invalid", "email")
		h.apiErr("POST", path, adminToken, map[string]any{"role": "admin"}, 400, "parameter_missing", "email")
		h.apiErr("POST", path, adminToken, map[string]any{"email": "bo@shop.example", "role": "admin", "Role": "x"}, 400, "", "")
		h.apiErr("POST", "/v1/merchants/mer_33NRCXBTDQS1MQRACYYKT0WPPG/users", adminToken, map[string]any{"email": "bo@shop.example", "role": "admin"}, 404, "resource_missing", "")
		h.apiErr("POST", path, h.keyA, map[string]any{"email": "bo@shop.example", "role": "admin"}, 401, "admin_token_invalid", "")
		if after := storetest.Dump(t, h.db); after != before {
			t.Errorf("refused requests changed the database")
		}
		h.apiErr("DELETE", "/v1/users/"+u["id"].(string), h.keyA, nil, 401, "admin_token_invalid", "")
		d := h.obj("DELETE", "/v1/users/"+u["id"].(string), adminToken, nil, 200)
		if d["deleted"] != true || d["id"] != u["id"] {
			t.Errorf("removal: %v", d)
		}
		h.apiErr("DELETE", "/v1/users/"+u["id"].(string), adminToken, nil, 404, "resource_missing", "")
		// The email is free again.
		h.obj("POST", path, adminToken, map[string]any{"email": "ana@shop.example", "role": "admin"}, 201)
		list := h.obj("GET", "/v1/audit_events?object_id="+u["id"].(string), adminToken, nil, 200)
		var actions []string
		for _, e := range list["data"].([]any) {
			actions = append(actions, e.(map[string]any)["action"].(string))
		}
		if strings.Join(actions, ",") != "staff_user.removed,staff_user.created" {
			t.Errorf("audit of the user: %v", actions)
		}
	})
}

// TestRootPage: a browser at / gets a page that leads to the dashboard and
// the docs, under a strict policy; an API client gets the JSON 404.
func TestRootPage(t *testing.T) {
	h := start(t, "sqlite")
	req, _ := http.NewRequest("GET", h.url+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(body), `href="/dashboard"`) || !strings.Contains(string(body), `href="/docs"`) {
		t.Errorf("a browser at /: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("policy of /: %q", csp)
	}
	h.apiErr("GET", "/", "", nil, 404, "route_not_found", "")
	h.apiErr("GET", "/nowhere", "", nil, 404, "route_not_found", "")
}
