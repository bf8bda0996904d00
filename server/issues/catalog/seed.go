package catalog

import (
	"context"
	"database/sql"
	"fmt"

	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/store"
)

// Demo routing (identity.SeedDemo's organisation): the team DEMOCK1TT
// answers everything; the categories whose answers need approval are signed
// by the head of branch DEMOCK1.
var (
	demoTeamCodes   = []string{"VNACCS", "PROCEDURE", "EPAYMENT", "SPECIALISED", "OTHER"}
	demoSignedCodes = []string{"HS", "ORIGIN", "VALUATION", "TAX"}
)

const (
	demoTeam   = "DEMOCK1TT"
	demoBranch = "DEMOCK1"
)

// SeedDemo routes the seeded categories to the demo units when those units
// exist (after identity.SeedDemo). Only categories still without a unit (or
// signer unit) are changed, so running it again, or after an ADMIN routed a
// category elsewhere, changes nothing.
func SeedDemo(ctx context.Context, db *store.DB) error {
	ctx = auth.WithPrincipal(ctx, nil) // the system seeds
	return db.Tx(ctx, func(tx *sql.Tx) error {
		team, err := unitIDByCode(ctx, tx, demoTeam)
		if err != nil || team == "" {
			return err
		}
		branch, err := unitIDByCode(ctx, tx, demoBranch)
		if err != nil {
			return err
		}
		now := store.Now()
		route := func(code string, signer bool) error {
			res, err := tx.ExecContext(ctx, `UPDATE issue_categories SET unit_id = $2, update_time = $3
				WHERE code = $1 AND unit_id IS NULL`, code, team, now)
			if err != nil {
				return fmt.Errorf("route demo category: %w", err)
			}
			n, _ := res.RowsAffected()
			detail := map[string]any{"unit_id": team, "seed": "demo"}
			if signer && branch != "" {
				res, err := tx.ExecContext(ctx, `UPDATE issue_categories SET signer_unit_id = $2, signer_role = 'UNIT_HEAD',
					update_time = $3 WHERE code = $1 AND signer_unit_id IS NULL`, code, branch, now)
				if err != nil {
					return fmt.Errorf("set demo category signer: %w", err)
				}
				m, _ := res.RowsAffected()
				n += m
				detail["signer_unit_id"], detail["signer_role"] = branch, auth.RoleUnitHead
			}
			if n == 0 {
				return nil
			}
			var id string
			if err := tx.QueryRowContext(ctx, `SELECT id FROM issue_categories WHERE code = $1`, code).Scan(&id); err != nil {
				return fmt.Errorf("select demo category: %w", err)
			}
			return audit.Record(ctx, tx, "issue_category.update", "issue_category", id, detail)
		}
		for _, code := range demoTeamCodes {
			if err := route(code, false); err != nil {
				return err
			}
		}
		for _, code := range demoSignedCodes {
			if err := route(code, true); err != nil {
				return err
			}
		}
		return nil
	})
}

// unitIDByCode returns the id of the unit with code, "" when there is none.
func unitIDByCode(ctx context.Context, q store.Queryer, code string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM org_units WHERE code = $1`, code).Scan(&id)
	if store.IsNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("select org unit %s: %w", code, err)
	}
	return id, nil
}
