package clearance

import (
	"encoding/json"
	"fmt"
	"time"

	"hqconnect/internal/outbox"
)

// EventStatusChanged: a declaration's status changed (an event with a higher
// sequence than any before was accepted). Tells the enterprise's users;
// clearance is a critical category, always pushed. Data: StatusChanged.
const EventStatusChanged = "clearance.status_changed"

// StatusChanged is the Data of an EventStatusChanged event.
type StatusChanged struct {
	Number   string `json:"number"`
	Sequence int64  `json:"sequence"`
	Status   string `json:"status"`
	TaxCode  string `json:"tax_code"`
	Channel  string `json:"channel,omitempty"`
}

// vietnamTime is Asia/Ho_Chi_Minh (UTC+7 all year), fixed so that no tzdata
// is needed to word a notification.
var vietnamTime = time.FixedZone("ICT", 7*60*60)

// statusChanged is the outbox event telling enterpriseID's users that the
// declaration st has its new status. One collapse key per declaration: a
// newer push replaces an older one on the device.
func statusChanged(enterpriseID string, st *declState, at time.Time) outbox.Event {
	vi, en := statusText(st.Status, st.Channel)
	when := st.StatusTime.In(vietnamTime).Format("15:04 02/01/2006")
	data, _ := json.Marshal(StatusChanged{Number: st.Number, Sequence: st.StatusSeq, Status: st.Status,
		TaxCode: st.TaxCode, Channel: st.Channel})
	return outbox.Event{
		Kind: EventStatusChanged,
		Time: at,
		Data: data,
		Notification: &outbox.Notification{
			Audience:    outbox.Audience{EnterpriseIDs: []string{enterpriseID}},
			Category:    outbox.CategoryClearance,
			Critical:    true,
			TitleVI:     fmt.Sprintf("Tờ khai %s: %s", st.Number, vi),
			TitleEN:     fmt.Sprintf("Declaration %s: %s", st.Number, en),
			BodyVI:      fmt.Sprintf("Tờ khai %s (loại hình %s, hải quan %s): %s lúc %s.", st.Number, st.TypeCode, st.Office, vi, when),
			BodyEN:      fmt.Sprintf("Declaration %s (type %s, customs office %s): %s at %s.", st.Number, st.TypeCode, st.Office, en, when),
			EntityKind:  "declaration",
			EntityID:    st.Number,
			CollapseKey: "declaration:" + st.Number,
		},
	}
}
