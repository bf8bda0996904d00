package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// writeFile writes data under t's temp dir and returns the path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newKeyPEM(t testing.TB) []byte {
	t.Helper()
	k, err := GenerateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKeyPEM(t *testing.T, curve elliptic.Curve) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestLoadKeyring(t *testing.T) {
	t.Run("kid is the first 16 hex chars of the SHA-256 of the public key", func(t *testing.T) {
		pemKey := newKeyPEM(t)
		kr, err := LoadKeyring(writeFile(t, "k.pem", pemKey))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(pemKey)
		priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(der)
		want := hex.EncodeToString(sum[:])[:16]
		if got := kr.KIDs(); !slices.Equal(got, []string{want}) {
			t.Fatalf("KIDs() = %v, want [%s]", got, want)
		}
	})

	t.Run("several keys in several files all load and the last one signs", func(t *testing.T) {
		a, b, c := newKeyPEM(t), ecKeyPEM(t, elliptic.P256()), newKeyPEM(t)
		kr, err := LoadKeyring(writeFile(t, "ab.pem", slices.Concat(a, b)), writeFile(t, "c.pem", c))
		if err != nil {
			t.Fatal(err)
		}
		kids := kr.KIDs()
		if len(kids) != 3 {
			t.Fatalf("KIDs() = %v, want 3 keys", kids)
		}
		if kr.SigningKID() != kids[2] {
			t.Fatalf("SigningKID() = %s, want the last key %s", kr.SigningKID(), kids[2])
		}
	})

	refused := []struct {
		name string
		data []byte
	}{
		{"no PEM block", []byte("not a key\n")},
		{"ECDSA P-384", ecKeyPEM(t, elliptic.P384())},
		{"RSA", func() []byte {
			k, err := rsa.GenerateKey(rand.Reader, 1024)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKCS8PrivateKey(k)
			return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}()},
		{"public key block", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})},
		{"corrupt PKCS#8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}})},
	}
	for _, tc := range refused {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			if _, err := LoadKeyring(writeFile(t, "k.pem", tc.data)); err == nil {
				t.Fatal("LoadKeyring succeeded, want an error")
			}
		})
	}

	t.Run("refuses a missing file", func(t *testing.T) {
		if _, err := LoadKeyring(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
			t.Fatal("LoadKeyring succeeded, want an error")
		}
	})
	t.Run("refuses no paths", func(t *testing.T) {
		if _, err := LoadKeyring(); err == nil {
			t.Fatal("LoadKeyring succeeded, want an error")
		}
	})
}

func TestLoadOrCreateDevKeyring(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "keys")
	path := filepath.Join(dir, "jwt.pem")

	kr, created, err := LoadOrCreateDevKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	if !created || len(kr.KIDs()) != 1 {
		t.Fatalf("first call: created=%v KIDs=%v, want a new single key", created, kr.KIDs())
	}
	for p, want := range map[string]os.FileMode{path: 0o600, dir: 0o700} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", p, got, want)
		}
	}
	before, _ := os.ReadFile(path)

	kr2, created, err := LoadOrCreateDevKeyring(path)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if created || !slices.Equal(kr.KIDs(), kr2.KIDs()) || !bytes.Equal(before, after) {
		t.Fatalf("second call: created=%v KIDs=%v→%v, want the same key loaded", created, kr.KIDs(), kr2.KIDs())
	}
}
