package identity

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/taxcode"
)

// DemoAccount is one account SeedDemo made (or found), as printed by
// "hqconnect seed --demo".
type DemoAccount struct {
	Login string   `json:"login"`
	Kind  string   `json:"kind"` // "officer" | "enterprise_user"
	Roles []string `json:"roles"`
	// Unit is the officer's unit code.
	Unit string `json:"unit,omitempty"`
	// TaxCode is the enterprise user's enterprise.
	TaxCode string `json:"tax_code,omitempty"`
}

type demoUnit struct {
	code, parent, kind, vi, en string
}

// The demo organisation, parents before children.
var demoUnits = []demoUnit{
	{"DEMOHQ", "", unitDepartment, "Cục Hải quan Thành phố Demo", "Demo City Customs Department"},
	{"DEMOCK1", "DEMOHQ", unitBranch, "Chi cục Hải quan cửa khẩu cảng Demo", "Demo Seaport Border-Gate Customs Branch"},
	{"DEMOCK1TT", "DEMOCK1", unitTeam, "Đội Thủ tục hàng hóa xuất nhập khẩu", "Import-Export Procedures Team"},
	{"DEMOCK1KS", "DEMOCK1", unitTeam, "Đội Kiểm soát hải quan", "Customs Control Team"},
	{"DEMOKCN", "DEMOHQ", unitBranch, "Chi cục Hải quan khu công nghiệp Demo", "Demo Industrial Zone Customs Branch"},
	{"DEMOKCNNV", "DEMOKCN", unitTeam, "Đội Nghiệp vụ", "Operations Team"},
}

type demoOfficer struct {
	email, name, unit, role string
}

var demoOfficers = []demoOfficer{
	{"officer@demo.hqconnect.vn", "Nguyễn Văn Cán Bộ", "DEMOCK1TT", auth.RoleOfficer},
	{"head@demo.hqconnect.vn", "Trần Thị Chi Cục Trưởng", "DEMOCK1", auth.RoleUnitHead},
	{"director@demo.hqconnect.vn", "Lê Văn Cục Trưởng", "DEMOHQ", auth.RoleDirector},
	{"inspector@demo.hqconnect.vn", "Phạm Thị Thanh Tra", "DEMOHQ", auth.RoleInspector},
	{"admin@demo.hqconnect.vn", "Hoàng Văn Quản Trị", "DEMOHQ", auth.RoleAdmin},
}

type demoEnterprise struct {
	nine, name, address, domain, adminName, staffName string
}

// The tax codes are the nine digits plus their check digit.
var demoEnterprises = []demoEnterprise{
	{"010010910", "Công ty Cổ phần Xuất nhập khẩu Demo", "Số 1 Đường Cảng, Thành phố Demo", "xnk.demo.vn",
		"Đỗ Thị Quản Lý", "Vũ Văn Nhân Viên"},
	{"031234567", "Công ty TNHH Logistics Demo", "Lô A2 Khu công nghiệp Demo, Thành phố Demo", "logistics.demo.vn",
		"Bùi Văn Giám Đốc", "Đặng Thị Khai Báo"},
}

// demoEffectiveFrom is fixed so that a second run finds the same units.
var demoEffectiveFrom = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func demoTaxCode(nine string) (string, error) {
	d := taxcode.CheckDigit(nine)
	if d < 0 {
		return "", fmt.Errorf("demo tax code %s: no check digit", nine)
	}
	code := fmt.Sprintf("%s%d", nine, d)
	return code, taxcode.Validate(code)
}

// SeedDemo creates the demo organisation, one officer per role and two
// verified enterprises with an ENTERPRISE_ADMIN and a STAFF user each, all
// with the given password. It is idempotent: whatever exists already (by unit
// code, email or tax code) is kept as it is, passwords included, and the same
// accounts are returned. Audit rows name the system as the actor.
//
// New accounts of one run share one password hash (and so one salt): these
// are demo accounts with one published password, and hashing once keeps the
// seed fast.
func SeedDemo(ctx context.Context, db *store.DB, password string) ([]DemoAccount, error) {
	if err := auth.ValidatePassword("password", password); err != nil {
		return nil, err
	}
	var hash string
	hashOnce := func() (string, error) {
		if hash == "" {
			h, err := auth.HashPassword(password)
			if err != nil {
				return "", err
			}
			hash = h
		}
		return hash, nil
	}
	// The principal-less context makes audit.Record name the system.
	ctx = auth.WithPrincipal(ctx, nil)
	var accounts []DemoAccount
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		accounts = accounts[:0]
		now := store.Now()
		unitIDs := map[string]string{}
		for _, du := range demoUnits {
			u, err := unitByCode(ctx, tx, du.code)
			if err == nil {
				unitIDs[du.code] = u.ID
				continue
			}
			if !store.IsNoRows(err) {
				return err
			}
			u = &unitRow{
				ID: ids.New(), ParentID: unitIDs[du.parent], Kind: du.kind, Code: du.code, NameVi: du.vi, NameEn: du.en,
				EffectiveFrom: demoEffectiveFrom, CreateTime: now,
			}
			if err := insertUnit(ctx, tx, u); err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, "org_unit.create", "org_unit", u.ID,
				map[string]any{"code": u.Code, "kind": u.Kind, "seed": "demo"}); err != nil {
				return err
			}
			unitIDs[du.code] = u.ID
		}

		// ensureUser creates the account unless its email is taken.
		ensureUser := func(u *userRow, action string) error {
			if _, err := userByEmail(ctx, tx, u.Email); err == nil {
				return nil
			} else if !store.IsNoRows(err) {
				return err
			}
			h, err := hashOnce()
			if err != nil {
				return err
			}
			u.ID, u.PasswordHash, u.Status, u.CreateTime, u.UpdateTime = ids.New(), h, statusActive, now, now
			if err := insertUser(ctx, tx, u); err != nil {
				return err
			}
			return audit.Record(ctx, tx, action, "user", u.ID, map[string]any{"roles": u.Roles, "seed": "demo"})
		}

		for _, o := range demoOfficers {
			u := &userRow{Kind: string(auth.KindOfficer), Email: o.email, FullName: o.name,
				UnitID: unitIDs[o.unit], Roles: []string{o.role}}
			if err := ensureUser(u, "officer.create"); err != nil {
				return err
			}
			accounts = append(accounts, DemoAccount{Login: o.email, Kind: string(auth.KindOfficer),
				Roles: []string{o.role}, Unit: o.unit})
		}

		for _, de := range demoEnterprises {
			taxCode, err := demoTaxCode(de.nine)
			if err != nil {
				return err
			}
			e, err := enterpriseByTaxCode(ctx, tx, taxCode)
			if store.IsNoRows(err) {
				e = &enterpriseRow{ID: ids.New(), TaxCode: taxCode, Name: de.name, Address: de.address,
					Status: entVerified, DecideTime: &now, CreateTime: now}
				if err := insertEnterprise(ctx, tx, e); err != nil {
					return err
				}
				if err := audit.Record(ctx, tx, "enterprise.register", "enterprise", e.ID,
					map[string]any{"tax_code": taxCode, "seed": "demo"}); err != nil {
					return err
				}
				if err := audit.Record(ctx, tx, "enterprise.verify", "enterprise", e.ID,
					map[string]any{"tax_code": taxCode, "seed": "demo"}); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
			for _, su := range []struct{ local, name, role string }{
				{"admin", de.adminName, auth.RoleEnterpriseAdmin},
				{"staff", de.staffName, auth.RoleStaff},
			} {
				email := su.local + "@" + de.domain
				u := &userRow{Kind: string(auth.KindEnterpriseUser), Email: email, FullName: su.name,
					EnterpriseID: e.ID, Roles: []string{su.role}}
				if err := ensureUser(u, "user.create"); err != nil {
					return err
				}
				accounts = append(accounts, DemoAccount{Login: email, Kind: string(auth.KindEnterpriseUser),
					Roles: []string{su.role}, TaxCode: taxCode})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("seed demo data: %w", err)
	}
	return accounts, nil
}
