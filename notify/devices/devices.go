// Package devices keeps the FCM tokens of users' devices, each bound to the
// session that registered it (removed when that session ends), and names the
// FCM topics a device is subscribed to for broadcasts.
package devices

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"hqconnect/internal/errs"
	"hqconnect/internal/store"
	"hqconnect/notify/inbox"
)

// Platforms and locales a device may have.
const (
	PlatformAndroid = "ANDROID"
	PlatformIOS     = "IOS"
	PlatformWeb     = "WEB"

	LocaleVI = "vi"
	LocaleEN = "en"
)

// Limits on what a device registration carries.
const (
	MaxTokenLen      = 4096
	MaxAppVersionLen = 32
)

// Locales are the push languages, Vietnamese first.
var Locales = []string{LocaleVI, LocaleEN}

// Device is one registered FCM token.
type Device struct {
	Token      string
	UserID     string
	SessionID  string
	Platform   string // ANDROID | IOS | WEB
	Locale     string // vi | en
	AppVersion string
	CreateTime time.Time
	UpdateTime time.Time
}

// Validate checks what the caller sent.
func (d Device) Validate() error {
	switch {
	case d.Token == "" || len(d.Token) > MaxTokenLen || strings.ContainsAny(d.Token, " \t\r\n") || !utf8.ValidString(d.Token):
		return errs.InvalidField("fcm_token",
			fmt.Sprintf("must be the FCM registration token the app received: 1 to %d characters without spaces", MaxTokenLen),
			fmt.Sprintf("phải là FCM registration token mà ứng dụng nhận được: từ 1 đến %d ký tự, không có khoảng trắng", MaxTokenLen))
	case d.Platform != PlatformAndroid && d.Platform != PlatformIOS && d.Platform != PlatformWeb:
		return errs.InvalidField("platform", "must be ANDROID, IOS or WEB", "phải là ANDROID, IOS hoặc WEB")
	case d.Locale != LocaleVI && d.Locale != LocaleEN:
		return errs.InvalidField("locale", `must be "vi" or "en"`, `phải là "vi" hoặc "en"`)
	case len(d.AppVersion) > MaxAppVersionLen || !utf8.ValidString(d.AppVersion):
		return errs.InvalidField("app_version",
			fmt.Sprintf("at most %d characters, such as \"2.3.1\"", MaxAppVersionLen),
			fmt.Sprintf("tối đa %d ký tự, ví dụ \"2.3.1\"", MaxAppVersionLen))
	case d.UserID == "" || d.SessionID == "":
		return fmt.Errorf("register device: a user and a session are required")
	}
	return nil
}

// Store reads and writes the devices table.
type Store struct {
	db *store.DB
}

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// maxIn bounds the values bound in one IN list.
const maxIn = 500

const deviceColumns = `fcm_token, user_id, session_id, platform, locale, app_version, create_time, update_time`

// Register stores d, keyed by its token: a token already registered (by this
// or another user) moves to d's user and session, as a phone changes hands
// or a user signs in again. To unsubscribe a moved token from its former
// owner's topics, read it with Get first.
func (s *Store) Register(ctx context.Context, d Device) error {
	if err := d.Validate(); err != nil {
		return err
	}
	now := d.UpdateTime
	if now.IsZero() {
		now = store.Now()
	}
	// create_time is kept only while the token stays with the same user.
	_, err := s.db.ExecContext(ctx, `INSERT INTO devices (`+deviceColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
ON CONFLICT (fcm_token) DO UPDATE SET
    create_time = CASE WHEN devices.user_id = excluded.user_id THEN devices.create_time ELSE excluded.create_time END,
    user_id = excluded.user_id, session_id = excluded.session_id, platform = excluded.platform,
    locale = excluded.locale, app_version = excluded.app_version, update_time = excluded.update_time`,
		d.Token, d.UserID, d.SessionID, d.Platform, d.Locale, d.AppVersion, now.UTC())
	if err != nil {
		return fmt.Errorf("register device: %w", err)
	}
	return nil
}

// Get returns the device with token, if registered.
func (s *Store) Get(ctx context.Context, token string) (Device, bool, error) {
	ds, err := s.query(ctx, `SELECT `+deviceColumns+` FROM devices WHERE fcm_token = $1`, token)
	if err != nil || len(ds) == 0 {
		return Device{}, false, err
	}
	return ds[0], true, nil
}

// Unregister removes token if it is userID's, and reports whether it was.
func (s *Store) Unregister(ctx context.Context, userID, token string) (bool, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM devices WHERE fcm_token = $1 AND user_id = $2`, token, userID)
	if err != nil {
		return false, fmt.Errorf("unregister device: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("unregister device: %w", err)
	}
	return n > 0, nil
}

// ForUser returns userID's devices.
func (s *Store) ForUser(ctx context.Context, userID string) ([]Device, error) {
	return s.ForUsers(ctx, []string{userID})
}

// ForUsers returns the devices of userIDs, by user then token, in one query
// per 500 users.
func (s *Store) ForUsers(ctx context.Context, userIDs []string) ([]Device, error) {
	var out []Device
	for start := 0; start < len(userIDs); start += maxIn {
		chunk := userIDs[start:min(start+maxIn, len(userIDs))]
		in, args := store.InList(1, chunk)
		ds, err := s.query(ctx, `SELECT `+deviceColumns+` FROM devices WHERE user_id IN (`+in+`) ORDER BY user_id, fcm_token`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

// ForSessions returns the devices registered by sessionIDs.
func (s *Store) ForSessions(ctx context.Context, sessionIDs []string) ([]Device, error) {
	var out []Device
	for start := 0; start < len(sessionIDs); start += maxIn {
		chunk := sessionIDs[start:min(start+maxIn, len(sessionIDs))]
		in, args := store.InList(1, chunk)
		ds, err := s.query(ctx, `SELECT `+deviceColumns+` FROM devices WHERE session_id IN (`+in+`) ORDER BY fcm_token`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		if err := rows.Scan(&d.Token, &d.UserID, &d.SessionID, &d.Platform, &d.Locale, &d.AppVersion, &d.CreateTime, &d.UpdateTime); err != nil {
			return nil, fmt.Errorf("read devices: %w", err)
		}
		d.CreateTime, d.UpdateTime = d.CreateTime.UTC(), d.UpdateTime.UTC()
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read devices: %w", err)
	}
	return out, nil
}

// DeleteTokens removes tokens FCM called dead, whoever they belong to.
func (s *Store) DeleteTokens(ctx context.Context, tokens []string) (int, error) {
	return s.deleteIn(ctx, "fcm_token", tokens)
}

// DeleteSessions removes the devices of ended sessions.
func (s *Store) DeleteSessions(ctx context.Context, sessionIDs []string) (int, error) {
	return s.deleteIn(ctx, "session_id", sessionIDs)
}

// DeleteUser removes every device of userID.
func (s *Store) DeleteUser(ctx context.Context, userID string) (int, error) {
	return s.deleteIn(ctx, "user_id", []string{userID})
}

// deleteIn deletes the rows whose column is one of vals; column is one of
// the constants above, never input.
func (s *Store) deleteIn(ctx context.Context, column string, vals []string) (int, error) {
	total := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(vals); start += maxIn {
			chunk := vals[start:min(start+maxIn, len(vals))]
			in, args := store.InList(1, chunk)
			res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE `+column+` IN (`+in+`)`, args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete devices by %s: %w", column, err)
	}
	return total, nil
}

// Topics returns the FCM topics device d is subscribed to, server side, so
// that broadcasts to v's audiences reach it: one per audience in d's locale,
// e.g. "all_vi", "enterprise_users_vi", "enterprise_<id>_vi".
func Topics(d Device, v inbox.Viewer) []string {
	auds := v.Audiences()
	out := make([]string, 0, len(auds))
	for _, a := range auds {
		out = append(out, TopicName(a[0], a[1], d.Locale))
	}
	return out
}

// TopicName names the FCM topic of a broadcast audience (and its id, for
// "enterprise" and "unit") in locale: "all_vi", "officers_en",
// "unit_<id>_vi". Characters FCM does not allow in topic names are
// percent-encoded (FCM allows [a-zA-Z0-9-_.~%]); UUIDs pass unchanged.
func TopicName(audience, audienceID, locale string) string {
	if locale != LocaleEN {
		locale = LocaleVI
	}
	var b strings.Builder
	b.WriteString(topicEscape(audience))
	if audienceID != "" {
		b.WriteByte('_')
		b.WriteString(topicEscape(audienceID))
	}
	b.WriteByte('_')
	b.WriteString(locale)
	return b.String()
}

func topicEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
