package textfold

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"
)

func TestFold(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"thông quan", "thong quan"},
		{"THÔNG QUAN", "thong quan"},
		{"ĐĂNG KÝ TỜ KHAI", "dang ky to khai"},
		{"Đăng ký", "dang ky"},
		{"đ Đ", "d d"},
		{"Ðăng ký", "dang ky"}, // U+00D0, typed for Đ
		{"Thuế GTGT", "thue gtgt"},
		{"hoàn thuế giá trị gia tăng", "hoan thue gia tri gia tang"},
		{"Hải quan Việt Nam", "hai quan viet nam"},
		{"ưu đãi thuế nhập khẩu", "uu dai thue nhap khau"},
		{"Ơ ơ Ư ư Ă ă Â â Ê ê Ô ô", "o o u u a a a a e e o o"},
		{"ả ã ạ ấ ầ ẩ ẫ ậ ắ ằ ẳ ẵ ặ", "a a a a a a a a a a a a a"},
		{"ẻ ẽ ẹ ế ề ể ễ ệ ỉ ĩ ị ỏ õ ọ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ", "e e e e e e e e i i i o o o o o o o o o o o o o"},
		{"ủ ũ ụ ứ ừ ử ữ ự ỳ ỷ ỹ ỵ Ý", "u u u u u u u u y y y y y"},
		{"mã HS 8471.30", "ma hs 8471.30"},
		{"C/O mẫu D", "c/o mau d"},
		{"tờ khai số 103456789012!", "to khai so 103456789012!"},
		{"already ascii", "already ascii"},
		{"ＡＢＣ１２３", "abc123"}, // full-width forms
		{"", ""},
	} {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := Fold(norm.NFD.String(tc.in)); got != tc.want {
			t.Errorf("Fold(NFD %q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Every precomposed Vietnamese letter folds to its base letter, in either
// normal form and either case.
func TestFoldEveryVietnameseLetter(t *testing.T) {
	bases := map[string]string{
		"a": "aàáảãạăằắẳẵặâầấẩẫậ", "e": "eèéẻẽẹêềếểễệ", "i": "iìíỉĩị",
		"o": "oòóỏõọôồốổỗộơờớởỡợ", "u": "uùúủũụưừứửữự", "y": "yỳýỷỹỵ", "d": "dđ",
	}
	for base, letters := range bases {
		for _, r := range letters {
			for _, s := range []string{string(r), strings.ToUpper(string(r))} {
				for _, form := range []norm.Form{norm.NFC, norm.NFD} {
					if got := Fold(form.String(s)); got != base {
						t.Errorf("Fold(%q, %v) = %q, want %q", s, form, got, base)
					}
				}
			}
		}
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"thông quan", []string{"thong", "quan"}},
		{"ĐĂNG KÝ TỜ KHAI", []string{"dang", "ky", "to", "khai"}},
		{"Thuế GTGT (10%)", []string{"thue", "gtgt", "10"}},
		{"  Hoàn thuế,  hoàn thuế!  ", []string{"hoan", "thue", "hoan", "thue"}},
		{"HS 8471.30, chương 84.", []string{"hs", "8471.30", "chuong", "84"}},
		{"8471.30.20", []string{"8471.30.20"}},
		{"1.000.000 đồng", []string{"1.000.000", "dong"}},
		{"Thông tư 38/2015/TT-BTC", []string{"thong", "tu", "38/2015", "tt", "btc"}},
		{"tờ khai 103456789012", []string{"to", "khai", "103456789012"}},
		{"C/O mẫu D", []string{"c", "o", "mau", "d"}},
		{"e-mail: a-b", []string{"e", "mail", "a", "b"}},
		{"12-", []string{"12"}},
		{"12..5", []string{"12", "5"}},
		{"\"thông\" OR quan* -x :y (z)", []string{"thong", "or", "quan", "x", "y", "z"}},
		{"xin chào\tbạn\nơi", []string{"xin", "chao", "ban", "oi"}},
		{"\u0301 lone mark", []string{"lone", "mark"}},
		{"!!! ...", nil},
		{"", nil},
	} {
		for _, form := range []norm.Form{norm.NFC, norm.NFD} {
			if got := Words(form.String(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("Words(%q, %v) = %q, want %q", tc.in, form, got, tc.want)
			}
		}
	}
}

func TestTokensSpans(t *testing.T) {
	s := norm.NFD.String("Về thông quan, HS 8471.30.")
	var got []string
	for tok := range Tokens(s) {
		if Fold(s[tok.Start:tok.End]) != tok.Term {
			t.Errorf("span %d:%d is %q, not the word %q", tok.Start, tok.End, s[tok.Start:tok.End], tok.Term)
		}
		got = append(got, tok.Term)
	}
	if want := []string{"ve", "thong", "quan", "hs", "8471.30"}; !slices.Equal(got, want) {
		t.Fatalf("terms %q, want %q", got, want)
	}
	// Stopping early is allowed.
	for range Tokens(s) {
		break
	}
}

func BenchmarkFold(b *testing.B) {
	s := strings.Repeat("Doanh nghiệp đăng ký tờ khai hải quan điện tử để được thông quan hàng hóa. ", 20)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = Words(s)
	}
}
