package faq

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/textcheck"
	"hqconnect/internal/textfold"
)

// Pure rules: input checks, the terms search indexes and queries, the
// anonymisation check, snippets and page tokens. No I/O here.

// Lengths, in characters, as the proto documents them.
const (
	minQuestion, maxQuestion = 5, 300
	minAnswer, maxAnswer     = 10, 20_000
	maxLegalReference        = 300
	minQuery, maxQuery       = 2, 200

	defaultPageSize, maxPageSize = 20, 50
	defaultLimit, maxLimit       = 5, 10
	// maxDepth bounds how deep SearchFaq pages: nobody reads the
	// five-hundredth hit, a ranked OFFSET costs what it skips, and no more
	// matches than this are ranked (maxRanked).
	maxDepth = maxRanked
	// maxTerms bounds the terms of one query: a pasted paragraph must not
	// become a hundred-term match.
	maxTerms = 16
	// snippetRunes bounds a snippet, ellipses included.
	snippetRunes = 200
)

// line and para check typed-in text (see textcheck).
func line(field, s string, min, max int) (string, error) { return textcheck.Line(field, s, min, max) }

func para(field, s string, min, max int) (string, error) { return textcheck.Para(field, s, min, max) }

// idField checks that s is an id (required).
func idField(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errs.InvalidField(field, "is required", "là bắt buộc")
	}
	if !ids.Valid(s) {
		return "", errs.InvalidField(field, "is not a valid id", "không phải là mã định danh hợp lệ")
	}
	return s, nil
}

// optionalID is idField for a field that may be empty.
func optionalID(field, s string) (string, error) {
	if strings.TrimSpace(s) == "" {
		return "", nil
	}
	return idField(field, s)
}

// content is an entry's text as checked.
type content struct {
	Question, Answer, LegalReference string
}

func checkContent(question, answer, legal string) (content, error) {
	var c content
	var err error
	if c.Question, err = line("question", question, minQuestion, maxQuestion); err != nil {
		return c, err
	}
	if c.Answer, err = para("answer", answer, minAnswer, maxAnswer); err != nil {
		return c, err
	}
	if c.LegalReference, err = line("legal_reference", legal, 0, maxLegalReference); err != nil {
		return c, err
	}
	return c, nil
}

// Terms. A word of textfold.Words becomes one lexeme: its folded letters and
// digits, joiners dropped ("8471.30" → "847130", "1.000.000" → "1000000"), so
// both databases' tokenizers see plain alphanumeric words and split nothing
// further. A number with joiners is also indexed by its leading groups
// ("8471.30.20" → "8471", "847130", "84713020"): an HS heading finds its
// subheadings, a circular's number "38/2015" finds "38/2015/TT-BTC".

// lexeme drops the joiners textfold keeps inside numbers.
func lexeme(word string) string {
	if !strings.ContainsAny(word, ".,/-") {
		return word
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', ',', '/', '-':
			return -1
		}
		return r
	}, word)
}

// wordLexemes appends the lexemes word is indexed by.
func wordLexemes(dst []string, word string) []string {
	for i := 0; i < len(word); i++ {
		switch word[i] {
		case '.', ',', '/', '-':
			dst = append(dst, lexeme(word[:i]))
		}
	}
	return append(dst, lexeme(word))
}

// indexTerms is the space-separated text a database indexes for s.
func indexTerms(parts ...string) string {
	var lex []string
	for _, s := range parts {
		for _, w := range textfold.Words(s) {
			lex = wordLexemes(lex, w)
		}
	}
	return strings.Join(lex, " ")
}

// match is a parsed query: the lexemes to look for, whether the last one is
// a prefix (the user is still typing it), and whether any lexeme suffices
// (SuggestFaq) or all must match (SearchFaq).
type match struct {
	Terms  []string
	Prefix bool
	Any    bool
}

// parseQuery folds a query into lexemes, repeats dropped, at most maxTerms.
// The last word is a prefix when the query does not end with a space or
// punctuation and it has at least 2 characters: "thon" finds "thông".
func parseQuery(q string, any bool) match {
	m := match{Any: any}
	words := textfold.Words(q)
	for _, w := range words {
		l := lexeme(w)
		if !slices.Contains(m.Terms, l) && len(m.Terms) < maxTerms {
			m.Terms = append(m.Terms, l)
		}
	}
	if len(words) > 0 {
		last := lexeme(words[len(words)-1])
		r, _ := utf8.DecodeLastRuneInString(strings.TrimRightFunc(q, unicode.IsMark))
		endsInWord := r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
		if endsInWord && utf8.RuneCountInString(last) >= 2 && m.Terms[len(m.Terms)-1] == last {
			m.Prefix = true
		}
	}
	if any {
		m.Terms = dropStopWords(m.Terms)
		if m.Prefix && !slices.Contains(m.Terms, lexeme(words[len(words)-1])) {
			m.Prefix = false
		}
	}
	return m
}

// stopWords are folded Vietnamese function words. An any-word match (a
// draft title) skips them, so "làm thế nào để được hoàn thuế" matches on
// "hoan" and "thue" rather than on nearly every entry. Folding merges some
// words ("đăng"/"đang", "tờ"/"tô", "mã"/"mà"); those whose other reading is
// a customs term are not here.
var stopWords = map[string]bool{
	"va": true, "cua": true, "cho": true, "ve": true, "la": true, "co": true, "khong": true,
	"duoc": true, "nhu": true, "the": true, "nao": true, "thi": true, "khi": true, "voi": true,
	"cac": true, "nhung": true, "mot": true, "trong": true, "de": true, "do": true, "nay": true,
	"o": true, "bi": true, "hay": true, "hoac": true, "gi": true, "sao": true, "lam": true,
	"xin": true, "hoi": true, "toi": true, "chung": true, "em": true, "anh": true, "da": true,
	"se": true, "ra": true, "vao": true, "len": true, "phai": true, "neu": true, "theo": true,
	"den": true, "tren": true, "duoi": true, "sau": true, "truoc": true, "rat": true, "cung": true,
	"moi": true, "nhieu": true, "ai": true, "vi": true, "nen": true,
}

// dropStopWords removes stop words unless nothing else would remain.
func dropStopWords(terms []string) []string {
	kept := slices.DeleteFunc(slices.Clone(terms), func(t string) bool { return stopWords[t] })
	if len(kept) == 0 {
		return terms
	}
	return kept
}

// matches reports whether a word of a text is one the query looks for.
func (m match) matches(word string) bool {
	var lex [4]string
	for _, l := range wordLexemes(lex[:0], word) {
		for i, t := range m.Terms {
			if l == t || (m.Prefix && i == len(m.Terms)-1 && strings.HasPrefix(l, t)) {
				return true
			}
		}
	}
	return false
}

// snippet is a short extract of text around the first word the query looks
// for, cut at word boundaries, with "…" where it was cut; the beginning of
// text when no word matches. At most snippetRunes characters.
func snippet(text string, m match) string {
	text = strings.Join(strings.Fields(text), " ") // one line: line breaks are not for a list
	if utf8.RuneCountInString(text) <= snippetRunes {
		return text
	}
	at := -1
	for t := range textfold.Tokens(text) {
		if m.matches(t.Term) {
			at = t.Start
			break
		}
	}
	const before = 60 // characters of context before the match
	start := 0
	if at > 0 {
		start = at
		for n := 0; n < before && start > 0; n++ {
			_, size := utf8.DecodeLastRuneInString(text[:start])
			start -= size
		}
		if start > 0 {
			// Begin at the next word, not inside one.
			if sp := strings.IndexByte(text[start:at], ' '); sp >= 0 {
				start += sp + 1
			} else {
				start = at
			}
		}
	}
	budget := snippetRunes
	prefix := ""
	if start > 0 {
		prefix = "…"
		budget--
	}
	rest := text[start:]
	if utf8.RuneCountInString(rest) <= budget {
		return prefix + rest
	}
	budget-- // the closing "…"
	end := 0
	for n := 0; n < budget; n++ {
		_, size := utf8.DecodeRuneInString(rest[end:])
		end += size
	}
	if sp := strings.LastIndexByte(rest[:end], ' '); sp > 0 {
		end = sp
	}
	return prefix + strings.TrimRight(rest[:end], " ,.;:") + "…"
}

// The anonymisation check: a published entry must not name the enterprise
// the issue came from — not its name, not its tax code, not the declaration.

// enterpriseMarks is what identifies an issue's enterprise in a text.
type enterpriseMarks struct {
	// names are folded, space-joined word sequences: the full name and its
	// distinctive part without the legal form ("xuat nhap khau demo" of
	// "Công ty Cổ phần Xuất nhập khẩu Demo").
	names []string
	// numbers are digit strings: the tax code (and its 10-digit base for a
	// dependent unit) and the declaration number.
	numbers []string
}

// legalForms are the folded words of the legal forms a Vietnamese company
// name starts with; what is left is the name people use.
var legalForms = []string{
	"cong ty", "co phan", "trach nhiem huu han", "tnhh", "mot thanh vien", "hai thanh vien tro len",
	"hai thanh vien", "mtv", "cp", "tap doan", "tong cong ty", "doanh nghiep tu nhan", "dntn",
	"chi nhanh", "van phong dai dien", "hop tac xa", "lien doanh",
}

func marksOf(name, taxCode, declaration string) enterpriseMarks {
	var em enterpriseMarks
	full := strings.Join(textfold.Words(name), " ")
	if full != "" {
		em.names = append(em.names, full)
	}
	// Strip legal forms from the front, longest first, repeatedly.
	core := full
	for changed := true; changed; {
		changed = false
		for _, f := range legalForms {
			if core == f || strings.HasPrefix(core, f+" ") {
				core = strings.TrimSpace(strings.TrimPrefix(core, f))
				changed = true
			}
		}
	}
	// A one-word remainder ("Demo", "Minh") would refuse ordinary text.
	if core != full && strings.Count(core, " ") >= 1 {
		em.names = append(em.names, core)
	}
	for _, n := range []string{taxCode, declaration} {
		d := digitsOnly(n)
		if len(d) >= 8 {
			em.numbers = append(em.numbers, d)
		}
	}
	if d := digitsOnly(taxCode); len(d) == 13 { // 10 digits + "-" + 3: the parent's code too
		em.numbers = append(em.numbers, d[:10])
	}
	return em
}

func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// digitRuns returns the numbers of s with the separators people write inside
// them ("0100 109 106", "0100.109.106", "0100-109-106") removed.
func digitRuns(s string) []string {
	var runs []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			runs = append(runs, cur.String())
			cur.Reset()
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case '0' <= r && r <= '9':
			cur.WriteRune(r)
		case (r == ' ' || r == '.' || r == '-' || r == '/' || r == ',') && cur.Len() > 0 &&
			i+1 < len(rs) && '0' <= rs[i+1] && rs[i+1] <= '9':
			// a separator inside a number
		default:
			flush()
		}
	}
	flush()
	return runs
}

// mentionedIn reports whether s names the enterprise.
func (em enterpriseMarks) mentionedIn(s string) bool {
	if len(em.names) > 0 {
		folded := " " + strings.Join(textfold.Words(s), " ") + " "
		for _, n := range em.names {
			if strings.Contains(folded, " "+n+" ") {
				return true
			}
		}
	}
	for _, run := range digitRuns(s) {
		for _, n := range em.numbers {
			if strings.Contains(run, n) {
				return true
			}
		}
	}
	return false
}

// check refuses content that names the enterprise, on the field at fault.
func (em enterpriseMarks) check(c content) error {
	for _, f := range []struct{ field, text string }{
		{"question", c.Question}, {"answer", c.Answer}, {"legal_reference", c.LegalReference},
	} {
		if em.mentionedIn(f.text) {
			return errs.InvalidField(f.field,
				"names the enterprise the issue came from (its name, tax code or declaration number): edit it out, an FAQ entry is anonymous",
				"có nêu doanh nghiệp gửi vướng mắc (tên, mã số thuế hoặc số tờ khai): hãy xóa thông tin này, câu hỏi thường gặp phải ẩn danh")
		}
	}
	return nil
}

// Page tokens: the offset of the next page and a hash of the query it
// belongs to, base64url, opaque to clients. A token is refused with another
// query (the offset would mean nothing there) and beyond maxDepth.

var errPageToken = errs.InvalidField("page_token",
	"page_token is not valid for this query; start again without it",
	"page_token không hợp lệ với truy vấn này; hãy bắt đầu lại mà không gửi page_token")

func queryHash(m match, categoryID string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%q|%v|%v|%s", m.Terms, m.Prefix, m.Any, categoryID)
	return strconv.FormatUint(h.Sum64(), 36)
}

func pageToken(offset int, hash string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + ":" + hash))
}

func parsePageToken(token, hash string) (int, error) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, errPageToken
	}
	off, h, ok := strings.Cut(string(b), ":")
	n, err := strconv.Atoi(off)
	if !ok || err != nil || h != hash || n <= 0 || n >= maxDepth {
		return 0, errPageToken
	}
	return n, nil
}

// pageSize applies SearchFaq's default and maximum.
func pageSize(n int32) (int, error) {
	return bounded("page_size", n, defaultPageSize, maxPageSize)
}

func bounded(field string, n int32, def, max int) (int, error) {
	switch {
	case n < 0:
		return 0, errs.InvalidField(field,
			fmt.Sprintf("must not be negative (default %d, at most %d)", def, max),
			fmt.Sprintf("không được là số âm (mặc định %d, tối đa %d)", def, max))
	case n == 0:
		return def, nil
	case int(n) > max:
		return max, nil
	}
	return int(n), nil
}
