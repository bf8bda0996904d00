// Package blob stores opaque files (issue attachments) by key. Dir, a local
// directory, is the default; a production deployment may put an object store
// behind the same interface.
package blob

import (
	"context"
	"errors"
	"io"
)

// ErrNotFound is returned by Open for a key that holds nothing.
var ErrNotFound = errors.New("blob: not found")

// Store keeps blobs by key. Keys are slash-separated paths of letters,
// digits, '-', '_' and '.', never starting with '/' or containing "..".
type Store interface {
	// Put stores r's content under key, replacing what was there, and
	// returns the bytes written. A failed Put leaves nothing under key.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Open returns key's content; ErrNotFound when there is none.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// NewDir returns a Store in the directory root, created if missing.
func NewDir(root string) (Store, error) { return nil, errors.New("blob: NewDir not implemented yet") }
