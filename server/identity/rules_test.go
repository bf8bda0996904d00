package identity_test

import (
	"strings"
	"testing"

	"hqconnect/internal/errs"
	"hqconnect/server/identity"
)

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0912345678", "+84912345678"},
		{"84912345678", "+84912345678"},
		{"+84912345678", "+84912345678"},
		{"+84 912 345 678", "+84912345678"},
		{"+84 0912 345 678", "+84912345678"},
		{"(091) 234-5678", "+84912345678"},
		{"0912.345.678", "+84912345678"},
		{"02838123456", "+842838123456"}, // a landline: 10 national digits
		{"091234567", ""},                // 8 national digits
		{"091234567890", ""},             // 11 national digits
		{"912345678", ""},                // neither 0 nor 84 in front
		{"+1 415 555 0100", ""},          // not Vietnamese
		{"0912abc678", ""},
		{"", ""},
		{"00912345678", ""},
	} {
		got, err := identity.NormalizePhone("phone", tc.in)
		if tc.want == "" {
			if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != "phone" {
				t.Errorf("%q: got %q, %v; want an invalid phone", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{" Name@Example.VN ", "name@example.vn"},
		{"a.b+c@sub.example.com", "a.b+c@sub.example.com"},
		{"name@localhost", ""},
		{"name", ""},
		{"@example.vn", ""},
		{"a@b@example.vn", ""},
		{"Name <name@example.vn>", ""},
		{"name@example..vn", ""},
		{"na me@example.vn", ""},
	} {
		got, err := identity.NormalizeEmail("email", tc.in)
		if tc.want == "" {
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("%q: got %q, %v; want invalid", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestInvitationCode(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		display, hash := identity.NewCode()
		if len(display) != 19 || display[4] != '-' || display[9] != '-' || display[14] != '-' || seen[display] {
			t.Fatalf("code %q", display)
		}
		seen[display] = true
		for _, typed := range []string{display, strings.ToLower(display), strings.ReplaceAll(display, "-", " "),
			strings.ReplaceAll(display, "-", "")} {
			n, err := identity.NormalizeCode(typed)
			if err != nil || identity.HashCode(n) != hash {
				t.Fatalf("%q typed as %q does not match: %v", display, typed, err)
			}
		}
	}
	// Letters people confuse with digits read as those digits.
	a, err1 := identity.NormalizeCode("OOII-LLOO-1234-5678")
	b, err2 := identity.NormalizeCode("0011-1100-1234-5678")
	if err1 != nil || err2 != nil || a != b {
		t.Fatalf("O/I/L not read as 0/1: %q %q %v %v", a, b, err1, err2)
	}
	for _, bad := range []string{"", "ABCD-EFGH-JKMN", "ABCD-EFGH-JKMN-PQRSU", "ABCD-EFGH-JKMN-PQR*"} {
		if _, err := identity.NormalizeCode(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("%q: %v, want invalid", bad, err)
		}
	}
}

func TestPaging(t *testing.T) {
	for _, tc := range []struct {
		size     int32
		want     int
		wantFail bool
	}{{0, 50, false}, {1, 1, false}, {200, 200, false}, {201, 200, false}, {1 << 30, 200, false}, {-1, 0, true}} {
		got, _, err := identity.Paging(tc.size, "")
		if (err != nil) != tc.wantFail || got != tc.want {
			t.Errorf("page_size %d: %d, %v", tc.size, got, err)
		}
	}
	for _, tok := range []string{"x", "!!!", "bm90LWFuLWlk"} { // the last is base64url of "not-an-id"
		if _, _, err := identity.Paging(0, tok); !errs.Is(err, errs.Invalid) {
			t.Errorf("token %q: %v, want invalid", tok, err)
		}
	}
}
