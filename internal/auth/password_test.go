package auth

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"hqconnect/internal/errs"
)

// Every argon2 computation costs tens of milliseconds under -race, so this
// file hashes a handful of times in total.
func TestPassword(t *testing.T) {
	const pw = "Hải quan 2025!"
	encoded, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("hash is a PHC argon2id string with the default parameters", func(t *testing.T) {
		if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Count(encoded, "$") != 5 {
			t.Fatalf("hash = %q", encoded)
		}
		if NeedsRehash(encoded) {
			t.Fatal("NeedsRehash = true for a fresh hash")
		}
	})
	t.Run("right password matches", func(t *testing.T) {
		ok, err := CheckPassword(encoded, pw)
		if err != nil || !ok {
			t.Fatalf("CheckPassword = %v, %v; want true", ok, err)
		}
	})
	t.Run("wrong password does not match", func(t *testing.T) {
		ok, err := CheckPassword(encoded, "Hai quan 2025!")
		if err != nil || ok {
			t.Fatalf("CheckPassword = %v, %v; want false", ok, err)
		}
	})
	t.Run("hashes made with older parameters still verify", func(t *testing.T) {
		salt := []byte("0123456789abcdef")
		key := argon2.IDKey([]byte(pw), salt, 1, 8192, 2, 32)
		old := fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=2$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
		ok, err := CheckPassword(old, pw)
		if err != nil || !ok {
			t.Fatalf("CheckPassword = %v, %v; want true", ok, err)
		}
		if !NeedsRehash(old) {
			t.Fatal("NeedsRehash = false for old parameters")
		}
	})
	t.Run("dummy check runs", func(t *testing.T) {
		DummyCheck(pw)
	})

	salt, hash := b64.EncodeToString([]byte("0123456789abcdef")), b64.EncodeToString(make([]byte, 32))
	for _, tc := range []struct{ name, hash string }{
		{"empty", ""},
		{"not PHC", "plaintext"},
		{"argon2i instead of argon2id", "$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + hash},
		{"old argon2 version", "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + hash},
		{"missing parameter", "$argon2id$v=19$m=19456,t=2$" + salt + "$" + hash},
		{"junk after parameters", "$argon2id$v=19$m=19456,t=2,p=1junk$" + salt + "$" + hash},
		{"4 GiB of memory", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + hash},
		{"1000 passes", "$argon2id$v=19$m=19456,t=1000,p=1$" + salt + "$" + hash},
		{"zero lanes", "$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + hash},
		{"salt not base64", "$argon2id$v=19$m=19456,t=2,p=1$!!!$" + hash},
		{"empty hash", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$"},
		{"extra field", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + hash + "$x"},
	} {
		t.Run("stored hash with "+tc.name+" is an error", func(t *testing.T) {
			ok, err := CheckPassword(tc.hash, pw)
			if err == nil || ok {
				t.Fatalf("CheckPassword = %v, %v; want false and an error", ok, err)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		name, pw string
		wantEN   string // "" means accepted
	}{
		{"ten ASCII characters are enough", "abcdefghij", ""},
		{"ten letters with diacritics count as ten", "mậtkhẩuđẹp", ""},
		{"a long passphrase is fine", "cán bộ hải quan tận tụy", ""},
		{"256 bytes is the maximum", strings.Repeat("ab", 128), ""},
		{"nine characters are too short", "abcdefghi", "too short"},
		{"nine letters with diacritics are too short despite many bytes", "ậẩđẹộơưữằ", "too short"},
		{"empty is too short", "", "too short"},
		{"257 bytes are too long", strings.Repeat("ab", 128) + "c", "too long"},
		{"one repeated character is refused", "aaaaaaaaaaaa", "repeat a single character"},
		{"one repeated letter with diacritics is refused", "ệệệệệệệệệệệ", "repeat a single character"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidatePassword("new_password", tc.pw)
			if tc.wantEN == "" {
				if err != nil {
					t.Fatalf("ValidatePassword = %v, want nil", err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid || e.Field != "new_password" {
				t.Fatalf("ValidatePassword = %#v, want an Invalid error on new_password", err)
			}
			if !strings.Contains(e.EN, tc.wantEN) || !strings.Contains(e.VI, "mật khẩu") {
				t.Fatalf("EN=%q VI=%q, want EN containing %q and a Vietnamese text", e.EN, e.VI, tc.wantEN)
			}
		})
	}
}
