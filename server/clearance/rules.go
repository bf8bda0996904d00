package clearance

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/internal/errs"
	"hqconnect/internal/taxcode"
)

// The pure rules of the capability: what a valid event is, how events fold
// into a declaration's state, the durations of a timeline and the clearance
// time figures. No I/O here.

// Limits.
const (
	MaxBatch      = 1000
	maxNoteRunes  = 1000
	maxSequence   = 1 << 40
	futureSkew    = 5 * time.Minute
	maxStatsRange = 400 * 24 * time.Hour
)

// Directions as stored.
const (
	dirImport = "IMPORT"
	dirExport = "EXPORT"
)

// Event kinds as stored: the enum value names without their prefix.
const (
	kindRegistered = "REGISTERED"
	kindChannel    = "CHANNEL_ASSIGNED"
	kindReleased   = "RELEASED"
	kindCleared    = "CLEARED"
	kindCancelled  = "CANCELLED"
)

const kindPrefix = "EVENT_KIND_"

func kindName(k clearancev1.EventKind) string {
	return strings.TrimPrefix(k.String(), kindPrefix)
}

func kindEnum(s string) clearancev1.EventKind {
	return clearancev1.EventKind(clearancev1.EventKind_value[kindPrefix+s])
}

func dirName(d clearancev1.Direction) string {
	switch d {
	case clearancev1.Direction_DIRECTION_IMPORT:
		return dirImport
	case clearancev1.Direction_DIRECTION_EXPORT:
		return dirExport
	}
	return ""
}

func dirEnum(s string) clearancev1.Direction {
	switch s {
	case dirImport:
		return clearancev1.Direction_DIRECTION_IMPORT
	case dirExport:
		return clearancev1.Direction_DIRECTION_EXPORT
	}
	return clearancev1.Direction_DIRECTION_UNSPECIFIED
}

// event is a validated declaration event.
type event struct {
	Index     int // in the request
	Number    string
	Seq       int64
	TaxCode   string
	TypeCode  string
	Office    string
	Direction string
	Kind      string
	Time      time.Time
	Channel   string
	Note      string
}

var (
	numberRe = regexp.MustCompile(`^[0-9]{12}$`)
	officeRe = regexp.MustCompile(`^[A-Z0-9]{2,10}$`)
)

// channels are the VNACCS channel codes: 1 green, 2 yellow, 3 red.
var channels = []string{"1", "2", "3"}

// validateEvent checks one pushed event against the type code table and the
// clock. The error names the field at fault.
func validateEvent(i int, pe *clearancev1.Event, types map[string]declType, now time.Time) (event, *errs.Error) {
	e := event{Index: i}
	if !numberRe.MatchString(pe.GetDeclarationNumber()) {
		return e, errs.InvalidField("declaration_number", "a declaration number is exactly 12 digits",
			"số tờ khai gồm đúng 12 chữ số")
	}
	e.Number = pe.GetDeclarationNumber()
	if pe.GetSequence() < 1 || pe.GetSequence() > maxSequence {
		return e, errs.InvalidField("sequence", "the sequence must be a positive number",
			"số thứ tự sự kiện phải là số dương")
	}
	e.Seq = pe.GetSequence()
	if err := taxcode.Validate(pe.GetTaxCode()); err != nil {
		if ee, ok := errs.As(err); ok {
			return e, ee
		}
		return e, errs.InvalidField("tax_code", "the tax code is not valid", "mã số thuế không hợp lệ")
	}
	e.TaxCode = pe.GetTaxCode()
	e.Direction = dirName(pe.GetDirection())
	if e.Direction == "" {
		return e, errs.InvalidField("direction", "must be DIRECTION_IMPORT or DIRECTION_EXPORT",
			"phải là DIRECTION_IMPORT hoặc DIRECTION_EXPORT")
	}
	t, ok := types[pe.GetTypeCode()]
	if !ok {
		return e, errs.InvalidField("type_code",
			fmt.Sprintf("%q is not a declaration type code (mã loại hình) such as A11 or E52; see ListDeclarationTypes", pe.GetTypeCode()),
			fmt.Sprintf("%q không phải mã loại hình tờ khai (ví dụ A11, E52); xem ListDeclarationTypes", pe.GetTypeCode()))
	}
	if t.Direction != e.Direction {
		return e, errs.InvalidField("direction",
			fmt.Sprintf("type %s is an %s declaration", t.Code, strings.ToLower(t.Direction)),
			fmt.Sprintf("loại hình %s là tờ khai %s", t.Code, map[string]string{dirImport: "nhập khẩu", dirExport: "xuất khẩu"}[t.Direction]))
	}
	e.TypeCode = t.Code
	if !officeRe.MatchString(pe.GetCustomsOffice()) {
		return e, errs.InvalidField("customs_office",
			"a customs office code is 2 to 10 upper-case letters and digits, e.g. 03CC",
			"mã hải quan gồm 2 đến 10 chữ cái in hoa và chữ số, ví dụ 03CC")
	}
	e.Office = pe.GetCustomsOffice()
	k := pe.GetKind()
	if _, known := clearancev1.EventKind_name[int32(k)]; !known || k == clearancev1.EventKind_EVENT_KIND_UNSPECIFIED {
		return e, errs.InvalidField("kind", "the event kind is required (EVENT_KIND_REGISTERED … EVENT_KIND_CANCELLED)",
			"loại sự kiện là bắt buộc (EVENT_KIND_REGISTERED … EVENT_KIND_CANCELLED)")
	}
	e.Kind = kindName(k)
	if pe.GetEventTime() == nil || pe.GetEventTime().CheckValid() != nil {
		return e, errs.InvalidField("event_time", "the event time is required", "thời điểm sự kiện là bắt buộc")
	}
	e.Time = pe.GetEventTime().AsTime().UTC().Truncate(time.Microsecond)
	if e.Time.After(now.Add(futureSkew)) {
		return e, errs.InvalidField("event_time", "the event time is in the future", "thời điểm sự kiện ở tương lai")
	}
	if e.Time.Year() < 2000 {
		return e, errs.InvalidField("event_time", "the event time is before 2000", "thời điểm sự kiện trước năm 2000")
	}
	e.Channel = pe.GetChannel()
	if e.Channel != "" && !slices.Contains(channels, e.Channel) {
		return e, errs.InvalidField("channel", `the channel code is "1" (green), "2" (yellow) or "3" (red)`,
			`mã phân luồng là "1" (xanh), "2" (vàng) hoặc "3" (đỏ)`)
	}
	if e.Kind == kindChannel && e.Channel == "" {
		return e, errs.InvalidField("channel", "a CHANNEL_ASSIGNED event needs its channel code",
			"sự kiện phân luồng phải có mã phân luồng")
	}
	if !utf8.ValidString(pe.GetNote()) || utf8.RuneCountInString(pe.GetNote()) > maxNoteRunes {
		return e, errs.InvalidField("note", "the note is at most 1,000 characters", "ghi chú tối đa 1.000 ký tự")
	}
	e.Note = strings.TrimSpace(pe.GetNote())
	return e, nil
}

// declState is a declaration's current state, folded from its events.
type declState struct {
	Number, TaxCode, TypeCode, Office, Direction string
	// Status is the kind of the event with the highest sequence, StatusSeq.
	Status     string
	StatusSeq  int64
	StatusTime time.Time
	// Channel is that of the highest-sequence event carrying one.
	Channel    string
	ChannelSeq int64
	// RegisterTime is the REGISTERED event's time when Registered, else the
	// earliest event time.
	RegisterTime time.Time
	Registered   bool
	// ClearTime is the earliest CLEARED or RELEASED event time (zero before).
	ClearTime time.Time
}

// apply folds e into s; the order of application does not matter: the
// result is the same for any order of the same events.
func (s *declState) apply(e event) {
	if s.Number == "" {
		s.Number, s.TaxCode, s.Direction = e.Number, e.TaxCode, e.Direction
	}
	if e.Seq > s.StatusSeq {
		s.Status, s.StatusSeq, s.StatusTime = e.Kind, e.Seq, e.Time
		s.TypeCode, s.Office = e.TypeCode, e.Office
	}
	if e.Channel != "" && e.Seq > s.ChannelSeq {
		s.Channel, s.ChannelSeq = e.Channel, e.Seq
	}
	switch reg := e.Kind == kindRegistered; {
	case s.RegisterTime.IsZero(),
		reg && !s.Registered,
		reg == s.Registered && e.Time.Before(s.RegisterTime):
		s.RegisterTime, s.Registered = e.Time, reg || s.Registered
	}
	if (e.Kind == kindCleared || e.Kind == kindReleased) && (s.ClearTime.IsZero() || e.Time.Before(s.ClearTime)) {
		s.ClearTime = e.Time
	}
}

// conflict reports why e cannot belong to the declaration s (which has
// events already): its tax code or direction differ.
func (s *declState) conflict(e event) *errs.Error {
	if s.Number == "" {
		return nil
	}
	if e.TaxCode != s.TaxCode {
		return errs.InvalidField("tax_code",
			fmt.Sprintf("declaration %s was filed under another tax code", e.Number),
			fmt.Sprintf("tờ khai %s đã được khai dưới một mã số thuế khác", e.Number))
	}
	if e.Direction != s.Direction {
		return errs.InvalidField("direction",
			fmt.Sprintf("declaration %s is an %s declaration", e.Number, strings.ToLower(s.Direction)),
			fmt.Sprintf("tờ khai %s có chiều %s", e.Number, s.Direction))
	}
	return nil
}

// timelineEntry is one recorded event with its durations.
type timelineEntry struct {
	Seq                    int64
	Kind                   string
	Time, ReceiveTime      time.Time
	Channel, Note          string
	SincePrevious, SinceRe int64 // seconds
}

// durations fills the seconds between consecutive events (by sequence) and
// from registration (when its time is known).
func durations(entries []timelineEntry, registerTime time.Time, registered bool) {
	slices.SortFunc(entries, func(a, b timelineEntry) int { return cmpInt(a.Seq, b.Seq) })
	for i := range entries {
		if i > 0 {
			entries[i].SincePrevious = seconds(entries[i].Time.Sub(entries[i-1].Time))
		}
		if registered {
			entries[i].SinceRe = seconds(entries[i].Time.Sub(registerTime))
		}
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// seconds is d in whole seconds, fractions dropped (towards zero).
func seconds(d time.Duration) int64 { return int64(d / time.Second) }

// clearanceSeconds is the time from registration to the first clearance or
// release, and whether both are known.
func clearanceSeconds(registerTime time.Time, registered bool, clearTime time.Time) (int64, bool) {
	if !registered || clearTime.IsZero() {
		return 0, false
	}
	return seconds(clearTime.Sub(registerTime)), true
}

// summary is the count, mean, median and p90 of a group's clearance times.
type summary struct {
	Count             int64
	Mean, Median, P90 int64
}

// summarize computes the figures of vals (seconds): the mean and the
// linearly interpolated percentiles (PERCENTILE_CONT), each rounded to the
// nearest second. vals is sorted in place.
func summarize(vals []int64) summary {
	if len(vals) == 0 {
		return summary{}
	}
	slices.Sort(vals)
	var sum float64
	for _, v := range vals {
		sum += float64(v)
	}
	return summary{
		Count:  int64(len(vals)),
		Mean:   int64(math.Round(sum / float64(len(vals)))),
		Median: int64(math.Round(percentile(vals, 0.5))),
		P90:    int64(math.Round(percentile(vals, 0.9))),
	}
}

// percentile of sorted vals at p in [0, 1], interpolating linearly between
// the two nearest ranks.
func percentile(sorted []int64, p float64) float64 {
	rank := p * float64(len(sorted)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	return float64(sorted[lo]) + (float64(sorted[hi])-float64(sorted[lo]))*(rank-float64(lo))
}

// statusText is how a status reads in a notification, in Vietnamese and
// English; channel is the declaration's channel code.
func statusText(kind, channel string) (vi, en string) {
	switch kind {
	case kindRegistered:
		return "đã đăng ký", "registered"
	case kindChannel:
		switch channel {
		case "1":
			return "được phân luồng xanh", "assigned to the green channel"
		case "2":
			return "được phân luồng vàng", "assigned to the yellow channel"
		case "3":
			return "được phân luồng đỏ", "assigned to the red channel"
		}
		return "đã được phân luồng", "channel assigned"
	case "DOCUMENT_CHECK":
		return "đang kiểm tra hồ sơ", "documents under check"
	case "PHYSICAL_INSPECTION":
		return "kiểm tra thực tế hàng hóa", "goods under physical inspection"
	case "BROUGHT_TO_STORAGE":
		return "đưa hàng về bảo quản", "goods brought to storage"
	case kindReleased:
		return "đã giải phóng hàng", "goods released"
	case kindCleared:
		return "đã thông quan", "cleared"
	case "PASSED_SUPERVISION_AREA":
		return "hàng đã qua khu vực giám sát", "goods passed the customs supervision area"
	case "AMENDED":
		return "đã khai sửa đổi, bổ sung", "amended"
	case kindCancelled:
		return "đã hủy", "cancelled"
	}
	return strings.ToLower(kind), strings.ToLower(kind)
}
