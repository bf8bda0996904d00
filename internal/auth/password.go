package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"hqconnect/internal/errs"
)

// argon2id parameters for new hashes: OWASP's recommended minimum
// (19 MiB, 2 passes, 1 lane). Stored hashes carry their own parameters, so
// these can be raised without breaking existing passwords.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on parameters read from stored hashes, so that a corrupt row cannot
// make a check take gigabytes or minutes.
const (
	maxArgonMemory = 1024 * 1024 // 1 GiB in KiB
	maxArgonTime   = 16
)

var b64 = base64.RawStdEncoding

// HashPassword returns pw hashed with argon2id as a PHC string:
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>".
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

func parseArgonHash(encoded string) (*argonHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errors.New("parse password hash: not an argon2id PHC string")
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return nil, fmt.Errorf("parse password hash: unsupported argon2 version %q", parts[2])
	}
	h := &argonHash{}
	var m, t, p uint64
	// Re-printing must give the same text: this refuses trailing junk and
	// odd spellings Sscanf would let through.
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil ||
		fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) != parts[3] {
		return nil, fmt.Errorf("parse password hash: bad parameters %q", parts[3])
	}
	if m < 8 || m > maxArgonMemory || t < 1 || t > maxArgonTime || p < 1 || p > 255 || m < 8*p {
		return nil, fmt.Errorf("parse password hash: parameters out of range %q", parts[3])
	}
	h.memory, h.time, h.threads = uint32(m), uint32(t), uint8(p)
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errors.New("parse password hash: bad salt")
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 128 {
		return nil, errors.New("parse password hash: bad hash")
	}
	return h, nil
}

// CheckPassword reports whether pw matches the encoded hash. An error means
// the stored hash itself is unusable.
func CheckPassword(encoded, pw string) (bool, error) {
	h, err := parseArgonHash(encoded)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// HashPassword uses now, so the caller can store a fresh hash after a
// successful sign-in.
func NeedsRehash(encoded string) bool {
	h, err := parseArgonHash(encoded)
	return err != nil || h.memory != argonMemory || h.time != argonTime ||
		h.threads != argonThreads || len(h.key) != argonKeyLen || len(h.salt) != argonSaltLen
}

// dummySalt and dummyKey stand in for a user's hash in DummyCheck.
var (
	dummySalt = make([]byte, argonSaltLen)
	dummyKey  = make([]byte, argonKeyLen)
)

// DummyCheck spends as long as CheckPassword on a current hash, so that a
// sign-in with an unknown identifier cannot be told apart by its timing.
func DummyCheck(pw string) {
	key := argon2.IDKey([]byte(pw), dummySalt, argonTime, argonMemory, argonThreads, argonKeyLen)
	subtle.ConstantTimeCompare(key, dummyKey)
}

// Password policy limits.
const (
	MinPasswordRunes = 10
	MaxPasswordBytes = 256
)

// ValidatePassword checks pw against the password policy and says, in English
// and Vietnamese, what to change. field names the request field.
func ValidatePassword(field, pw string) error {
	// Bytes first: counting runes of a huge input is wasted work.
	if len(pw) > MaxPasswordBytes {
		return errs.InvalidField(field,
			fmt.Sprintf("password is too long: use at most %d bytes (letters with diacritics take 2–3 bytes each)", MaxPasswordBytes),
			fmt.Sprintf("mật khẩu quá dài: tối đa %d byte (mỗi chữ có dấu chiếm 2–3 byte)", MaxPasswordBytes))
	}
	if utf8.RuneCountInString(pw) < MinPasswordRunes {
		return errs.InvalidField(field,
			fmt.Sprintf("password is too short: use at least %d characters", MinPasswordRunes),
			fmt.Sprintf("mật khẩu quá ngắn: cần ít nhất %d ký tự", MinPasswordRunes))
	}
	first, _ := utf8.DecodeRuneInString(pw)
	if strings.Trim(pw, string(first)) == "" {
		return errs.InvalidField(field,
			"password must not repeat a single character: mix different characters",
			"mật khẩu không được chỉ lặp lại một ký tự: hãy dùng nhiều ký tự khác nhau")
	}
	return nil
}
