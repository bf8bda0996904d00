package taxcode

import (
	"strings"
	"testing"

	"hqconnect/internal/errs"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name, code string
		wantMsg    string // substring of the English message; empty = valid
	}{
		{"viettel", "0100109106", ""},
		{"vinamilk", "0300588569", ""},
		{"dependent unit", "0100109106-001", ""},
		{"dependent unit 999", "0300588569-999", ""},
		{"empty", "", "required"},
		{"nine digits", "010010910", "10 digits"},
		{"eleven digits", "01001091061", "10 digits"},
		{"letters", "01001091OA", "10 digits"},
		{"wrong check digit", "0100109107", "check digit"},
		{"suffix two digits", "0100109106-01", "exactly 3 digits"},
		{"suffix letters", "0100109106-0a1", "exactly 3 digits"},
		{"suffix zero", "0100109106-000", "starts at 001"},
		{"trailing dash", "0100109106-", "exactly 3 digits"},
		{"spaces inside", "0100 109106", "10 digits"},
		{"wrong check digit on dependent", "0300588568-001", "check digit"},
		{"unissuable prefix", "0000000100", "check digit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.code)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Validate(%q) = %v, want nil", tt.code, err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid || e.Field != "tax_code" {
				t.Fatalf("Validate(%q) = %v, want an Invalid error on tax_code", tt.code, err)
			}
			if !strings.Contains(e.EN, tt.wantMsg) || e.VI == "" {
				t.Fatalf("Validate(%q) message %q lacks %q (vi %q)", tt.code, e.EN, tt.wantMsg, e.VI)
			}
		})
	}
}

func TestCheckDigit(t *testing.T) {
	// 0000000100: 3*1... sum = 5*1 (index 7 weight 5) -> 10-5 = 5, so 0000000105 is valid.
	if d := CheckDigit("000000010"); d != 5 {
		t.Fatalf("CheckDigit(000000010) = %d, want 5", d)
	}
	// A remainder of 0 has no check digit: 000000000 sums to 0.
	if d := CheckDigit("000000000"); d != -1 {
		t.Fatalf("CheckDigit(000000000) = %d, want -1", d)
	}
	if d := CheckDigit("12345678"); d != -1 {
		t.Fatalf("short input gave %d", d)
	}
}
