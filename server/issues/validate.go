package issues

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/textcheck"
)

// Pure input rules. No I/O here.

// Lengths, in characters after trimming, as the proto documents them.
const (
	titleMin, titleMax     = 5, 200
	bodyMin, bodyMax       = 10, 10_000
	messageMin, messageMax = 1, 10_000
	infoMin, infoMax       = 5, 10_000
	answerMin, answerMax   = 10, 20_000
	legalRefMax            = 500
	reasonMin, reasonMax   = 5, 1_000
	reopenMin, reopenMax   = 5, 2_000
	closeReasonMax         = 1_000
	requestIDMax           = 64
	declarationDigits      = 12
	defaultPageSize        = 50
	maxPageSize            = 200
	maxAttachments         = 5
	snippetLen             = 140
)

// line is text without line breaks; para allows them (see textcheck).
func line(field, s string, min, max int) (string, error) { return textcheck.Line(field, s, min, max) }

func para(field, s string, min, max int) (string, error) { return textcheck.Para(field, s, min, max) }

// idField checks that s looks like an id this system made.
func idField(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errs.InvalidField(field, "is required", "là bắt buộc")
	}
	if !ids.Valid(s) {
		return "", errs.InvalidField(field, "is not a valid id", "không phải là mã định danh hợp lệ")
	}
	return strings.ToLower(s), nil
}

// declarationNumber checks an optional customs declaration number: 12 digits.
func declarationNumber(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) != declarationDigits || strings.Trim(s, "0123456789") != "" {
		return "", errs.InvalidField(field,
			"must be a customs declaration number of exactly 12 digits, e.g. 105123456789",
			"phải là số tờ khai hải quan gồm đúng 12 chữ số, ví dụ 105123456789")
	}
	return s, nil
}

// requestID checks the optional idempotency key.
func requestID(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > requestIDMax || strings.ContainsFunc(s, unicode.IsControl) {
		return "", errs.InvalidField(field,
			"must be at most 64 characters without control characters",
			"không được dài quá 64 ký tự và không chứa ký tự điều khiển")
	}
	return s, nil
}

// attachmentIDs checks the count of attachment ids; attach.Store.Claim
// checks each one.
func attachmentIDs(field string, in []string) ([]string, error) {
	if len(in) > maxAttachments {
		return nil, errs.InvalidField(field,
			fmt.Sprintf("at most %d attachments (got %d)", maxAttachments, len(in)),
			fmt.Sprintf("tối đa %d tệp đính kèm (đã gửi %d)", maxAttachments, len(in)))
	}
	out := make([]string, len(in))
	for i, id := range in {
		out[i] = strings.ToLower(strings.TrimSpace(id))
	}
	return out, nil
}

// pageSize applies the default and the cap.
func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, errs.InvalidField("page_size",
			fmt.Sprintf("must not be negative (default %d, at most %d)", defaultPageSize, maxPageSize),
			fmt.Sprintf("không được là số âm (mặc định %d, tối đa %d)", defaultPageSize, maxPageSize))
	case n == 0:
		return defaultPageSize, nil
	case n > maxPageSize:
		return maxPageSize, nil
	}
	return int(n), nil
}

// snippet cuts s to n characters for a notification.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
