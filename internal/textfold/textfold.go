// Package textfold folds text for search: lower case without Vietnamese
// diacritics, so that what a person types on a phone without a Vietnamese
// keyboard ("thong quan", "DANG KY") finds what an officer wrote ("thông
// quan", "Đăng ký"). Fold and Words are pure and allocation-light; the same
// functions fold what is indexed and what is searched, so both always agree.
package textfold

import (
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// tableEnd bounds the precomputed fold table: Latin, Latin Extended and
// Latin Extended Additional (U+1E00–U+1EFF, where most precomposed Vietnamese
// letters live) are below it.
const tableEnd = 0x1F00

// table[r] is the fold of rune r < tableEnd: "" drops it (a combining
// mark), otherwise its letters without marks, in lower case. ASCII is
// handled before the table is consulted.
var table = func() []string {
	t := make([]string, tableEnd)
	for r := rune(0x80); r < tableEnd; r++ {
		t[r] = foldSlow(r)
	}
	return t
}()

// foldSlow folds one rune: compatibility decomposition (NFKD, so
// precomposed, full-width and ligature forms become plain letters), marks
// dropped, lower case, and the Vietnamese "đ" (which has no decomposition)
// mapped to "d".
func foldSlow(r rune) string {
	switch r {
	case 'đ', 'Đ', 'Ð', 'ð': // U+00D0 looks like U+0110 and is typed for it
		return "d"
	}
	if isMark(r) {
		return ""
	}
	var b strings.Builder
	for _, d := range norm.NFKD.String(string(r)) {
		if isMark(d) {
			continue
		}
		if d == 'đ' || d == 'Đ' {
			d = 'd'
		}
		b.WriteRune(unicode.ToLower(d))
	}
	return b.String()
}

// isMark reports whether r is a combining mark (the tones and the hat, breve
// and horn of decomposed Vietnamese letters among them).
func isMark(r rune) bool {
	return r >= 0x300 && (unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r))
}

// Fold returns s in lower case without diacritics: "Đăng ký TỜ KHAI" →
// "dang ky to khai". Precomposed (NFC) and decomposed (NFD) input fold alike.
// Everything that is not a letter with marks (digits, punctuation, spaces) is
// kept as it is, so positions of words are preserved in order.
func Fold(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
		i++
	}
	if i == len(s) {
		return s // already folded: the common case for typed queries
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		b.WriteString(foldRune(r))
	}
	return b.String()
}

// foldRune folds one rune (see foldSlow).
func foldRune(r rune) string {
	switch {
	case r < utf8.RuneSelf:
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return asciiStr[r]
	case r < tableEnd:
		return table[r]
	default:
		return foldSlow(r)
	}
}

var asciiStr = func() (t [utf8.RuneSelf]string) {
	for i := range t {
		t[i] = string(rune(i))
	}
	return t
}()

// Token is one word of a text: Term is its folded form, Start and End its
// byte span in the original text (marks included), for snippets.
type Token struct {
	Term       string
	Start, End int
}

// isWordRune reports whether r belongs to a word: letters, digits and the
// marks that follow a letter in decomposed text.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r) || isMark(r) || unicode.Is(unicode.Mc, r)
}

// isJoiner reports whether r joins two digits into one number, as in the HS
// code "8471.30", the amount "1.000.000", the date "12/2025" or "38/2015".
func isJoiner(r rune) bool { return r == '.' || r == ',' || r == '/' || r == '-' }

func isDigit(r rune) bool { return '0' <= r && r <= '9' || r >= utf8.RuneSelf && unicode.IsDigit(r) }

// Tokens yields the words of s in order. A word is a run of letters, digits
// and marks; '.', ',', '/' and '-' between two digits join them ("8471.30",
// "38/2015"), elsewhere they separate words ("C/O" is "c", "o"; "TT-BTC" is
// "tt", "btc"). Every other character separates words.
func Tokens(s string) iter.Seq[Token] {
	return func(yield func(Token) bool) {
		start := -1
		var prev rune // the last rune of the current word
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			switch {
			case isWordRune(r):
				if start < 0 {
					if isMark(r) {
						// A mark with no letter before it belongs to no word.
						i += n
						continue
					}
					start = i
				}
				prev = r
			case start >= 0 && isJoiner(r) && isDigit(prev) && i+n < len(s):
				if next, _ := utf8.DecodeRuneInString(s[i+n:]); isDigit(next) {
					prev = r
					break
				}
				fallthrough
			default:
				if start >= 0 {
					if !yield(Token{Term: Fold(s[start:i]), Start: start, End: i}) {
						return
					}
					start = -1
				}
			}
			i += n
		}
		if start >= 0 {
			yield(Token{Term: Fold(s[start:]), Start: start, End: len(s)})
		}
	}
}

// Words returns the folded words of s, in order, repeats included:
// "ĐĂNG KÝ TỜ KHAI!" → ["dang", "ky", "to", "khai"].
func Words(s string) []string {
	var out []string
	for t := range Tokens(s) {
		out = append(out, t.Term)
	}
	return out
}
