// Package textcheck validates the free text people type into requests
// (names, titles, bodies, reasons): trimmed, valid UTF-8, no control
// characters, a length in characters. Every capability uses it, so a given
// mistake gets the same message everywhere.
package textcheck

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"hqconnect/internal/errs"
)

// Line trims s and checks it is one line of min to max characters (runes);
// min 0 makes it optional. Control characters, line breaks included, are
// refused. Errors name field.
func Line(field, s string, min, max int) (string, error) {
	return check(field, s, min, max, unicode.IsControl)
}

// Para is Line for multi-line text: line breaks and tabs are allowed.
func Para(field, s string, min, max int) (string, error) {
	return check(field, s, min, max, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	})
}

func check(field, s string, min, max int, refused func(rune) bool) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, refused) {
		return "", errs.InvalidField(field,
			"must be plain text without control characters",
			"phải là văn bản thông thường, không chứa ký tự điều khiển")
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && min > 0:
		return "", errs.InvalidField(field, "is required", "là bắt buộc")
	case n < min:
		return "", errs.InvalidField(field,
			fmt.Sprintf("must be at least %d characters (it has %d)", min, n),
			fmt.Sprintf("phải có ít nhất %d ký tự (hiện có %d)", min, n))
	case n > max:
		return "", errs.InvalidField(field,
			fmt.Sprintf("must be at most %d characters (it has %d)", max, n),
			fmt.Sprintf("không được dài quá %d ký tự (hiện có %d)", max, n))
	}
	return s, nil
}
