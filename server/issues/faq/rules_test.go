package faq

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"hqconnect/internal/errs"
)

func TestIndexTerms(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"Thông quan hàng hóa"}, "thong quan hang hoa"},
		{[]string{"HS 8471.30.20"}, "hs 8471 847130 84713020"},
		{[]string{"Số tiền 1.000.000 đồng"}, "so tien 1 1000 1000000 dong"},
		{[]string{"Trả lời.", "Thông tư 38/2015/TT-BTC"}, "tra loi thong tu 38 382015 tt btc"},
		{[]string{"C/O mẫu D"}, "c o mau d"},
	} {
		if got := indexTerms(tc.in...); got != tc.want {
			t.Errorf("indexTerms(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestParseQuery(t *testing.T) {
	for _, tc := range []struct {
		q      string
		any    bool
		terms  []string
		prefix bool
	}{
		{"thong quan", false, []string{"thong", "quan"}, true},
		{"thong quan ", false, []string{"thong", "quan"}, false},
		{"thông quan.", false, []string{"thong", "quan"}, false},
		{"Đăng ký tờ khai", false, []string{"dang", "ky", "to", "khai"}, true},
		{"t", false, []string{"t"}, false}, // one letter is too short to be a prefix
		{"hải quan hải quan", false, []string{"hai", "quan"}, true},
		{"8471.30", false, []string{"847130"}, true},
		{`"thong" OR (quan*)`, false, []string{"thong", "or", "quan"}, false},
		{"!!! ---", false, nil, false},
		{"làm thế nào để được hoàn thuế", true, []string{"hoan", "thue"}, true},
		{"hoàn thuế như thế nào", true, []string{"hoan", "thue"}, false}, // the last word was a stop word
		{"và của cho", true, []string{"va", "cua", "cho"}, true},         // nothing but stop words: kept
		{strings.Repeat("a b c d e f g h i j k l m n o p q r s t ", 2), false,
			[]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"}, false},
	} {
		m := parseQuery(tc.q, tc.any)
		if !slices.Equal(m.Terms, tc.terms) || m.Prefix != tc.prefix || m.Any != tc.any {
			t.Errorf("parseQuery(%q, %v) = %+v, want terms %q prefix %v", tc.q, tc.any, m, tc.terms, tc.prefix)
		}
	}
}

func TestQuerySyntaxQuotesEveryTerm(t *testing.T) {
	for _, tc := range []struct {
		m        match
		fts, tsq string
	}{
		{match{Terms: []string{"thong", "quan"}}, `"thong" "quan"`, `'thong' & 'quan'`},
		{match{Terms: []string{"thong", "quan"}, Prefix: true}, `"thong" "quan"*`, `'thong' & 'quan':*`},
		{match{Terms: []string{"hoan", "thue"}, Any: true}, `"hoan" OR "thue"`, `'hoan' | 'thue'`},
		{match{Terms: []string{"or", "near", "and"}}, `"or" "near" "and"`, `'or' & 'near' & 'and'`},
		// Terms are letters and digits, but nothing would break if not.
		{match{Terms: []string{`a"b`, `c'd\`}}, `"a""b" "c'd\"`, `'a"b' & 'c''d\\'`},
	} {
		if got := ftsQuery(tc.m); got != tc.fts {
			t.Errorf("ftsQuery(%+v) = %s, want %s", tc.m, got, tc.fts)
		}
		if got := tsQuery(tc.m); got != tc.tsq {
			t.Errorf("tsQuery(%+v) = %s, want %s", tc.m, got, tc.tsq)
		}
	}
}

func TestSnippet(t *testing.T) {
	short := "Hàng hóa luồng xanh được thông quan ngay."
	if got := snippet(short, parseQuery("thong quan", false)); got != short {
		t.Fatalf("a short answer is its own snippet, got %q", got)
	}
	long := strings.Repeat("Phần mở đầu giải thích chung. ", 15) + "Doanh nghiệp nộp bản gốc C/O mẫu D khi làm thủ tục. " +
		strings.Repeat("Phần kết luận của câu trả lời.\n", 15)
	for _, tc := range []struct {
		q          string
		want       string
		start, end bool // cut at the start, at the end
	}{
		{"mau d", "C/O mẫu D", true, true},
		{"mẫu", "C/O mẫu D", true, true},
		{"ban goc", "bản gốc", true, true},
		{"khong co", "Phần mở đầu", false, true}, // no match: the beginning
		{"ket lu", "Phần kết luận", true, true},  // prefix
	} {
		got := snippet(long, parseQuery(tc.q, false))
		if n := utf8.RuneCountInString(got); n > snippetRunes {
			t.Errorf("snippet for %q has %d characters", tc.q, n)
		}
		if !strings.Contains(got, tc.want) || strings.HasPrefix(got, "…") != tc.start || strings.HasSuffix(got, "…") != tc.end {
			t.Errorf("snippet for %q = %q, want it to contain %q (cut at start %v, end %v)", tc.q, got, tc.want, tc.start, tc.end)
		}
		if strings.Contains(got, "\n") || !utf8.ValidString(got) {
			t.Errorf("snippet for %q = %q: not one valid line", tc.q, got)
		}
	}
}

func TestAnonymisation(t *testing.T) {
	em := marksOf("Công ty Cổ phần Xuất nhập khẩu Demo", "0100109106-001", "103456789012")
	for _, tc := range []struct {
		text  string
		names bool
	}{
		{"Công ty Cổ phần Xuất nhập khẩu Demo hỏi", true},
		{"CÔNG TY CỔ PHẦN XUẤT NHẬP KHẨU DEMO", true},
		{"cong ty co phan xuat nhap khau demo", true},
		{"Xuất nhập khẩu Demo đề nghị", true}, // without the legal form
		{"MST 0100109106-001", true},
		{"MST 0100109106", true}, // the parent's code
		{"MST 0100 109 106", true},
		{"MST 0100.109.106", true},
		{"tờ khai 103456789012", true},
		{"tờ khai 103-456-789-012", true},
		{"Doanh nghiệp xuất nhập khẩu hỏi về Demo", false},
		{"Công ty cổ phần khai tờ khai nhập khẩu", false},
		{"số 0100109 và 106", false},
		{"Xuất nhập khẩu Demonstration", false}, // whole words only
	} {
		if got := em.mentionedIn(tc.text); got != tc.names {
			t.Errorf("mentionedIn(%q) = %v, want %v", tc.text, got, tc.names)
		}
	}
	// A one-word distinctive name is only refused in full.
	em = marksOf("Công ty TNHH Minh", "0312345670", "")
	if em.mentionedIn("Ông Minh hỏi") || !em.mentionedIn("Công ty TNHH Minh hỏi") {
		t.Error("a one-word name after the legal form is matched wrongly")
	}
	err := marksOf("Công ty TNHH Logistics Demo", "0312345670", "").check(content{
		Question: "Câu hỏi về thủ tục?", Answer: "Trả lời cho Logistics Demo.", LegalReference: ""})
	if e, ok := errs.As(err); !ok || e.Code != errs.Invalid || e.Field != "answer" {
		t.Fatalf("check = %v, want an invalid answer", err)
	}
}

func TestPageTokens(t *testing.T) {
	m := parseQuery("thong quan", false)
	h := queryHash(m, "")
	if n, err := parsePageToken(pageToken(40, h), h); err != nil || n != 40 {
		t.Fatalf("round trip = %d, %v", n, err)
	}
	for _, tok := range []string{"x", pageToken(40, queryHash(m, "cat")), pageToken(0, h), pageToken(-5, h), pageToken(maxDepth, h)} {
		if _, err := parsePageToken(tok, h); err == nil {
			t.Errorf("token %q accepted", tok)
		}
	}
	if queryHash(m, "") == queryHash(parseQuery("thong quan ", false), "") {
		t.Error("a prefix query and a whole-word query share tokens")
	}
}
