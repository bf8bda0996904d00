package identity

// Pure helpers, exported to the tests of package identity_test.
var (
	NormalizePhone = normalizePhone
	NormalizeEmail = normalizeEmail
	NormalizeCode  = normalizeCode
	NewCode        = newInvitationCode
	HashCode       = hashCode
	Paging         = func(size int32, token string) (int, string, error) {
		p, err := paging(size, token)
		return p.size, p.after, err
	}
)
