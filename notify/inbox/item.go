// Package inbox stores what users are told: personal items (one row per
// user and event) and broadcasts (one row per event, shown to a whole
// audience without a row per user), and reads them back as one inbox.
package inbox

import "time"

// Item is one inbox entry, personal or broadcast, in both languages.
type Item struct {
	ID         string // UUIDv7: the inbox's order and WatchUpdates' after_id
	UserID     string // empty for a broadcast
	EventID    string
	Category   string // outbox.Category*
	TitleVI    string
	TitleEN    string
	BodyVI     string
	BodyEN     string
	EntityKind string
	EntityID   string
	CreateTime time.Time
	ReadTime   time.Time // zero while unread (per viewer for broadcasts)
	Broadcast  bool
	// Audience and AudienceID are set for broadcasts ("all",
	// "enterprise_users", "officers", "enterprise" + id, "unit" + id).
	Audience   string
	AudienceID string
}

// Title returns the title in locale ("en", else Vietnamese).
func (it Item) Title(locale string) string {
	if locale == "en" && it.TitleEN != "" {
		return it.TitleEN
	}
	return it.TitleVI
}

// Body returns the body in locale ("en", else Vietnamese).
func (it Item) Body(locale string) string {
	if locale == "en" && it.BodyEN != "" {
		return it.BodyEN
	}
	return it.BodyVI
}

// Viewer is whose inbox is read: broadcasts are matched against it.
type Viewer struct {
	UserID       string
	Kind         string // auth.KindOfficer | auth.KindEnterpriseUser
	EnterpriseID string
	UnitID       string
}

// Audiences lists the broadcast audiences v belongs to, as (audience,
// audience_id) pairs.
func (v Viewer) Audiences() [][2]string {
	out := [][2]string{{"all", ""}}
	switch v.Kind {
	case "officer":
		out = append(out, [2]string{"officers", ""})
		if v.UnitID != "" {
			out = append(out, [2]string{"unit", v.UnitID})
		}
	case "enterprise_user":
		out = append(out, [2]string{"enterprise_users", ""})
		if v.EnterpriseID != "" {
			out = append(out, [2]string{"enterprise", v.EnterpriseID})
		}
	}
	return out
}
