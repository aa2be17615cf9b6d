package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"
	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/store"
)

// Group is a Google contact group as the picker shows it.
type Group struct {
	ResourceName string // contactGroups/…
	Name         string
	MemberCount  int64
}

// userGroupType is the groupType of groups the user made (not system groups
// such as "My Contacts" or "Starred").
const userGroupType = "USER_CONTACT_GROUP"

// googleClient opens a People client for refreshToken. The settings page
// makes a handful of calls, so the per-user limiter is off and retries are
// short (the sync paths keep their own clients and limits).
func (s *Service) googleClient(ctx context.Context, refreshToken string) (*google.Client, oauth2.TokenSource, error) {
	ts := oauth2.ReuseTokenSource(nil, s.accts.GoogleOAuth("").TokenSource(context.Background(), &oauth2.Token{RefreshToken: refreshToken}))
	opts := append([]google.Option{google.WithQuota(google.Quota{}), google.WithRetry(google.Retry{MaxAttempts: 3, Initial: 500 * time.Millisecond, Max: 5 * time.Second})}, s.cfg.GoogleOptions...)
	c, err := google.New(ctx, ts, s.cfg.GoogleBaseURL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect: google client: %w", err)
	}
	return c, ts, nil
}

func (s *Service) googleFor(ctx context.Context, connID string) (*google.Client, error) {
	rt, err := s.accts.Secret(ctx, connID, store.SecretGoogle)
	if errors.Is(err, account.ErrNotConnected) {
		return nil, userErr(ErrNotReady, err, "Connect your Google account first.")
	}
	if err != nil {
		return nil, err
	}
	c, _, err := s.googleClient(ctx, rt)
	return c, err
}

func revokedErr(err error) error {
	return userErr(ErrInvalidCredentials, err, "Google no longer accepts our access to this account (it was revoked or has expired). Connect your Google account again.")
}

// ConnectGoogle connects a Google account by the refresh token of an
// offline OAuth grant (contacts scope). It checks the token, identifies
// the account (its people/… id, never the e-mail address) and stores the
// token sealed.
//
// With connID set, the connection must be owned by owner; with connID "",
// a new connection owned by owner is created. A connection that already
// has another Google account refuses it (ErrAccountMismatch): its group
// and links belong to that account.
//
// Reconnecting the same account keeps the stored sync token, so a token
// that is still valid resumes without a full resync, and a connection
// waiting for re-authorization resumes.
func (s *Service) ConnectGoogle(ctx context.Context, owner, connID, refreshToken string) (*store.Connection, error) {
	if refreshToken == "" {
		return nil, userErr(ErrInvalidCredentials, nil, "Google did not return a refresh token; please connect again and grant access.")
	}
	gc, ts, err := s.googleClient(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	if _, err := ts.Token(); err != nil {
		if isInvalidGrant(err) {
			return nil, revokedErr(err)
		}
		return nil, fmt.Errorf("connect.ConnectGoogle: token: %w", err)
	}
	me, err := gc.Service().People.Get("people/me").PersonFields("metadata,emailAddresses").Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("connect.ConnectGoogle: people/me: %w", err)
	}
	if me.ResourceName == "" {
		return nil, fmt.Errorf("connect.ConnectGoogle: people/me without a resource name")
	}
	if connID == "" {
		c, err := s.Create(ctx, owner)
		if err != nil {
			return nil, err
		}
		connID = c.ID
	} else {
		c, err := s.Get(ctx, connID)
		if err != nil {
			return nil, err
		}
		if c.OwnerHash != owner {
			return nil, fmt.Errorf("connect: connection %s: %w", connID, ErrNotFound)
		}
		if c.GoogleAccount != "" && c.GoogleAccount != me.ResourceName {
			return nil, mismatchGoogle()
		}
	}
	if err := s.accts.Put(ctx, connID, store.SecretGoogle, refreshToken); err != nil {
		return nil, fmt.Errorf("connect: store Google credentials: %w", err)
	}
	return s.update(ctx, connID, func(c *store.Connection) error {
		if c.GoogleAccount != "" && c.GoogleAccount != me.ResourceName {
			return mismatchGoogle()
		}
		c.GoogleAccount = me.ResourceName // GoogleSyncToken is kept on purpose
		if email := primaryEmail(me); email != "" {
			c.GoogleEmail = email // a grant without the e-mail scope keeps the known one
		}
		c.AddEvent(s.now(), store.EventGoogleConnected)
		s.resumeAfterReauth(c, true)
		return nil
	})
}

// primaryEmail is the account's primary e-mail address ("" without the
// e-mail scope).
func primaryEmail(me *people.Person) string {
	for _, e := range me.EmailAddresses {
		if e.Metadata != nil && e.Metadata.Primary {
			return e.Value
		}
	}
	if len(me.EmailAddresses) > 0 {
		return me.EmailAddresses[0].Value
	}
	return ""
}

func mismatchGoogle() error {
	return userErr(ErrAccountMismatch, nil, "This connection syncs another Google account. Sign in with that account, or disconnect this connection first.")
}

// ListGroups returns the user's own contact groups (no system groups: "My
// Contacts" would pull in every contact, family included), sorted by name.
func (s *Service) ListGroups(ctx context.Context, connID string) ([]Group, error) {
	gc, err := s.googleFor(ctx, connID)
	if err != nil {
		return nil, err
	}
	gs, err := gc.ListGroups(ctx)
	if errors.Is(err, google.ErrRevoked) {
		return nil, revokedErr(err)
	}
	if err != nil {
		return nil, fmt.Errorf("connect.ListGroups: %w", err)
	}
	var out []Group
	for _, g := range gs {
		if g.GroupType == userGroupType {
			out = append(out, Group{ResourceName: g.ResourceName, Name: g.Name, MemberCount: g.MemberCount})
		}
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return out, nil
}

// ChooseGroup sets the contact group to sync; it must be one of the user's
// own groups and not synced by another connection. The group can change
// only before the sync started (afterwards the contacts of the old group
// would count as removed): disconnect and connect again to sync another.
func (s *Service) ChooseGroup(ctx context.Context, connID, resourceName string) (*store.Connection, error) {
	groups, err := s.ListGroups(ctx, connID)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(groups, func(g Group) bool { return g.ResourceName == resourceName })
	if i < 0 {
		return nil, userErr(ErrBadGroup, nil, "Choose one of your own contact groups.")
	}
	return s.setGroup(ctx, connID, resourceName, groups[i].Name)
}

// CreateGroup creates a dedicated contact group named name (empty means
// RecommendedGroup) and chooses it. If the user already has a group of
// that name (Google answers 409), that group is chosen.
func (s *Service) CreateGroup(ctx context.Context, connID, name string) (*store.Connection, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = RecommendedGroup
	}
	gc, err := s.googleFor(ctx, connID)
	if err != nil {
		return nil, err
	}
	g, err := gc.CreateGroup(ctx, name)
	switch {
	case errors.Is(err, google.ErrAlreadyExists):
		groups, lerr := s.ListGroups(ctx, connID)
		if lerr != nil {
			return nil, lerr
		}
		i := slices.IndexFunc(groups, func(g Group) bool { return strings.EqualFold(g.Name, name) })
		if i < 0 {
			return nil, userErr(ErrBadGroup, err, "A contact group named %q exists but is not one of your own groups; choose another name.", name)
		}
		return s.setGroup(ctx, connID, groups[i].ResourceName, groups[i].Name)
	case errors.Is(err, google.ErrRevoked):
		return nil, revokedErr(err)
	case err != nil:
		return nil, fmt.Errorf("connect.CreateGroup: %w", err)
	}
	return s.setGroup(ctx, connID, g.ResourceName, g.Name)
}

func (s *Service) setGroup(ctx context.Context, connID, group, name string) (*store.Connection, error) {
	c, err := s.Get(ctx, connID)
	if err != nil {
		return nil, err
	}
	others, err := s.store.ConnectionsByGoogleGroup(ctx, group)
	if err != nil {
		return nil, err
	}
	for _, o := range others {
		if o.ID != connID && o.GoogleAccount == c.GoogleAccount {
			return nil, userErr(ErrBadGroup, nil, "Another connection already syncs this contact group; choose or create another one.")
		}
	}
	return s.update(ctx, connID, func(c *store.Connection) error {
		if c.GoogleGroup == group {
			c.GoogleGroupName = name
			return nil
		}
		if c.GoogleGroup != "" && c.Status != store.StatusSetup {
			return userErr(ErrNotAllowed, nil, "The contact group cannot change once the sync has started. Disconnect and connect again to sync another group.")
		}
		c.GoogleGroup, c.GoogleGroupName = group, name
		return nil
	})
}
