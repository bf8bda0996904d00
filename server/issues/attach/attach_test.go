package attach_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/blob"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server"
	"hqconnect/server/issues/attach"
)

// handler serves the two attachment RPCs of IssueService over the Store, as
// the issue service does (it also checks the issue's visibility for
// GetAttachment, which this test double leaves to internal = officer).
type handler struct {
	issuev1connect.UnimplementedIssueServiceHandler
	s *attach.Store
}

func (h handler) UploadAttachment(ctx context.Context, req *connect.Request[issuev1.UploadAttachmentRequest]) (*connect.Response[issuev1.UploadAttachmentResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	res, err := h.s.Upload(ctx, p.UserID, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

func (h handler) GetAttachment(ctx context.Context, req *connect.Request[issuev1.GetAttachmentRequest]) (*connect.Response[issuev1.GetAttachmentResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	a, data, err := h.s.Open(ctx, req.Msg.IssueId, req.Msg.AttachmentId, p.Kind == auth.KindOfficer)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.GetAttachmentResponse{Attachment: a, Data: data}), nil
}

type fixture struct {
	store   *attach.Store
	blobDir string
}

var fixtures sync.Map // *stack.Env → fixture

func mount(e *stack.Env) []server.Service {
	dir := filepath.Join(os.TempDir(), "hq-attach-"+ids.New())
	bs, err := blob.NewDir(dir)
	if err != nil {
		panic(err)
	}
	s := attach.New(e.DB, bs, e.Clock.Now)
	fixtures.Store(e, fixture{store: s, blobDir: dir})
	return []server.Service{{Name: issuev1connect.IssueServiceName,
		Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewIssueServiceHandler(handler{s: s}, o...)
		}}}
}

func fix(t *testing.T, e *stack.Env) fixture {
	t.Helper()
	f, _ := fixtures.Load(e)
	fx := f.(fixture)
	t.Cleanup(func() { _ = os.RemoveAll(fx.blobDir) })
	return fx
}

var ctx = context.Background()

type client = issuev1connect.IssueServiceClient

func clientOf(u *stack.User) client { return stack.Client(u, issuev1connect.NewIssueServiceClient) }

func up(c client, r *issuev1.UploadAttachmentRequest) (*issuev1.UploadAttachmentResponse, error) {
	res, err := c.UploadAttachment(ctx, connect.NewRequest(r))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// upload sends data in chunks of size and returns the final response.
func upload(t *testing.T, c client, name, ctype string, data []byte, size int) *issuev1.UploadAttachmentResponse {
	t.Helper()
	var id string
	var res *issuev1.UploadAttachmentResponse
	for off := 0; off < len(data) || off == 0; off += size {
		end := min(off+size, len(data))
		r := &issuev1.UploadAttachmentRequest{UploadId: id, Offset: int64(off), Data: data[off:end]}
		if id == "" {
			r.FileName, r.ContentType, r.TotalBytes = name, ctype, int64(len(data))
		}
		var err error
		if res, err = up(c, r); err != nil {
			t.Fatalf("chunk at %d: %v", off, err)
		}
		id = res.UploadId
		if res.ReceivedBytes != int64(end) {
			t.Fatalf("received %d after chunk ending at %d", res.ReceivedBytes, end)
		}
		if end == len(data) {
			break
		}
	}
	return res
}

// pdf is a fake PDF of n bytes (the signature is what is sniffed).
func pdf(n int) []byte {
	b := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	copy(b, "%PDF-1.7\n")
	return b
}

func zipOf(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte("<xml/>"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// blobFiles lists the files under the blob directory.
func blobFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out
}

func TestChunkedUploadAndResume(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		u := e.Login(t, stack.XnkStaff)
		c := clientOf(u)
		data := pdf(2*attach.MaxChunkBytes + 12345)
		first := testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			FileName: "Tờ khai 1035.pdf", ContentType: "application/pdf", TotalBytes: int64(len(data)),
			Data: data[:attach.MaxChunkBytes]}))).Must(t)
		if first.UploadId == "" || first.ReceivedBytes != attach.MaxChunkBytes || first.Attachment != nil {
			t.Fatalf("first chunk: %v", first)
		}
		id := first.UploadId
		next := func(off, end int) *issuev1.UploadAttachmentRequest {
			return &issuev1.UploadAttachmentRequest{UploadId: id, Offset: int64(off), Data: data[off:end]}
		}
		// The first chunk again (its response was lost): acknowledged, not rewritten.
		again, err := up(c, next(0, attach.MaxChunkBytes))
		if err != nil || again.ReceivedBytes != attach.MaxChunkBytes {
			t.Fatalf("repeated chunk: %v, %v", again, err)
		}
		// A probe with no data says where to resume.
		probe, err := up(c, &issuev1.UploadAttachmentRequest{UploadId: id})
		if err != nil || probe.ReceivedBytes != attach.MaxChunkBytes {
			t.Fatalf("probe: %v, %v", probe, err)
		}
		// Skipping ahead is refused with where to resume.
		_, err = up(c, next(2*attach.MaxChunkBytes, len(data)))
		ce := testkit.WantField(t, err, connect.CodeInvalidArgument, "offset")
		if !strings.Contains(ce.Message(), "1048576") {
			t.Fatalf("offset error does not say where to resume: %s", ce.Message())
		}
		if r, err := up(c, next(attach.MaxChunkBytes, 2*attach.MaxChunkBytes)); err != nil || r.ReceivedBytes != 2*attach.MaxChunkBytes {
			t.Fatalf("second chunk: %v, %v", r, err)
		}
		// Past the end of the file.
		_, err = up(c, &issuev1.UploadAttachmentRequest{UploadId: id, Offset: 2 * attach.MaxChunkBytes, Data: make([]byte, 12346)})
		testkit.WantField(t, err, connect.CodeInvalidArgument, "data")
		last, err := up(c, next(2*attach.MaxChunkBytes, len(data)))
		if err != nil {
			t.Fatal(err)
		}
		a := last.Attachment
		sum := sha256.Sum256(data)
		if last.ReceivedBytes != int64(len(data)) || a == nil || a.Id != id || a.FileName != "Tờ khai 1035.pdf" ||
			a.ContentType != "application/pdf" || a.SizeBytes != int64(len(data)) || a.Sha256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("last chunk: %v", last)
		}
		// Repeating the last chunk returns the attachment again.
		if again, err := up(c, next(2*attach.MaxChunkBytes, len(data))); err != nil || again.Attachment.GetSha256() != a.Sha256 {
			t.Fatalf("repeated last chunk: %v, %v", again, err)
		}
		// Only the assembled file is left.
		if files := blobFiles(t, fx.blobDir); len(files) != 1 || files[0] != "attachments/"+id {
			t.Fatalf("blobs after assembly: %v", files)
		}

		// Someone else's upload id does not exist for them.
		for _, login := range []string{stack.XnkAdmin, stack.LogStaff, stack.Officer} {
			_, err := up(clientOf(e.Login(t, login)), &issuev1.UploadAttachmentRequest{UploadId: id})
			testkit.WantField(t, err, connect.CodeNotFound, "upload_id")
		}
		_, err = up(c, &issuev1.UploadAttachmentRequest{UploadId: "not-an-id"})
		testkit.WantField(t, err, connect.CodeNotFound, "upload_id")

		// A single-chunk upload by an officer, declared as octet-stream.
		o := upload(t, clientOf(e.Login(t, stack.Officer)), "notes.txt", "application/octet-stream", []byte("Ghi chú nội bộ\n"), 1<<20)
		if o.Attachment.GetContentType() != "text/plain; charset=utf-8" {
			t.Fatalf("officer's text upload: %v", o)
		}
	})
}

func TestUploadRefusals(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		c := clientOf(e.Login(t, stack.XnkStaff))
		first := func(name, ctype string, total int64, data []byte) *issuev1.UploadAttachmentRequest {
			return &issuev1.UploadAttachmentRequest{FileName: name, ContentType: ctype, TotalBytes: total, Data: data}
		}
		for _, tc := range []struct {
			name  string
			req   *issuev1.UploadAttachmentRequest
			field string
		}{
			{"no file name", first("", "application/pdf", 10, pdf(10)), "file_name"},
			{"a path", first("../../etc/passwd.pdf", "application/pdf", 10, pdf(10)), "file_name"},
			{"a Windows path", first(`C:\docs\a.pdf`, "application/pdf", 10, pdf(10)), "file_name"},
			{"a control character", first("a\x07.pdf", "application/pdf", 10, pdf(10)), "file_name"},
			{"too long a name", first(strings.Repeat("a", 197)+".pdf", "application/pdf", 10, pdf(10)), "file_name"},
			{"an executable", first("setup.exe", "application/octet-stream", 10, pdf(10)), "file_name"},
			{"no extension", first("README", "text/plain", 10, pdf(10)), "file_name"},
			{"declared type contradicts the name", first("a.pdf", "image/png", 10, pdf(10)), "content_type"},
			{"zero bytes", first("a.pdf", "application/pdf", 0, nil), "total_bytes"},
			{"too big", first("a.pdf", "application/pdf", attach.MaxFileBytes+1, pdf(10)), "total_bytes"},
			{"chunk too big", first("a.pdf", "application/pdf", attach.MaxFileBytes, pdf(attach.MaxChunkBytes+1)), "data"},
			{"more data than total", first("a.pdf", "application/pdf", 5, pdf(10)), "data"},
			{"first chunk not at 0", &issuev1.UploadAttachmentRequest{FileName: "a.pdf", TotalBytes: 10, Offset: 3}, "offset"},
			{"negative offset", &issuev1.UploadAttachmentRequest{FileName: "a.pdf", TotalBytes: 10, Offset: -1}, "offset"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := up(c, tc.req)
				testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
			})
		}
		if n := e.Count(t, "issue_attachments"); n != 0 {
			t.Fatalf("%d uploads created by refused requests", n)
		}

		// Content that is not what the name says is refused at the end and
		// the upload is gone.
		exe := append([]byte("MZ\x90\x00\x03\x00\x00\x00"), bytes.Repeat([]byte{0}, 3000)...)
		for _, tc := range []struct {
			name  string
			data  []byte
			ctype string
		}{
			{"invoice.pdf", exe, "application/pdf"},
			{"photo.jpg", pdf(2000), "image/jpeg"},
			{"report.docx", zipOf(t, "[Content_Types].xml", "xl/workbook.xml"), ""},
			{"report.docx", zipOf(t, "hello.txt"), ""},
			{"sheet.xls", pdf(2000), "application/vnd.ms-excel"},
			{"notes.txt", exe, "text/plain"},
			{"archive.zip", exe, "application/zip"},
		} {
			t.Run("content of "+tc.name, func(t *testing.T) {
				half := len(tc.data) / 2
				r, err := up(c, first(tc.name, tc.ctype, int64(len(tc.data)), tc.data[:half]))
				if err != nil {
					t.Fatalf("first chunk: %v", err)
				}
				_, err = up(c, &issuev1.UploadAttachmentRequest{UploadId: r.UploadId, Offset: int64(half), Data: tc.data[half:]})
				ce := testkit.WantField(t, err, connect.CodeInvalidArgument, "data")
				if !strings.Contains(ce.Message(), tc.name) {
					t.Fatalf("message does not name the file: %s", ce.Message())
				}
				_, err = up(c, &issuev1.UploadAttachmentRequest{UploadId: r.UploadId})
				testkit.WantCode(t, err, connect.CodeNotFound)
			})
		}
		if n := e.Count(t, "issue_attachments"); n != 0 {
			t.Fatalf("%d refused uploads left", n)
		}
		if files := blobFiles(t, fx.blobDir); len(files) != 0 {
			t.Fatalf("blobs of refused uploads left: %v", files)
		}

		// The allowed kinds pass.
		ole := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 600)...)
		png := append([]byte("\x89PNG\x0D\x0A\x1A\x0A"), make([]byte, 100)...)
		for _, tc := range []struct {
			name, ctype string
			data        []byte
			stored      string
		}{
			{"to-khai.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", zipOf(t, "[Content_Types].xml", "word/document.xml"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
			{"BANG KE.XLSX", "", zipOf(t, "[Content_Types].xml", "xl/workbook.xml"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
			{"cong-van.doc", "application/msword", ole, "application/msword"},
			{"hang-hoa.csv", "application/vnd.ms-excel", []byte("ma_hs,ten\n0101,ngựa\n"), "text/csv; charset=utf-8"},
			{"anh.png", "image/png", png, "image/png"},
			{"anh.JPG", "image/jpg", append([]byte("\xFF\xD8\xFF\xE0\x00\x10JFIF"), make([]byte, 50)...), "image/jpeg"},
			{"anh.gif", "", append([]byte("GIF89a"), make([]byte, 50)...), "image/gif"},
			{"anh.webp", "image/webp", append([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "), make([]byte, 50)...), "image/webp"},
			{"ho-so.zip", "application/x-zip-compressed", zipOf(t, "a.txt"), "application/zip"},
		} {
			t.Run("accepts "+tc.name, func(t *testing.T) {
				if r := upload(t, c, tc.name, tc.ctype, tc.data, 1<<20); r.Attachment.GetContentType() != tc.stored {
					t.Fatalf("stored as %q, want %q", r.Attachment.GetContentType(), tc.stored)
				}
			})
		}
	})
}

func TestOpenUploadsAreLimited(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fix(t, e)
		c := clientOf(e.Login(t, stack.XnkStaff))
		for range attach.MaxOpenUploads {
			upload(t, c, "a.txt", "text/plain", []byte("hello"), 10)
		}
		_, err := up(c, &issuev1.UploadAttachmentRequest{FileName: "a.txt", TotalBytes: 5, Data: []byte("hello")})
		testkit.WantCode(t, err, connect.CodeResourceExhausted)
		// Another user is not affected.
		upload(t, clientOf(e.Login(t, stack.XnkAdmin)), "a.txt", "text/plain", []byte("hello"), 10)
	})
}

// newIssue inserts a bare issue of u's enterprise (the issue service is
// someone else's; only the foreign key matters here).
func newIssue(t *testing.T, e *stack.Env, u *stack.User) string {
	t.Helper()
	id := ids.New()
	now := time.Now().UTC()
	if _, err := e.DB.ExecContext(ctx, `INSERT INTO issues (id, number, enterprise_id, created_by, category_id, unit_id,
		status, title, body, create_time, update_time, sla_minutes)
		VALUES ($1, $2, $3, $4, '0190a000-0000-7000-8000-000000000001', $5, 'OPEN', 'Lỗi VNACCS', 'Không gửi được tờ khai', $6, $6, 480)`,
		id, "VM-TEST-"+id, u.EnterpriseID(), u.UserID(), e.UnitID(t, "DEMOCK1TT"), now); err != nil {
		t.Fatal(err)
	}
	return id
}

func claim(e *stack.Env, s *attach.Store, owner string, ids []string, issue, message, vis string) ([]*issuev1.Attachment, error) {
	var out []*issuev1.Attachment
	err := e.DB.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.Claim(ctx, tx, "attachment_ids", owner, ids, issue, message, vis)
		return err
	})
	return out, err
}

func TestClaimForIssueOpen(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		u := e.Login(t, stack.XnkStaff)
		c := clientOf(u)
		issue := newIssue(t, e, u)
		a := upload(t, c, "a.pdf", "application/pdf", pdf(3000), 1000).Attachment
		b := upload(t, c, "b.txt", "text/plain", []byte("second file"), 100).Attachment
		unfinished := testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			FileName: "c.pdf", TotalBytes: 2000, Data: pdf(2000)[:1000]}))).Must(t).UploadId
		foreign := upload(t, clientOf(e.Login(t, stack.LogStaff)), "d.pdf", "", pdf(100), 100).Attachment.Id

		for _, tc := range []struct {
			name string
			ids  []string
		}{
			{"unknown", []string{ids.New()}},
			{"not an id", []string{"x"}},
			{"unfinished", []string{unfinished}},
			{"someone else's", []string{foreign}},
			{"a duplicate", []string{a.Id, a.Id}},
			{"six", []string{ids.New(), ids.New(), ids.New(), ids.New(), ids.New(), ids.New()}},
			{"one good, one bad", []string{a.Id, foreign}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := claim(e, fx.store, u.UserID(), tc.ids, issue, "", attach.Public)
				if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != "attachment_ids" {
					t.Fatalf("Claim = %v, want an invalid attachment_ids", err)
				}
			})
		}
		if n := e.Count(t, "issue_attachments WHERE issue_id IS NOT NULL"); n != 0 {
			t.Fatalf("%d attachments claimed by refused claims", n)
		}

		got, err := claim(e, fx.store, u.UserID(), []string{b.Id, a.Id}, issue, "", attach.Public)
		if err != nil || len(got) != 2 || got[0].Id != b.Id || got[1].Id != a.Id || got[1].Sha256 != a.Sha256 {
			t.Fatalf("Claim = %v, %v", got, err)
		}
		if _, err := claim(e, fx.store, u.UserID(), []string{a.Id}, issue, "", attach.Public); !errs.Is(err, errs.Invalid) {
			t.Fatalf("second claim of one upload = %v", err)
		}

		// An officer's internal attachment on a message.
		o := e.Login(t, stack.Officer)
		msg := ids.New()
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO issue_messages (id, issue_id, author_id, visibility, kind, body, create_time)
			VALUES ($1, $2, $3, 'INTERNAL', 'MESSAGE', 'ghi chú', $4)`, msg, issue, o.UserID(), time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		in := upload(t, clientOf(o), "internal.txt", "", []byte("chỉ cán bộ xem"), 100).Attachment
		if _, err := claim(e, fx.store, o.UserID(), []string{in.Id}, issue, msg, attach.Internal); err != nil {
			t.Fatal(err)
		}

		pub, err := fx.store.ForIssue(ctx, e.DB, issue, false)
		if err != nil || len(pub) != 1 || len(pub[""]) != 2 {
			t.Fatalf("ForIssue(public) = %v, %v", pub, err)
		}
		all, err := fx.store.ForIssue(ctx, e.DB, issue, true)
		if err != nil || len(all[""]) != 2 || len(all[msg]) != 1 || all[msg][0].Id != in.Id {
			t.Fatalf("ForIssue(internal) = %v, %v", all, err)
		}

		// Through the RPC: the enterprise reads its file, never the internal one.
		res := testkit.Got(c.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{IssueId: issue, AttachmentId: a.Id}))).Must(t)
		if !bytes.Equal(res.Data, pdf(3000)) || res.Attachment.Sha256 != a.Sha256 {
			t.Fatal("GetAttachment returned other bytes")
		}
		_, err = c.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{IssueId: issue, AttachmentId: in.Id}))
		testkit.WantField(t, err, connect.CodeNotFound, "attachment_id")
		oc := clientOf(o)
		if r := testkit.Got(oc.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{IssueId: issue, AttachmentId: in.Id}))).Must(t); string(r.Data) != "chỉ cán bộ xem" {
			t.Fatalf("officer read %q", r.Data)
		}
		// Of another issue, or not attached: not found.
		other := newIssue(t, e, u)
		_, err = c.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{IssueId: other, AttachmentId: a.Id}))
		testkit.WantField(t, err, connect.CodeNotFound, "attachment_id")
		if _, _, err := fx.store.Open(ctx, issue, foreign, true); !errs.Is(err, errs.NotFound) {
			t.Fatalf("Open(unattached) = %v", err)
		}
	})
}

func TestConcurrentClaimsTakeAnUploadOnce(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		u := e.Login(t, stack.XnkStaff)
		a := upload(t, clientOf(u), "a.pdf", "application/pdf", pdf(500), 500).Attachment
		const racers = 12
		issues := make([]string, racers)
		for i := range issues {
			issues[i] = newIssue(t, e, u)
		}
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				_, err := claim(e, fx.store, u.UserID(), []string{a.Id}, issues[i], "", attach.Public)
				switch {
				case err == nil:
					wins.Add(1)
				case errs.Is(err, errs.Invalid):
					losses.Add(1)
				default:
					t.Errorf("claim: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || losses.Load() != racers-1 {
			t.Fatalf("%d claims won, %d lost; want exactly one winner", wins.Load(), losses.Load())
		}
		if n := e.Count(t, "issue_attachments WHERE id = $1 AND issue_id IS NOT NULL", a.Id); n != 1 {
			t.Fatalf("claimed %d times", n)
		}
	})
}

func TestConcurrentCopiesOfAChunk(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		c := clientOf(e.Login(t, stack.XnkStaff))
		data := pdf(3000)
		id := testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			FileName: "a.pdf", TotalBytes: 3000, Data: data[:1000]}))).Must(t).UploadId
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for _, off := range []int{1000, 2000} {
					for {
						r, err := up(c, &issuev1.UploadAttachmentRequest{UploadId: id, Offset: int64(off), Data: data[off : off+1000]})
						if err == nil && r.ReceivedBytes >= int64(off+1000) {
							break
						}
						// Not there yet (an earlier chunk still on its way): resend.
						if err != nil && !strings.Contains(err.Error(), "offset") {
							t.Error(err)
							return
						}
					}
				}
			})
		}
		wg.Wait()
		r := testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{UploadId: id}))).Must(t)
		sum := sha256.Sum256(data)
		if r.Attachment.GetSha256() != hex.EncodeToString(sum[:]) || r.ReceivedBytes != 3000 {
			t.Fatalf("after racing copies: %v", r)
		}
		if files := blobFiles(t, fx.blobDir); len(files) != 1 {
			t.Fatalf("blobs left: %v", files)
		}
	})
}

func TestSweep(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		u := e.Login(t, stack.XnkStaff)
		c := clientOf(u)
		done := upload(t, c, "done.pdf", "", pdf(100), 100).Attachment.Id
		half := testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			FileName: "half.pdf", TotalBytes: 3000, Data: pdf(3000)[:1000]}))).Must(t).UploadId
		testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			UploadId: half, Offset: 1000, Data: pdf(3000)[1000:1700]}))).Must(t)
		kept := upload(t, c, "kept.pdf", "", pdf(100), 100).Attachment.Id
		if _, err := claim(e, fx.store, u.UserID(), []string{kept}, newIssue(t, e, u), "", attach.Public); err != nil {
			t.Fatal(err)
		}

		if n, err := fx.store.Sweep(ctx, e.Clock.Now()); err != nil || n != 0 {
			t.Fatalf("early Sweep = %d, %v", n, err)
		}
		e.Clock.Advance(attach.UnclaimedTTL + time.Minute)
		fresh := upload(t, c, "fresh.pdf", "", pdf(100), 100).Attachment.Id

		// Expired uploads can be neither continued nor claimed.
		_, err := up(c, &issuev1.UploadAttachmentRequest{UploadId: half, Offset: 1700, Data: pdf(3000)[1700:]})
		testkit.WantField(t, err, connect.CodeFailedPrecondition, "upload_id")
		if _, err := claim(e, fx.store, u.UserID(), []string{done}, newIssue(t, e, u), "", attach.Public); !errs.Is(err, errs.Invalid) {
			t.Fatalf("claim of an expired upload = %v", err)
		}

		n, err := fx.store.Sweep(ctx, e.Clock.Now())
		if err != nil || n != 2 {
			t.Fatalf("Sweep = %d, %v; want the finished and the half upload", n, err)
		}
		for _, id := range []string{done, half} {
			if e.Count(t, "issue_attachments WHERE id = $1", id) != 0 {
				t.Errorf("upload %s not swept", id)
			}
		}
		files := blobFiles(t, fx.blobDir)
		want := map[string]bool{"attachments/" + kept: true, "attachments/" + fresh: true}
		if len(files) != 2 || !want[files[0]] || !want[files[1]] {
			t.Fatalf("blobs after sweep: %v", files)
		}
	})
}

func TestSweepJobRunsOnceAndReschedules(t *testing.T) {
	stack.RunAll(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		c := clientOf(e.Login(t, stack.XnkStaff))
		stale := upload(t, c, "stale.pdf", "", pdf(100), 100).Attachment.Id
		e.Clock.Advance(attach.UnclaimedTTL + time.Minute)

		// Two instances register; one job is scheduled.
		fx.store.RegisterJobs(e.Scheduler)
		fx.store.RegisterJobs(e.Scheduler)
		j, ok, err := e.Scheduler.Get(ctx, attach.SweepKey)
		if err != nil || !ok || j.Kind != attach.JobSweep {
			t.Fatalf("sweep job = %+v, %v, %v", j, ok, err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		runDone := make(chan struct{})
		go func() { defer close(runDone); _ = e.Scheduler.Run(runCtx) }()
		t.Cleanup(func() { cancel(); <-runDone })

		testkit.Eventually(t, "the stale upload swept", func() bool {
			return e.Count(t, "issue_attachments WHERE id = $1", stale) == 0
		})
		testkit.Eventually(t, "the next sweep scheduled an hour later", func() bool {
			j, ok, err := e.Scheduler.Get(ctx, attach.SweepKey)
			return err == nil && ok && j.Due.After(time.Now().Add(50*time.Minute))
		})
		// Registering again (a restart) keeps the schedule.
		fx.store.RegisterJobs(e.Scheduler)
		if j, _, _ := e.Scheduler.Get(ctx, attach.SweepKey); !j.Due.After(time.Now().Add(50 * time.Minute)) {
			t.Fatalf("re-registering moved the sweep to %v", j.Due)
		}
	})
}

// An upload whose last chunk was stored and counted but whose assembly never
// ran (the instance died) is assembled by the next request about it.
func TestInterruptedAssemblyIsFinishedByTheNextRequest(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		fx := fix(t, e)
		c := clientOf(e.Login(t, stack.XnkStaff))
		data := pdf(2500)
		id := testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			FileName: "a.pdf", TotalBytes: 2500, Data: data[:1000]}))).Must(t).UploadId
		bs, err := blob.NewDir(fx.blobDir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bs.Put(ctx, "uploads/"+id+"/1000", bytes.NewReader(data[1000:])); err != nil {
			t.Fatal(err)
		}
		if _, err := e.DB.ExecContext(ctx, `UPDATE issue_attachments SET received_bytes = 2500 WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		r := testkit.Got(c.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{UploadId: id}))).Must(t)
		sum := sha256.Sum256(data)
		if r.ReceivedBytes != 2500 || r.Attachment.GetSha256() != hex.EncodeToString(sum[:]) {
			t.Fatalf("probe after an interrupted assembly: %v", r)
		}
		if files := blobFiles(t, fx.blobDir); len(files) != 1 || files[0] != "attachments/"+id {
			t.Fatalf("blobs: %v", files)
		}
	})
}
