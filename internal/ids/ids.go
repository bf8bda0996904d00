// Package ids makes the time-ordered text ids used for every row, so that both
// databases and the logs sort them by creation time.
package ids

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/google/uuid"
)

// New returns a UUIDv7 in its canonical text form.
func New() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Valid reports whether s looks like an id New made (any UUID is accepted, so
// ids imported from elsewhere still work).
func Valid(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// Secret returns n random bytes as unpadded base64url text, for tokens and
// codes that must not be guessed.
func Secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
