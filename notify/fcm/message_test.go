package fcm

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

var fixedNow = time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)

// wire is the JSON the SDK puts on the wire for m (its own MarshalJSON), decoded loosely.
func wire(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func path(m map[string]any, keys ...string) any {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

func TestBuildMessage(t *testing.T) {
	longKey := "declaration:" + strings.Repeat("305123456789-", 6) // > 64 bytes
	tests := []struct {
		name string
		push Push
		want map[string]string // JSON path "a.b.c" → value
		none []string          // JSON paths that must be absent
	}{
		{
			name: "critical clearance status goes out at high priority everywhere",
			push: Push{
				Title: "Tờ khai 305123456789", Body: "Tờ khai 305123456789: đã thông quan",
				Data:        map[string]string{"kind": "declaration", "id": "305123456789"},
				CollapseKey: "declaration:305123456789", Critical: true, TTL: time.Hour,
			},
			want: map[string]string{
				"token":                         "tok-1",
				"notification.title":            "Tờ khai 305123456789",
				"notification.body":             "Tờ khai 305123456789: đã thông quan",
				"data.kind":                     "declaration",
				"data.id":                       "305123456789",
				"android.priority":              "high",
				"android.ttl":                   "3600s",
				"android.collapse_key":          "declaration:305123456789",
				"android.notification.tag":      "declaration:305123456789",
				"apns.headers.apns-priority":    "10",
				"apns.headers.apns-push-type":   "alert",
				"apns.headers.apns-collapse-id": "declaration:305123456789",
				"apns.headers.apns-expiration":  "1772443800", // fixedNow + 1h
				"webpush.headers.Urgency":       "high",
				"webpush.headers.TTL":           "3600",
				"webpush.notification.tag":      "declaration:305123456789",
			},
			none: []string{"topic", "apns.payload"},
		},
		{
			name: "ordinary push is normal priority with the default 24 h TTL",
			push: Push{Title: "Vướng mắc đã được trả lời", Body: "Cán bộ Đội 1 đã trả lời câu hỏi của bạn."},
			want: map[string]string{
				"android.priority":             "normal",
				"android.ttl":                  "86400s",
				"apns.headers.apns-priority":   "5",
				"apns.headers.apns-push-type":  "alert",
				"apns.headers.apns-expiration": "1772526600", // fixedNow + 24h
				"webpush.headers.Urgency":      "normal",
				"webpush.headers.TTL":          "86400",
			},
			none: []string{"android.collapse_key", "android.notification", "apns.headers.apns-collapse-id", "data", "webpush.notification"},
		},
		{
			name: "a collapse key longer than 64 bytes becomes a 64-character digest for APNs",
			push: Push{Title: "Tờ khai", Body: "đã thông quan", CollapseKey: longKey},
			want: map[string]string{
				"android.collapse_key":          longKey,
				"apns.headers.apns-collapse-id": APNSCollapseID(longKey),
			},
		},
		{
			name: "data-only push is a background push for APNs",
			push: Push{Data: map[string]string{"kind": "inbox", "id": "01J"}},
			want: map[string]string{
				"apns.headers.apns-push-type":        "background",
				"apns.headers.apns-priority":         "5",
				"apns.payload.aps.content-available": "1",
			},
			none: []string{"notification"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := wire(t, buildMessage(tt.push, "tok-1", "", fixedNow))
			for p, want := range tt.want {
				v := path(got, strings.Split(p, ".")...)
				if v == nil {
					t.Errorf("%s missing, want %q", p, want)
				} else if s := fmt.Sprint(v); s != want {
					t.Errorf("%s = %q, want %q", p, s, want)
				}
			}
			for _, p := range tt.none {
				if v := path(got, strings.Split(p, ".")...); v != nil {
					t.Errorf("%s = %v, want absent", p, v)
				}
			}
		})
	}
}

func TestAPNSCollapseIDFitsAPNs(t *testing.T) {
	for _, k := range []string{"", "declaration:1", strings.Repeat("x", 64), strings.Repeat("đ", 40)} {
		if got := APNSCollapseID(k); len(got) > 64 {
			t.Errorf("APNSCollapseID(%q) is %d bytes", k, len(got))
		}
	}
	a, b := strings.Repeat("a", 70)+"1", strings.Repeat("a", 70)+"2"
	if APNSCollapseID(a) == APNSCollapseID(b) {
		t.Error("two long keys that differ only at the end share an APNs collapse id")
	}
}

func TestBuildTopicAndMulticast(t *testing.T) {
	p := Push{Topic: "/topics/notices-all", Title: "Thông báo mới", Body: "Thông tư 39/2018/TT-BTC sửa đổi"}
	m := BuildTopicMessage(p)
	if m.Topic != "notices-all" || m.Token != "" {
		t.Errorf("topic message targets topic %q token %q", m.Topic, m.Token)
	}
	mm := BuildMulticast(Push{Title: "a", Body: "b", Critical: true}, []string{"t1", "t2"})
	if len(mm.Tokens) != 2 || mm.Android.Priority != "high" || mm.APNS.Headers["apns-priority"] != "10" {
		t.Errorf("multicast = %+v", mm)
	}
	exp, err := strconv.ParseInt(mm.APNS.Headers["apns-expiration"], 10, 64)
	if want := time.Now().Add(DefaultTTL).Unix(); err != nil || exp < want-60 || exp > want+60 {
		t.Errorf("apns-expiration %d is not now + 24h (%d)", exp, want)
	}
}

func TestValidate(t *testing.T) {
	bigData := map[string]string{}
	for i := range 200 {
		bigData["k"+strconv.Itoa(i)] = strings.Repeat("9", 20)
	}
	tests := []struct {
		name string
		push Push
		ok   bool
	}{
		{"tokens", Push{Tokens: []string{"a"}, Title: "x"}, true},
		{"topic", Push{Topic: "notices-all", Title: "x"}, true},
		{"topic with prefix", Push{Topic: "/topics/notices-all", Title: "x"}, true},
		{"no target", Push{Title: "x"}, false},
		{"tokens and topic", Push{Tokens: []string{"a"}, Topic: "t", Title: "x"}, false},
		{"empty token", Push{Tokens: []string{"a", ""}, Title: "x"}, false},
		{"topic with a space", Push{Topic: "thông báo", Title: "x"}, false},
		{"negative ttl", Push{Tokens: []string{"a"}, TTL: -time.Second}, false},
		{"ttl over 4 weeks", Push{Tokens: []string{"a"}, TTL: MaxTTL + time.Second}, false},
		{"ttl of 4 weeks", Push{Tokens: []string{"a"}, TTL: MaxTTL}, true},
		{"reserved data key", Push{Tokens: []string{"a"}, Data: map[string]string{"from": "x"}}, false},
		{"google data key", Push{Tokens: []string{"a"}, Data: map[string]string{"google.x": "x"}}, false},
		{"oversize data", Push{Tokens: []string{"a"}, Data: bigData}, false},
		{"data too large for a topic push", Push{Topic: "notices-all", Data: map[string]string{"ref": strings.Repeat("1", 1500)}}, false},
		{"the same data fits a token push", Push{Tokens: []string{"a"}, Data: map[string]string{"ref": strings.Repeat("1", 1500)}}, true},
		{"invalid utf-8 body", Push{Tokens: []string{"a"}, Body: "\xff"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.push.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrInvalidPush) {
				t.Fatalf("Validate = %v, want ErrInvalidPush", err)
			}
		})
	}
}

func TestFitPayload(t *testing.T) {
	sentence := "Tờ khai 305123456789 của Công ty TNHH Xuất nhập khẩu Đồng Tháp đã được phân luồng đỏ; " +
		"doanh nghiệp vui lòng xuất trình hồ sơ giấy và hàng hoá để kiểm tra thực tế tại Chi cục Hải quan cửa khẩu cảng Sài Gòn khu vực I. "
	longBody := strings.Repeat(sentence, 30) // ≈ 7 KB of 1-, 2- and 3-byte runes
	longTitle := strings.Repeat("Thông báo về việc thực hiện thủ tục hải quan điện tử ", 100)
	// Decomposed (NFD) text: base letters followed by one or two combining marks.
	nfdBody := strings.Repeat("Ha\u0300ng ho\u0301a đa\u0303 đu\u031Bo\u031B\u0323c tho\u0302ng quan. ", 200)
	data := map[string]string{"kind": "declaration", "id": "305123456789"}

	tests := []struct {
		name          string
		push          Push
		bodyCut       bool
		titleCut      bool
		bodyEmptied   bool
		wantUnchanged bool
	}{
		{name: "short message unchanged", push: Push{Title: "Tờ khai 305123456789", Body: "Tờ khai 305123456789: đã thông quan", Data: data}, wantUnchanged: true},
		{name: "long Vietnamese body is cut on a rune boundary", push: Push{Title: "Tờ khai 305123456789", Body: longBody, Data: data, CollapseKey: "declaration:305123456789"}, bodyCut: true},
		{name: "decomposed (NFD) diacritics stay with their letter", push: Push{Title: "Tờ khai", Body: nfdBody, Data: data}, bodyCut: true},
		{name: "long title and body: body emptied first, then the title cut", push: Push{Title: longTitle, Body: longBody, Data: data}, bodyEmptied: true, titleCut: true},
		{name: "a topic push gets FCM's 2 KB topic budget", push: Push{Topic: "notices-all", Title: "Thông báo mới", Body: longBody, Data: data}, bodyCut: true},
		{name: "large data leaves less room for the body", push: Push{Title: "Tờ khai", Body: longBody, Data: map[string]string{"kind": "notice", "ref": strings.Repeat("1", 2500)}}, bodyCut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FitPayload(tt.push)
			if n := PayloadSize(got); n > tt.push.Limit() {
				t.Fatalf("payload %d bytes > %d", n, tt.push.Limit())
			}
			if tt.wantUnchanged {
				if got.Title != tt.push.Title || got.Body != tt.push.Body {
					t.Fatalf("short push changed: %+v", got)
				}
				return
			}
			for k, v := range tt.push.Data {
				if got.Data[k] != v {
					t.Errorf("data %q changed", k)
				}
			}
			checkCut(t, "body", tt.push.Body, got.Body, tt.bodyCut)
			checkCut(t, "title", tt.push.Title, got.Title, tt.titleCut)
			if tt.bodyEmptied && got.Body != "" {
				t.Errorf("body = %d bytes, want emptied before the title is cut", len(got.Body))
			}
			// As long as possible: one more rune would not fit.
			if tt.bodyCut {
				kept := []rune(strings.TrimSuffix(got.Body, ellipsis))
				full := []rune(tt.push.Body)
				more := tt.push
				more.Body = string(full[:len(kept)+2]) + ellipsis
				if PayloadSize(more) <= tt.push.Limit() && len(kept)+2 < len(full) {
					t.Errorf("body cut at %d runes but %d would fit", len(kept), len(kept)+2)
				}
			}
		})
	}
}

func checkCut(t *testing.T, field, orig, got string, wantCut bool) {
	t.Helper()
	if !utf8.ValidString(got) {
		t.Fatalf("%s is not valid UTF-8", field)
	}
	if !wantCut {
		if got != orig && got != "" {
			t.Errorf("%s changed", field)
		}
		return
	}
	if !strings.HasSuffix(got, ellipsis) {
		t.Fatalf("%s = %q…, want it to end with %q", field, got[:min(len(got), 40)], ellipsis)
	}
	kept := strings.TrimSuffix(got, ellipsis)
	if !strings.HasPrefix(orig, kept) {
		t.Fatalf("%s is not a prefix of the original", field)
	}
	if next, _ := utf8.DecodeRuneInString(orig[len(kept):]); next != utf8.RuneError && isMark(next) {
		t.Errorf("%s cut between a letter and its combining mark %U", field, next)
	}
}

func isMark(r rune) bool { return unicode.Is(unicode.Mn, r) }

func TestPayloadSizeCountsDataNotificationAndCollapseKey(t *testing.T) {
	base := PayloadSize(Push{})
	withTitle := PayloadSize(Push{Title: "Tờ khai"})
	withKey := PayloadSize(Push{Title: "Tờ khai", CollapseKey: "declaration:1"})
	withData := PayloadSize(Push{Title: "Tờ khai", CollapseKey: "declaration:1", Data: map[string]string{"id": "1"}})
	if !(base < withTitle && withTitle < withKey && withKey < withData) {
		t.Errorf("sizes %d %d %d %d do not grow with each part", base, withTitle, withKey, withData)
	}
}

func TestFitPayloadNeverSplitsCombiningMarks(t *testing.T) {
	// Shift the cut point over every position of a decomposed phrase by padding the data.
	body := strings.Repeat("đu\u031Bo\u031B\u0323c tho\u0302ng quan ", 300)
	for pad := range 40 {
		p := Push{Title: "Tờ khai", Body: body, Data: map[string]string{"id": strings.Repeat("1", 1+pad)}}
		got := FitPayload(p)
		if PayloadSize(got) > PayloadLimit {
			t.Fatalf("pad %d: payload too big", pad)
		}
		checkCut(t, "body", body, got.Body, true)
	}
}
