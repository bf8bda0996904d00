package catalog_test

import (
	"testing"

	"hqconnect/internal/store/storetest"
	"hqconnect/server/issues/catalog"
)

// BenchmarkCalendar shows what the cache saves SLA arithmetic: a cached
// calendar against one read from the database (calendar days and the
// unit's working hours) and built every time.
func BenchmarkCalendar(b *testing.B) {
	db := storetest.SQLite(b)
	if err := catalog.SeedCalendar(ctx, db); err != nil {
		b.Fatal(err)
	}
	c := catalog.New(db, nil)
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Calendar(ctx, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			c.Invalidate()
			if _, err := c.Calendar(ctx, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}
