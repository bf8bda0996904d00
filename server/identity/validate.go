package identity

import (
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/textcheck"
)

// Pure input rules: normalising identifiers, names and paging. No I/O here.

const maxEmailLen = 254

// normalizeEmail trims and lower-cases an email and checks that it looks like
// one ("name@example.vn").
func normalizeEmail(field, s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	bad := errs.InvalidField(field,
		"must be an email address such as name@example.vn",
		"phải là địa chỉ email, ví dụ ten@congty.vn")
	if e == "" || len(e) > maxEmailLen || strings.ContainsAny(e, " \t\r\n<>\"(),;:") {
		return "", bad
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || strings.Contains(domain, "@") || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", bad
	}
	if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
		return "", bad
	}
	return e, nil
}

// normalizePhone turns a Vietnamese phone number into E.164: "0912345678",
// "84912345678", "+84 912 345 678" and "+84 0912 345 678" all become
// "+84912345678". The national number (without its leading 0) has 9 or 10
// digits. Spaces, dots, dashes and parentheses are ignored.
func normalizePhone(field, s string) (string, error) {
	bad := errs.InvalidField(field,
		"must be a Vietnamese phone number such as 0912345678 or +84912345678",
		"phải là số điện thoại Việt Nam, ví dụ 0912345678 hoặc +84912345678")
	n, ok := phoneE164(s)
	if !ok {
		return "", bad
	}
	return n, nil
}

func phoneE164(s string) (string, bool) {
	s = strings.TrimSpace(s)
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '.' || r == '-' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	d := b.String()
	var national string
	switch {
	case plus || strings.HasPrefix(d, "84"):
		if !strings.HasPrefix(d, "84") {
			return "", false
		}
		national = d[2:]
		// "+84 0912…" is a common way to write it: drop the trunk 0.
		national = strings.TrimPrefix(national, "0")
	case strings.HasPrefix(d, "0"):
		national = d[1:]
	default:
		return "", false
	}
	if len(national) < 9 || len(national) > 10 || strings.HasPrefix(national, "0") {
		return "", false
	}
	return "+84" + national, true
}

// contact validates an email/phone pair of which at least one is required.
func contact(emailField, email, phoneField, phone string) (string, string, error) {
	var e, p string
	var err error
	if strings.TrimSpace(email) != "" {
		if e, err = normalizeEmail(emailField, email); err != nil {
			return "", "", err
		}
	}
	if strings.TrimSpace(phone) != "" {
		if p, err = normalizePhone(phoneField, phone); err != nil {
			return "", "", err
		}
	}
	if e == "" && p == "" {
		return "", "", errs.InvalidField(emailField,
			"an email or a phone number is required (both are allowed)",
			"cần có email hoặc số điện thoại (có thể nhập cả hai)")
	}
	return e, p, nil
}

// line and para check free text (see textcheck).
func line(field, s string, min, max int) (string, error) { return textcheck.Line(field, s, min, max) }

func para(field, s string, min, max int) (string, error) { return textcheck.Para(field, s, min, max) }

// fullName checks a person's name: 2 to 100 characters.
func fullName(field, s string) (string, error) { return line(field, s, 2, 100) }

// truncateRunes cuts s to at most n characters, dropping control characters.
func truncateRunes(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "")
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// idField checks that s is an id this service made (or could have made).
func idField(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errs.InvalidField(field, "is required", "là bắt buộc")
	}
	if !ids.Valid(s) {
		return "", errs.InvalidField(field, "is not a valid id", "không phải là mã định danh hợp lệ")
	}
	return s, nil
}

// Paging (AIP-158): page_size default 50, at most 200; page_token is the
// base64url of the last id of the previous page, opaque to clients.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

type page struct {
	size  int
	after string // the last id of the previous page, or ""
}

func paging(size int32, token string) (page, error) {
	if size < 0 {
		return page{}, errs.InvalidField("page_size",
			fmt.Sprintf("must not be negative (default %d, at most %d)", defaultPageSize, maxPageSize),
			fmt.Sprintf("không được là số âm (mặc định %d, tối đa %d)", defaultPageSize, maxPageSize))
	}
	p := page{size: int(size)}
	if p.size == 0 {
		p.size = defaultPageSize
	}
	if p.size > maxPageSize {
		p.size = maxPageSize
	}
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || !ids.Valid(string(b)) {
			return page{}, errs.InvalidField("page_token",
				"page_token is not valid; start again without it",
				"page_token không hợp lệ; hãy bắt đầu lại mà không gửi page_token")
		}
		p.after = string(b)
	}
	return p, nil
}

// next returns the token for the page after one whose rows were fetched with
// LIMIT size+1: empty when there are no more.
func (p page) next(n int, lastID func(i int) string) string {
	if n <= p.size {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(lastID(p.size - 1)))
}
