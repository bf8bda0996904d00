// Package blob stores opaque files (issue attachments) by key. Dir, a local
// directory, is the default; a production deployment may put an object store
// behind the same interface.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotFound is returned by Open for a key that holds nothing.
var ErrNotFound = errors.New("blob: not found")

// ErrInvalidKey is returned for a key that breaks the rules of Store.
var ErrInvalidKey = errors.New("blob: invalid key")

// Store keeps blobs by key. Keys are slash-separated paths of letters,
// digits, '-', '_' and '.', never starting with '/' or containing "..".
// No segment may be empty or start with '.' (Dir keeps its temporary files
// under such names), and a key is at most MaxKeyLen bytes.
type Store interface {
	// Put stores r's content under key, replacing what was there, and
	// returns the bytes written. A failed Put leaves nothing under key.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Open returns key's content; ErrNotFound when there is none.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// MaxKeyLen bounds a key's length in bytes.
const MaxKeyLen = 512

// ValidKey reports whether key follows the rules of Store.
func ValidKey(key string) bool {
	if key == "" || len(key) > MaxKeyLen || strings.Contains(key, "..") {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg[0] == '.' {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
			if !ok {
				return false
			}
		}
	}
	return true
}

func checkKey(key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%w %q", ErrInvalidKey, key)
	}
	return nil
}

// Dir is a Store in a local directory: key "a/b/c" is the file root/a/b/c.
// A Put writes a hidden temporary file beside the target, syncs it and
// renames it into place, so a reader sees the old content or the new, never
// a part, and a crash leaves at most a stray temporary file.
type Dir struct{ root string }

var _ Store = (*Dir)(nil)

// NewDir returns a Store in the directory root, created if missing.
func NewDir(root string) (Store, error) {
	if root == "" {
		return nil, errors.New("blob: empty directory name")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("resolve blob directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	return &Dir{root: abs}, nil
}

func (d *Dir) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	target := d.path(key)
	dir := filepath.Dir(target)
	// A concurrent Delete may remove the (then empty) directory between
	// MkdirAll and CreateTemp: try again a few times.
	var f *os.File
	var err error
	for range 3 {
		if err = os.MkdirAll(dir, 0o750); err != nil {
			continue
		}
		if f, err = os.CreateTemp(dir, ".put-*"); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("create blob %q: %w", key, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		if !done {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err != nil {
		return n, fmt.Errorf("write blob %q: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("sync blob %q: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return n, fmt.Errorf("close blob %q: %w", key, err)
	}
	if err := os.Rename(tmp, target); err != nil {
		return n, fmt.Errorf("rename blob %q: %w", key, err)
	}
	done = true
	return n, nil
}

// Open implements Store. The returned file also has Stat, which callers may
// use to learn the size without reading.
func (d *Dir) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %q: %w", key, err)
	}
	if st, err := f.Stat(); err != nil || st.IsDir() {
		_ = f.Close()
		return nil, ErrNotFound
	}
	return f, nil
}

// Delete implements Store. Directories left empty are removed (up to the
// root) so that finished uploads leave no trace.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p := d.path(key)
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		return nil // a prefix of other keys, not a blob
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %q: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != d.root && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		// Fails (and stops) on the first directory that is not empty.
		if os.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
