package textcheck

import (
	"strings"
	"testing"

	"hqconnect/internal/errs"
)

func TestLineAndPara(t *testing.T) {
	for _, tc := range []struct {
		name   string
		para   bool
		in     string
		min    int
		max    int
		want   string
		errSub string // "" for success
	}{
		{name: "trimmed", in: "  Tờ khai  ", min: 2, max: 10, want: "Tờ khai"},
		{name: "counts characters not bytes", in: "Đường", min: 5, max: 5, want: "Đường"},
		{name: "optional empty", in: "   ", min: 0, max: 5, want: ""},
		{name: "required", in: " ", min: 1, max: 5, errSub: "is required"},
		{name: "too short", in: "ab", min: 3, max: 5, errSub: "at least 3 characters (it has 2)"},
		{name: "too long", in: "abcdef", min: 1, max: 5, errSub: "at most 5 characters (it has 6)"},
		{name: "line refuses a line break", in: "a\nb", min: 1, max: 5, errSub: "control characters"},
		{name: "para allows line breaks and tabs", para: true, in: "a\n\tb", min: 1, max: 5, want: "a\n\tb"},
		{name: "para refuses other controls", para: true, in: "a\x00b", min: 1, max: 5, errSub: "control characters"},
		{name: "invalid UTF-8", in: "a\xffb", min: 1, max: 5, errSub: "control characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := Line
			if tc.para {
				f = Para
			}
			got, err := f("title", tc.in, tc.min, tc.max)
			if tc.errSub == "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Code != errs.Invalid || e.Field != "title" || !strings.Contains(e.EN, tc.errSub) || e.VI == "" {
				t.Fatalf("got %q, %v; want an invalid title error containing %q", got, err, tc.errSub)
			}
		})
	}
}
