// Package attach keeps issue attachments: resumable chunked uploads into the
// blob store, claiming finished uploads for an issue or message, and reading
// them back with the visibility of what they are attached to.
//
// An upload is a row of issue_attachments owned by its uploader. Each chunk
// is written as its own blob, "uploads/<id>/<offset>", before the row's
// received_bytes moves past it (a conditional UPDATE, so two copies of one
// chunk advance it once). The chunk that completes the file triggers the
// assembly: the chunks are read back in order, the whole file is checked
// against the allow-list, hashed and written as "attachments/<id>", the row
// is marked complete and the chunks are deleted. A request that finds every
// byte received but the row not complete (its assembler died) assembles
// again, so an upload never stays stuck.
package attach

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/blob"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// Limits.
const (
	MaxFileBytes  = 10 << 20
	MaxChunkBytes = 1 << 20
	MaxPerItem    = 5
	// UnclaimedTTL is how long a finished upload waits to be attached.
	UnclaimedTTL = 24 * time.Hour
	// MaxOpenUploads bounds a user's unclaimed uploads (finished or not), so
	// nobody fills the disk with files never attached.
	MaxOpenUploads = 20
)

// Visibilities of an attachment (those of its message).
const (
	Public   = "PUBLIC"
	Internal = "INTERNAL"
)

// Store is the attachments' table and bytes.
type Store struct {
	db    *store.DB
	blobs blob.Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns the attachment store.
func New(db *store.DB, blobs blob.Store, now func() time.Time) *Store {
	return &Store{db: db, blobs: blobs, now: store.Clock(now), log: slog.New(slog.DiscardHandler)}
}

// WithLogger sets where s logs what it cannot report to a caller (chunks it
// failed to delete); it returns s.
func (s *Store) WithLogger(l *slog.Logger) *Store {
	if l != nil {
		s.log = l
	}
	return s
}

func chunkKey(id string, offset int64) string {
	return "uploads/" + id + "/" + strconv.FormatInt(offset, 10)
}
func finalKey(id string) string { return "attachments/" + id }

var errUploadNotFound = &errs.Error{Code: errs.NotFound, Field: "upload_id",
	EN: "no upload of yours has this id; start a new upload without upload_id",
	VI: "bạn không có lượt tải lên nào với mã này; hãy bắt đầu tải lên mới (không gửi upload_id)"}

var errUploadExpired = &errs.Error{Code: errs.FailedPrecondition, Field: "upload_id",
	EN: "this upload was not finished within 24 hours and has expired; start a new upload",
	VI: "lượt tải lên này không hoàn tất trong 24 giờ và đã hết hạn; hãy tải lên lại từ đầu"}

// row is an upload or attachment as stored.
type row struct {
	ID, OwnerID, FileName, ContentType string
	Total, Received                    int64
	SHA256, BlobKey                    string
	Complete                           bool
	IssueID, MessageID                 string
	Visibility                         string
	CreateTime                         time.Time
}

const rowCols = `id, owner_id, file_name, content_type, total_bytes, received_bytes, sha256, blob_key, complete,
	issue_id, message_id, visibility, create_time`

func scanRow(r interface{ Scan(...any) error }) (*row, error) {
	var a row
	var issue, msg sql.NullString
	if err := r.Scan(&a.ID, &a.OwnerID, &a.FileName, &a.ContentType, &a.Total, &a.Received, &a.SHA256, &a.BlobKey,
		&a.Complete, &issue, &msg, &a.Visibility, &a.CreateTime); err != nil {
		return nil, err
	}
	a.IssueID, a.MessageID, a.CreateTime = issue.String, msg.String, a.CreateTime.UTC()
	return &a, nil
}

func (a *row) proto() *issuev1.Attachment {
	return &issuev1.Attachment{Id: a.ID, FileName: a.FileName, ContentType: a.ContentType, SizeBytes: a.Total,
		Sha256: a.SHA256, CreateTime: timestamppb.New(a.CreateTime)}
}

// Upload takes one chunk from the user ownerID.
func (s *Store) Upload(ctx context.Context, ownerID string, req *issuev1.UploadAttachmentRequest) (*issuev1.UploadAttachmentResponse, error) {
	if len(req.Data) > MaxChunkBytes {
		return nil, errs.InvalidField("data",
			fmt.Sprintf("a chunk is at most %d bytes (1 MiB); split the file into smaller chunks", MaxChunkBytes),
			fmt.Sprintf("mỗi phần tối đa %d byte (1 MiB); hãy chia tệp thành các phần nhỏ hơn", MaxChunkBytes))
	}
	if req.Offset < 0 {
		return nil, errs.InvalidField("offset", "must not be negative", "không được là số âm")
	}
	var a *row
	var err error
	if strings.TrimSpace(req.UploadId) == "" {
		if a, err = s.start(ctx, ownerID, req); err != nil {
			return nil, err
		}
	} else if a, err = s.load(ctx, ownerID, strings.TrimSpace(req.UploadId)); err != nil {
		return nil, err
	}
	return s.chunk(ctx, a, req)
}

// start checks a first chunk's description of the file and creates the
// upload.
func (s *Store) start(ctx context.Context, ownerID string, req *issuev1.UploadAttachmentRequest) (*row, error) {
	name, ft, err := checkFileName(req.FileName)
	if err != nil {
		return nil, err
	}
	if err := checkDeclared(ft, req.ContentType); err != nil {
		return nil, err
	}
	if req.TotalBytes < 1 || req.TotalBytes > MaxFileBytes {
		return nil, errs.InvalidField("total_bytes",
			fmt.Sprintf("must be 1 to %d bytes: a file is at most 10 MiB", MaxFileBytes),
			fmt.Sprintf("phải từ 1 đến %d byte: mỗi tệp tối đa 10 MiB", MaxFileBytes))
	}
	if req.Offset != 0 {
		return nil, errs.InvalidField("offset", "must be 0 on the first chunk", "phải bằng 0 ở phần đầu tiên")
	}
	if int64(len(req.Data)) > req.TotalBytes {
		return nil, errs.InvalidField("data",
			fmt.Sprintf("has %d bytes, more than total_bytes %d", len(req.Data), req.TotalBytes),
			fmt.Sprintf("có %d byte, nhiều hơn total_bytes %d", len(req.Data), req.TotalBytes))
	}
	now := s.now()
	var open int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM issue_attachments
		WHERE owner_id = $1 AND issue_id IS NULL AND create_time > $2`, ownerID, now.Add(-UnclaimedTTL)).Scan(&open); err != nil {
		return nil, fmt.Errorf("count open uploads: %w", err)
	}
	if open >= MaxOpenUploads {
		return nil, errs.New(errs.ResourceExhausted,
			fmt.Sprintf("you have %d uploads not attached to an issue yet; attach them or wait a day before uploading more", open),
			fmt.Sprintf("bạn có %d tệp đã tải lên nhưng chưa đính kèm vào vướng mắc nào; hãy đính kèm hoặc đợi một ngày rồi tải tiếp", open))
	}
	a := &row{ID: ids.New(), OwnerID: ownerID, FileName: name, ContentType: ft.stored, Total: req.TotalBytes,
		Visibility: Public, CreateTime: now}
	a.BlobKey = finalKey(a.ID)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO issue_attachments
		(id, owner_id, file_name, content_type, total_bytes, received_bytes, blob_key, complete, visibility, create_time)
		VALUES ($1, $2, $3, $4, $5, 0, $6, FALSE, $7, $8)`,
		a.ID, a.OwnerID, a.FileName, a.ContentType, a.Total, a.BlobKey, a.Visibility, now); err != nil {
		return nil, fmt.Errorf("insert upload: %w", err)
	}
	return a, nil
}

// load reads the caller's upload; anyone else's is not found.
func (s *Store) load(ctx context.Context, ownerID, id string) (*row, error) {
	if !ids.Valid(id) {
		return nil, errUploadNotFound
	}
	a, err := scanRow(s.db.QueryRowContext(ctx, `SELECT `+rowCols+` FROM issue_attachments WHERE id = $1 AND owner_id = $2`, id, ownerID))
	if store.IsNoRows(err) {
		return nil, errUploadNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("select upload: %w", err)
	}
	return a, nil
}

// chunk stores req's data at req.Offset of upload a, or acknowledges a
// chunk received before.
func (s *Store) chunk(ctx context.Context, a *row, req *issuev1.UploadAttachmentRequest) (*issuev1.UploadAttachmentResponse, error) {
	n := int64(len(req.Data))
	if req.Offset+n > a.Total {
		return nil, errs.InvalidField("data",
			fmt.Sprintf("goes past the end of the file: offset %d + %d bytes is more than total_bytes %d", req.Offset, n, a.Total),
			fmt.Sprintf("vượt quá cuối tệp: vị trí %d + %d byte lớn hơn total_bytes %d", req.Offset, n, a.Total))
	}
	switch {
	case a.Complete || req.Offset < a.Received:
		// A chunk sent again (its response was lost) or a probe for where
		// to resume: nothing is rewritten.
		return s.ack(ctx, a)
	case req.Offset > a.Received:
		return nil, errs.InvalidField("offset",
			fmt.Sprintf("must be %d, the bytes received so far: resume from there", a.Received),
			fmt.Sprintf("phải bằng %d, số byte đã nhận: hãy tải tiếp từ vị trí đó", a.Received))
	}
	if !a.CreateTime.After(s.now().Add(-UnclaimedTTL)) {
		return nil, errUploadExpired
	}
	if n > 0 {
		if _, err := s.blobs.Put(ctx, chunkKey(a.ID, req.Offset), bytes.NewReader(req.Data)); err != nil {
			return nil, fmt.Errorf("store chunk: %w", err)
		}
		res, err := s.db.ExecContext(ctx, `UPDATE issue_attachments SET received_bytes = $3
			WHERE id = $1 AND received_bytes = $2 AND NOT complete`, a.ID, req.Offset, req.Offset+n)
		if err != nil {
			return nil, fmt.Errorf("advance upload: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			// A copy of this chunk got there first: answer as it did.
			if a, err = s.load(ctx, a.OwnerID, a.ID); err != nil {
				return nil, err
			}
			if a.Complete {
				// Our copy may have landed after the assembly deleted the
				// chunks; nothing needs it now.
				if err := s.blobs.Delete(ctx, chunkKey(a.ID, req.Offset)); err != nil {
					s.log.Warn("attach: delete late chunk", "upload_id", a.ID, "offset", req.Offset, "err", err)
				}
			}
			return s.ack(ctx, a)
		}
		a.Received += n
	}
	return s.ack(ctx, a)
}

// ack answers with where the upload stands, assembling it when every byte
// is there.
func (s *Store) ack(ctx context.Context, a *row) (*issuev1.UploadAttachmentResponse, error) {
	if a.Received == a.Total && !a.Complete {
		if err := s.assemble(ctx, a); err != nil {
			return nil, err
		}
	}
	res := &issuev1.UploadAttachmentResponse{UploadId: a.ID, ReceivedBytes: a.Received}
	if a.Complete {
		res.Attachment = a.proto()
	}
	return res, nil
}

// assemble joins the chunks of a fully received upload, checks and hashes
// the file, stores it and marks the upload complete. A file that is not what
// its name says is discarded.
func (s *Store) assemble(ctx context.Context, a *row) error {
	data := make([]byte, 0, a.Total)
	var offsets []int64
	for off := int64(0); off < a.Total; {
		r, err := s.blobs.Open(ctx, chunkKey(a.ID, off))
		if errors.Is(err, blob.ErrNotFound) {
			// Another request assembled it meanwhile (and deleted the chunks)?
			if b, lerr := s.load(ctx, a.OwnerID, a.ID); lerr == nil && b.Complete {
				*a = *b
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("open chunk %d of upload %s: %w", off, a.ID, err)
		}
		before := len(data)
		buf := bytesWriter{&data}
		_, err = io.Copy(buf, io.LimitReader(r, a.Total-off+1))
		_ = r.Close()
		if err != nil {
			return fmt.Errorf("read chunk %d of upload %s: %w", off, a.ID, err)
		}
		if len(data) == before || int64(len(data)) > a.Total {
			return fmt.Errorf("upload %s: chunk %d is empty or too long", a.ID, off)
		}
		offsets = append(offsets, off)
		off = int64(len(data))
	}
	ft, ok := typeOf(a.FileName)
	if !ok {
		return fmt.Errorf("upload %s: file name %q lost its type", a.ID, a.FileName)
	}
	if err := checkContent(ft, a.FileName, data); err != nil {
		if derr := s.discard(ctx, a.ID); derr != nil {
			s.log.Warn("attach: discard refused upload", "upload_id", a.ID, "err", derr)
		}
		return err
	}
	sum := sha256.Sum256(data)
	if _, err := s.blobs.Put(ctx, a.BlobKey, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("store attachment: %w", err)
	}
	a.SHA256 = hex.EncodeToString(sum[:])
	if _, err := s.db.ExecContext(ctx, `UPDATE issue_attachments SET complete = TRUE, sha256 = $2
		WHERE id = $1 AND NOT complete`, a.ID, a.SHA256); err != nil {
		return fmt.Errorf("complete upload: %w", err)
	}
	a.Complete = true
	for _, off := range offsets {
		if err := s.blobs.Delete(ctx, chunkKey(a.ID, off)); err != nil {
			// Only space is lost; the sweep does not see claimed uploads, so say so.
			s.log.Warn("attach: delete chunk", "upload_id", a.ID, "offset", off, "err", err)
		}
	}
	return nil
}

// bytesWriter appends to a byte slice.
type bytesWriter struct{ b *[]byte }

func (w bytesWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }

// discard deletes an unclaimed upload: its row first (so a concurrent Claim
// either wins and keeps everything, or finds nothing), then its blobs.
func (s *Store) discard(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM issue_attachments WHERE id = $1 AND issue_id IS NULL`, id)
	if err != nil {
		return fmt.Errorf("delete upload: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return s.deleteBlobs(ctx, id)
}

// deleteBlobs removes an upload's chunks (following them from offset 0 by
// their sizes) and its assembled file.
func (s *Store) deleteBlobs(ctx context.Context, id string) error {
	for off := int64(0); off < MaxFileBytes; {
		size, err := s.blobSize(ctx, chunkKey(id, off))
		if errors.Is(err, blob.ErrNotFound) {
			break
		}
		if err != nil {
			return err
		}
		if err := s.blobs.Delete(ctx, chunkKey(id, off)); err != nil {
			return fmt.Errorf("delete chunk: %w", err)
		}
		if size == 0 {
			break
		}
		off += size
	}
	if err := s.blobs.Delete(ctx, finalKey(id)); err != nil {
		return fmt.Errorf("delete attachment blob: %w", err)
	}
	return nil
}

// blobSize is a blob's length, from Stat when the store's reader has it.
func (s *Store) blobSize(ctx context.Context, key string) (int64, error) {
	r, err := s.blobs.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if st, ok := r.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil {
			return fi.Size(), nil
		}
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return 0, fmt.Errorf("read blob %s: %w", key, err)
	}
	return n, nil
}

// Claim attaches the finished, unclaimed uploads ids of ownerID to issueID
// (and messageID, "" for the issue itself) with visibility ("PUBLIC" or
// "INTERNAL") inside tx. Unknown, foreign, unfinished or already attached
// ids, duplicates and more than MaxPerItem are invalid arguments of field;
// the caller must then roll tx back. Each upload is taken by a conditional
// UPDATE, so of two transactions claiming one upload only one can commit
// with it. The attachments are returned in the order of ids.
func (s *Store) Claim(ctx context.Context, tx *sql.Tx, field, ownerID string, ids []string, issueID, messageID, visibility string) ([]*issuev1.Attachment, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxPerItem {
		return nil, errs.InvalidField(field,
			fmt.Sprintf("at most %d attachments", MaxPerItem),
			fmt.Sprintf("tối đa %d tệp đính kèm", MaxPerItem))
	}
	if visibility != Public && visibility != Internal {
		return nil, fmt.Errorf("claim attachments: visibility %q", visibility)
	}
	now := s.now()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return nil, errs.InvalidField(field, "lists attachment "+id+" twice", "có tệp đính kèm "+id+" hai lần")
		}
		seen[id] = true
		if !validID(id) {
			return nil, notClaimable(field, id)
		}
		res, err := tx.ExecContext(ctx, `UPDATE issue_attachments SET issue_id = $1, message_id = $2, visibility = $3, attach_time = $4
			WHERE id = $5 AND owner_id = $6 AND complete AND issue_id IS NULL AND create_time > $7`,
			issueID, nullString(messageID), visibility, now, id, ownerID, now.Add(-UnclaimedTTL))
		if err != nil {
			return nil, fmt.Errorf("claim attachment: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return nil, notClaimable(field, id)
		}
	}
	in, args := store.InList(2, ids)
	rows, err := tx.QueryContext(ctx, `SELECT `+rowCols+` FROM issue_attachments WHERE issue_id = $1 AND id IN (`+in+`)`,
		append([]any{issueID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("select claimed attachments: %w", err)
	}
	defer rows.Close()
	byID := map[string]*issuev1.Attachment{}
	for rows.Next() {
		a, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("scan attachment: %w", err)
		}
		byID[a.ID] = a.proto()
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select claimed attachments: %w", err)
	}
	out := make([]*issuev1.Attachment, 0, len(ids))
	for _, id := range ids {
		out = append(out, byID[id])
	}
	return out, nil
}

func notClaimable(field, id string) *errs.Error {
	return errs.InvalidField(field,
		"attachment "+id+" is not a finished upload of yours waiting to be attached (uploads must be attached within 24 hours, once)",
		"tệp "+id+" không phải là tệp bạn đã tải lên xong và đang chờ đính kèm (mỗi tệp chỉ đính kèm một lần, trong vòng 24 giờ)")
}

// validID is ids.Valid for Claim, whose ids parameter hides the package.
func validID(id string) bool { return ids.Valid(id) }

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ForIssue returns the attachments of issueID grouped by message id ("" for
// the issue's own), without INTERNAL ones unless internal is true.
func (s *Store) ForIssue(ctx context.Context, q store.Queryer, issueID string, internal bool) (map[string][]*issuev1.Attachment, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+rowCols+` FROM issue_attachments
		WHERE issue_id = $1 AND complete AND ($2 OR visibility = 'PUBLIC') ORDER BY id`, issueID, internal)
	if err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	defer rows.Close()
	out := map[string][]*issuev1.Attachment{}
	for rows.Next() {
		a, err := scanRow(rows)
		if err != nil {
			return nil, fmt.Errorf("scan attachment: %w", err)
		}
		out[a.MessageID] = append(out[a.MessageID], a.proto())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list attachments: %w", err)
	}
	return out, nil
}

var errAttachmentNotFound = &errs.Error{Code: errs.NotFound, Field: "attachment_id",
	EN: "this issue has no attachment with this id", VI: "vướng mắc này không có tệp đính kèm với mã này"}

// Open returns attachment id of issueID and its bytes; an INTERNAL one only
// when internal is true (otherwise it does not exist for the caller).
func (s *Store) Open(ctx context.Context, issueID, id string, internal bool) (*issuev1.Attachment, []byte, error) {
	if !ids.Valid(strings.TrimSpace(id)) {
		return nil, nil, errAttachmentNotFound
	}
	a, err := scanRow(s.db.QueryRowContext(ctx, `SELECT `+rowCols+` FROM issue_attachments
		WHERE id = $1 AND issue_id = $2 AND complete`, strings.TrimSpace(id), issueID))
	if store.IsNoRows(err) || (err == nil && a.Visibility != Public && !internal) {
		return nil, nil, errAttachmentNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("select attachment: %w", err)
	}
	r, err := s.blobs.Open(ctx, a.BlobKey)
	if err != nil {
		return nil, nil, fmt.Errorf("open attachment %s: %w", a.ID, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read attachment %s: %w", a.ID, err)
	}
	if int64(len(data)) != a.Total {
		return nil, nil, fmt.Errorf("attachment %s: %d bytes stored, %d expected", a.ID, len(data), a.Total)
	}
	return a.proto(), data, nil
}
