package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"hqconnect/internal/auth"
	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
)

// Events identity tells the rest of the system about, through the outbox in
// the transaction of the change (or of its audit row, when the change itself
// lives in Redis).
const (
	// EventLogin: a new sign-in. Warns the user's other devices.
	EventLogin = "identity.login"
	// EventPasswordChanged: the password was changed. Warns the user's
	// other devices.
	EventPasswordChanged = "identity.password_changed"
	// EventSessionEnded: sessions ended (logout, revocation, password change,
	// a disabled or changed account). The notify worker removes the devices
	// bound to them. Data: SessionsEnded.
	EventSessionEnded = "identity.session_ended"
	// EventEnterpriseDecided: customs verified or rejected a registration.
	// Tells the enterprise's users (who must refresh their token to use
	// the whole API once verified).
	EventEnterpriseDecided = "identity.enterprise_decided"
)

// registrationDecided tells every user of e that its registration was
// verified or rejected (with the reason).
func registrationDecided(e *enterpriseRow, at time.Time) outbox.Event {
	n := &outbox.Notification{
		Audience:   outbox.Audience{EnterpriseIDs: []string{e.ID}},
		Category:   outbox.CategoryAccount,
		EntityKind: "enterprise",
		EntityID:   e.ID,
	}
	if e.Status == entVerified {
		n.TitleEN, n.TitleVI = "Your enterprise is verified", "Doanh nghiệp của bạn đã được xác minh"
		n.BodyEN = fmt.Sprintf("Customs verified the registration of %s (tax code %s). Sign in again to use every service.", e.Name, e.TaxCode)
		n.BodyVI = fmt.Sprintf("Cơ quan hải quan đã xác minh hồ sơ đăng ký của %s (mã số thuế %s). Vui lòng đăng nhập lại để sử dụng đầy đủ dịch vụ.", e.Name, e.TaxCode)
	} else {
		n.TitleEN, n.TitleVI = "Your registration was rejected", "Hồ sơ đăng ký doanh nghiệp bị từ chối"
		n.BodyEN = fmt.Sprintf("Customs rejected the registration of %s (tax code %s): %s", e.Name, e.TaxCode, e.RejectReason)
		n.BodyVI = fmt.Sprintf("Cơ quan hải quan đã từ chối hồ sơ đăng ký của %s (mã số thuế %s): %s", e.Name, e.TaxCode, e.RejectReason)
	}
	return outbox.Event{Kind: EventEnterpriseDecided, Time: at, Notification: n}
}

// SessionsEnded is the Data of an EventSessionEnded event.
type SessionsEnded struct {
	UserID     string   `json:"user_id"`
	SessionIDs []string `json:"session_ids"`
}

// vietnamTime is Asia/Ho_Chi_Minh (UTC+7 all year), fixed so that no tzdata
// is needed to word a notification.
var vietnamTime = time.FixedZone("ICT", 7*60*60)

// timeFormat is how notification bodies show a time: "15:04 02/01/2006".
const timeFormat = "15:04 02/01/2006"

// securityNotice is a critical notification to userID about something done
// from sessionID, which is not warned about itself.
func securityNotice(kind, userID, sessionID, deviceName string, at time.Time, titleEN, titleVI, doneEN, doneVI string) outbox.Event {
	when := at.In(vietnamTime).Format(timeFormat)
	deviceEN, deviceVI := "an unnamed device", "một thiết bị không tên"
	if deviceName != "" {
		deviceEN, deviceVI = "“"+deviceName+"”", "“"+deviceName+"”"
	}
	return outbox.Event{
		Kind: kind,
		Time: at,
		Notification: &outbox.Notification{
			Audience: outbox.Audience{UserIDs: []string{userID}},
			Category: outbox.CategorySecurity,
			TitleEN:  titleEN,
			TitleVI:  titleVI,
			BodyEN: fmt.Sprintf("%s on %s at %s (Vietnam time). If this wasn't you, change your password.",
				doneEN, deviceEN, when),
			BodyVI: fmt.Sprintf("%s trên %s lúc %s (giờ Việt Nam). Nếu không phải bạn, hãy đổi mật khẩu ngay.",
				doneVI, deviceVI, when),
			EntityKind:      "session",
			EntityID:        sessionID,
			Critical:        true,
			ExceptSessionID: sessionID,
		},
	}
}

// loginEvent warns userID's other devices of the sign-in that created
// sessionID.
func loginEvent(userID, sessionID, deviceName string, at time.Time) outbox.Event {
	return securityNotice(EventLogin, userID, sessionID, deviceName, at,
		"New sign-in to your account", "Đăng nhập mới vào tài khoản của bạn",
		"Signed in", "Đăng nhập")
}

// passwordChangedEvent warns userID's other devices that the password was
// changed from sessionID.
func passwordChangedEvent(userID, sessionID, deviceName string, at time.Time) outbox.Event {
	return securityNotice(EventPasswordChanged, userID, sessionID, deviceName, at,
		"Your password was changed", "Mật khẩu của bạn đã được thay đổi",
		"Password changed", "Mật khẩu đã được đổi")
}

// addSessionsEnded records, in tx, that userID's sessions ended; nothing
// when there are none.
func addSessionsEnded(ctx context.Context, tx store.Queryer, userID string, sessionIDs []string, at time.Time) error {
	if len(sessionIDs) == 0 {
		return nil
	}
	data, err := json.Marshal(SessionsEnded{UserID: userID, SessionIDs: sessionIDs})
	if err != nil {
		return fmt.Errorf("encode ended sessions: %w", err)
	}
	_, err = outbox.Add(ctx, tx, outbox.Event{Kind: EventSessionEnded, Time: at, Data: data})
	return err
}

// sessionsOf lists userID's active sessions except exceptID ("" for none),
// before a RevokeAll, so that the event can name them.
func (s *Service) sessionsOf(ctx context.Context, userID, exceptID string) (ids []string, except *auth.SessionInfo, err error) {
	list, err := s.sessions.List(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	for i := range list {
		if list[i].ID == exceptID {
			except = &list[i]
			continue
		}
		ids = append(ids, list[i].ID)
	}
	return ids, except, nil
}
