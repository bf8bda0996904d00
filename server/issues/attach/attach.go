// Package attach keeps issue attachments: resumable chunked uploads into the
// blob store, claiming finished uploads for an issue or message, and reading
// them back with the visibility of what they are attached to.
package attach

import (
	"context"
	"database/sql"
	"errors"
	"time"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/blob"
	"hqconnect/internal/store"
)

// Limits.
const (
	MaxFileBytes  = 10 << 20
	MaxChunkBytes = 1 << 20
	MaxPerItem    = 5
	// UnclaimedTTL is how long a finished upload waits to be attached.
	UnclaimedTTL = 24 * time.Hour
)

// Store is the attachments' table and bytes.
type Store struct {
	db    *store.DB
	blobs blob.Store
	now   func() time.Time
}

// New returns the attachment store.
func New(db *store.DB, blobs blob.Store, now func() time.Time) *Store {
	return &Store{db: db, blobs: blobs, now: store.Clock(now)}
}

// Upload takes one chunk from the user ownerID.
func (s *Store) Upload(ctx context.Context, ownerID string, req *issuev1.UploadAttachmentRequest) (*issuev1.UploadAttachmentResponse, error) {
	return nil, errors.New("attach: not implemented yet")
}

// Claim attaches the finished, unclaimed uploads ids of ownerID to issueID
// (and messageID, "" for the issue itself) with visibility ("PUBLIC" or
// "INTERNAL") inside tx. Unknown, foreign, unfinished or already attached
// ids, duplicates and more than MaxPerItem are invalid arguments of field.
func (s *Store) Claim(ctx context.Context, tx *sql.Tx, field, ownerID string, ids []string, issueID, messageID, visibility string) ([]*issuev1.Attachment, error) {
	return nil, errors.New("attach: not implemented yet")
}

// ForIssue returns the attachments of issueID grouped by message id ("" for
// the issue's own), without INTERNAL ones unless internal is true.
func (s *Store) ForIssue(ctx context.Context, q store.Queryer, issueID string, internal bool) (map[string][]*issuev1.Attachment, error) {
	return nil, errors.New("attach: not implemented yet")
}

// Open returns attachment id of issueID and its bytes; an INTERNAL one only
// when internal is true (otherwise it does not exist for the caller).
func (s *Store) Open(ctx context.Context, issueID, id string, internal bool) (*issuev1.Attachment, []byte, error) {
	return nil, nil, errors.New("attach: not implemented yet")
}
