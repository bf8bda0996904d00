package identity

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"

	"hqconnect/internal/errs"
)

// Invitation codes are read aloud and typed on phones, so they use Crockford's
// base32 (no I, L, O, U): 16 characters = 80 random bits, shown in groups of
// four ("7F3K-Q9ZD-M2XA-HC4R"). Only their SHA-256 is stored.

const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var codeEncoding = base32.NewEncoding(codeAlphabet).WithPadding(base32.NoPadding)

// codeLen is the length of a code without its dashes.
const codeLen = 16

// newInvitationCode returns a fresh code as shown to people and the hash to
// store.
func newInvitationCode() (display, hash string) {
	b := make([]byte, codeLen*5/8) // 10 bytes = 80 bits = 16 base32 characters
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	raw := codeEncoding.EncodeToString(b)
	return raw[0:4] + "-" + raw[4:8] + "-" + raw[8:12] + "-" + raw[12:16], hashCode(raw)
}

// normalizeCode undoes what people do to a code when they copy it: case,
// spaces and dashes, and the letters Crockford's alphabet reads as digits
// (O → 0, I and L → 1).
func normalizeCode(s string) (string, error) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		b.WriteRune(r)
	}
	c := b.String()
	if c == "" {
		return "", errs.InvalidField("code", "is required", "là bắt buộc")
	}
	if len(c) != codeLen || strings.Trim(c, codeAlphabet) != "" {
		return "", errs.InvalidField("code",
			"an invitation code is 16 letters and digits, e.g. 7F3K-Q9ZD-M2XA-HC4R",
			"mã mời gồm 16 chữ cái và chữ số, ví dụ 7F3K-Q9ZD-M2XA-HC4R")
	}
	return c, nil
}

func hashCode(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}
