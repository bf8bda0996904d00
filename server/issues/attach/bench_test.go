package attach_test

import (
	"testing"
	"time"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/blob"
	"hqconnect/internal/ids"
	"hqconnect/internal/store/storetest"
	"hqconnect/server/issues/attach"
)

// BenchmarkUpload10MiB uploads a 10 MiB PDF in 1 MiB chunks through the
// Store (SQLite, a local directory): ten chunk writes, the assembly with its
// content check and hash, and the chunks' deletion.
func BenchmarkUpload10MiB(b *testing.B) {
	db := storetest.SQLite(b)
	bs, err := blob.NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	s := attach.New(db, bs, nil)
	now := time.Now().UTC()
	data := pdf(attach.MaxFileBytes)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		// A user of its own per upload keeps clear of the open-uploads limit.
		owner := ids.New()
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, kind, full_name, password_hash, status, create_time, update_time)
			VALUES ($1, 'officer', 'Bench', 'x', 'ACTIVE', $2, $2)`, owner, now); err != nil {
			b.Fatal(err)
		}
		var id string
		for off := 0; off < len(data); off += attach.MaxChunkBytes {
			req := &issuev1.UploadAttachmentRequest{UploadId: id, Offset: int64(off), Data: data[off : off+attach.MaxChunkBytes]}
			if id == "" {
				req.FileName, req.TotalBytes = "bench.pdf", int64(len(data))
			}
			res, err := s.Upload(ctx, owner, req)
			if err != nil {
				b.Fatal(err)
			}
			id = res.UploadId
		}
	}
}
