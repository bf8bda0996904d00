package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one key of a Keyring.
type signingKey struct {
	kid    string
	method jwt.SigningMethod
	priv   crypto.Signer
	pub    crypto.PublicKey
}

// Keyring holds the keys access tokens are signed and verified with. Every key
// verifies; the last one loaded signs, so a key is rotated by appending a new
// one and restarting, and tokens signed with the old key stay valid until they
// expire.
type Keyring struct {
	byKID   map[string]*signingKey
	kids    []string
	signer  *signingKey
	methods []string
}

// LoadKeyring reads PEM private keys from paths. A file may hold several keys;
// "PRIVATE KEY" (PKCS#8) blocks with an Ed25519 or ECDSA P-256 key and
// "EC PRIVATE KEY" (SEC 1) blocks with a P-256 key are accepted.
func LoadKeyring(paths ...string) (*Keyring, error) {
	if len(paths) == 0 {
		return nil, errors.New("load keyring: no key file given")
	}
	kr := &Keyring{byKID: make(map[string]*signingKey)}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read key file: %w", err)
		}
		n := 0
		for rest := data; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				break
			}
			k, err := parseKeyBlock(block)
			if err != nil {
				return nil, fmt.Errorf("parse key %d in %s: %w", n+1, path, err)
			}
			kr.add(k)
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("load keyring: %s holds no PEM private key", path)
		}
	}
	return kr, nil
}

func (kr *Keyring) add(k *signingKey) {
	if _, dup := kr.byKID[k.kid]; !dup {
		kr.byKID[k.kid] = k
		kr.kids = append(kr.kids, k.kid)
		if alg := k.method.Alg(); !slices.Contains(kr.methods, alg) {
			kr.methods = append(kr.methods, alg)
		}
	}
	// The last key loaded signs, even when it repeats an earlier one.
	kr.signer = kr.byKID[k.kid]
}

func parseKeyBlock(b *pem.Block) (*signingKey, error) {
	var key any
	var err error
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q: want \"PRIVATE KEY\" (PKCS#8)", b.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return newSigningKey(jwt.SigningMethodEdDSA, k)
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("unsupported ECDSA curve %s: want P-256 (ES256)", k.Curve.Params().Name)
		}
		return newSigningKey(jwt.SigningMethodES256, k)
	default:
		return nil, fmt.Errorf("unsupported key type %T: want Ed25519 or ECDSA P-256", key)
	}
}

func newSigningKey(m jwt.SigningMethod, priv crypto.Signer) (*signingKey, error) {
	pub := priv.Public()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &signingKey{kid: hex.EncodeToString(sum[:])[:16], method: m, priv: priv, pub: pub}, nil
}

// LoadOrCreateDevKeyring loads the keyring at path, first generating an
// Ed25519 key there if the file does not exist (the development default).
func LoadOrCreateDevKeyring(path string) (kr *Keyring, created bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		pemKey, err := GenerateKeyPEM()
		if err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, fmt.Errorf("create key directory: %w", err)
		}
		// O_EXCL: when two instances start at once, one writes and both load
		// the same key.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		switch {
		case err == nil:
			_, werr := f.Write(pemKey)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				_ = os.Remove(path)
				return nil, false, fmt.Errorf("write key file: %w", werr)
			}
			created = true
		case !errors.Is(err, fs.ErrExist):
			return nil, false, fmt.Errorf("create key file: %w", err)
		}
	} else if err != nil {
		return nil, false, fmt.Errorf("stat key file: %w", err)
	}
	kr, err = LoadKeyring(path)
	if err != nil {
		return nil, false, err
	}
	return kr, created, nil
}

// GenerateKeyPEM returns a new Ed25519 private key as a PKCS#8 PEM block.
func GenerateKeyPEM() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ed25519 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// KIDs returns the key ids in load order; the last one signs.
func (k *Keyring) KIDs() []string { return append([]string(nil), k.kids...) }

// SigningKID returns the id of the key new tokens are signed with.
func (k *Keyring) SigningKID() string { return k.signer.kid }
