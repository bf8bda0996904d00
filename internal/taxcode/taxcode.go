// Package taxcode validates Vietnamese enterprise tax codes (mã số thuế).
//
// A tax code is 10 digits whose last is a check digit over the first nine,
// or those 10 digits + "-" + 3 digits for a dependent unit (branch,
// representative office) of the enterprise.
package taxcode

import (
	"strings"

	"hqconnect/internal/errs"
)

var weights = [9]int{31, 29, 23, 19, 17, 13, 7, 5, 3}

// CheckDigit returns the check digit for the first nine digits, or -1 when no
// valid tax code has those nine digits.
func CheckDigit(nine string) int {
	if len(nine) != 9 {
		return -1
	}
	sum := 0
	for i := range 9 {
		c := nine[i]
		if c < '0' || c > '9' {
			return -1
		}
		sum += int(c-'0') * weights[i]
	}
	// A remainder of 0 would need the digit "10": such codes are never issued.
	d := 10 - sum%11
	if d == 10 {
		return -1
	}
	return d
}

// Normalize trims spaces; tax codes are otherwise taken exactly as written.
func Normalize(s string) string { return strings.TrimSpace(s) }

// Validate returns nil for a valid tax code, or an Invalid error for the
// "tax_code" field that says what is wrong.
func Validate(s string) error {
	bad := func(en, vi string) error { return errs.InvalidField("tax_code", en, vi) }
	if s == "" {
		return bad("tax code is required", "mã số thuế là bắt buộc")
	}
	main, suffix, dependent := strings.Cut(s, "-")
	if !allDigits(main) || len(main) != 10 {
		return bad("a tax code is 10 digits, or 10 digits + \"-\" + 3 digits for a dependent unit (e.g. 0100109106 or 0100109106-001)",
			"mã số thuế gồm 10 chữ số, hoặc 10 chữ số + \"-\" + 3 chữ số đối với đơn vị phụ thuộc (ví dụ 0100109106 hoặc 0100109106-001)")
	}
	if dependent && (len(suffix) != 3 || !allDigits(suffix)) {
		return bad("the dependent-unit suffix after \"-\" must be exactly 3 digits (e.g. -001)",
			"phần đơn vị phụ thuộc sau dấu \"-\" phải gồm đúng 3 chữ số (ví dụ -001)")
	}
	if dependent && suffix == "000" {
		return bad("the dependent-unit suffix starts at 001", "số thứ tự đơn vị phụ thuộc bắt đầu từ 001")
	}
	if d := CheckDigit(main[:9]); d < 0 || int(main[9]-'0') != d {
		return bad("the check digit (10th digit) does not match the first nine digits: please re-check the tax code",
			"chữ số kiểm tra (chữ số thứ 10) không khớp với 9 chữ số đầu: vui lòng kiểm tra lại mã số thuế")
	}
	return nil
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
