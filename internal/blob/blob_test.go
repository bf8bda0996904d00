package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"hqconnect/internal/blob"
)

func newDir(t *testing.T) (blob.Store, string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "blobs")
	s, err := blob.NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func read(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%s): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDirPutOpenDelete(t *testing.T) {
	ctx := context.Background()
	s, root := newDir(t)
	n, err := s.Put(ctx, "attachments/a1", strings.NewReader("hello"))
	if err != nil || n != 5 {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if got := read(t, s, "attachments/a1"); string(got) != "hello" {
		t.Fatalf("Open = %q", got)
	}
	// Replacing.
	if _, err := s.Put(ctx, "attachments/a1", strings.NewReader("bye")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "attachments/a1"); string(got) != "bye" {
		t.Fatalf("after replace = %q", got)
	}
	// A prefix is not a blob.
	if _, err := s.Open(ctx, "attachments"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open(dir) = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "attachments/a1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, "attachments/a1"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "attachments/a1"); err != nil {
		t.Fatalf("second Delete = %v", err)
	}
	// Emptied directories go away, the root stays.
	if _, err := os.Stat(filepath.Join(root, "attachments")); !os.IsNotExist(err) {
		t.Fatalf("empty directory left behind: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("root removed: %v", err)
	}
	// A deep key, then a sibling keeps its directory.
	for _, k := range []string{"uploads/u1/0", "uploads/u1/1048576"} {
		if _, err := s.Put(ctx, k, bytes.NewReader([]byte(k))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "uploads/u1/0"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, s, "uploads/u1/1048576"); string(got) != "uploads/u1/1048576" {
		t.Fatalf("sibling = %q", got)
	}
}

func TestDirKeyValidation(t *testing.T) {
	ctx := context.Background()
	s, _ := newDir(t)
	bad := []string{"", "/abs", "a//b", "a/", "../x", "a/../b", "a..b", ".hidden", "a/.put-1", "a b", "a\\b", "é", "a\x00", strings.Repeat("a", blob.MaxKeyLen+1)}
	for _, k := range bad {
		if blob.ValidKey(k) {
			t.Errorf("ValidKey(%q) = true", k)
		}
		if _, err := s.Put(ctx, k, strings.NewReader("x")); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Open(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Open(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, k := range []string{"a", "attachments/0190a000-0000-7000-8000-000000000001", "x/y.pdf", "A_b-C.9"} {
		if !blob.ValidKey(k) {
			t.Errorf("ValidKey(%q) = false", k)
		}
	}
}

// failingReader yields some bytes, then fails.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n > 0 {
		k := min(len(p), f.n)
		f.n -= k
		return k, nil
	}
	return 0, errors.New("network gone")
}

func TestDirPutIsAtomic(t *testing.T) {
	ctx := context.Background()
	s, root := newDir(t)
	// A failed Put of a new key leaves nothing, not a part.
	if _, err := s.Put(ctx, "k/new", &failingReader{n: 1000}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if _, err := s.Open(ctx, "k/new"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("after failed Put: %v, want ErrNotFound", err)
	}
	// A failed replacement keeps the old content.
	if _, err := s.Put(ctx, "k/old", strings.NewReader("old content")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "k/old", &failingReader{n: 3}); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if got := read(t, s, "k/old"); string(got) != "old content" {
		t.Fatalf("after failed replace = %q", got)
	}
	// A cancelled context stops the write and leaves nothing either.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, "k/cancelled", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled ctx = %v", err)
	}
	// No temporary file is left anywhere.
	_ = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(info.Name(), ".") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

// Readers racing a writer see the old content or the new one, whole.
func TestDirConcurrentReplaceNeverTorn(t *testing.T) {
	ctx := context.Background()
	s, _ := newDir(t)
	a := bytes.Repeat([]byte("a"), 256<<10)
	b := bytes.Repeat([]byte("b"), 256<<10)
	if _, err := s.Put(ctx, "k", bytes.NewReader(a)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 20; i++ {
			src := a
			if i%2 == 0 {
				src = b
			}
			if _, err := s.Put(ctx, "k", bytes.NewReader(src)); err != nil {
				t.Error(err)
				return
			}
		}
		close(stop)
	}()
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := s.Open(ctx, "k")
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(r)
				_ = r.Close()
				if err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
					t.Errorf("torn read of %d bytes", len(got))
					return
				}
			}
		}()
	}
	wg.Wait()
}
