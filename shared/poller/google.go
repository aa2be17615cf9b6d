package poller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// entry is what the poller keeps of one listed Google person: no personal
// data, only what decides the message.
type entry struct {
	name    string // resourceName
	etag    string
	inGroup bool
	deleted bool     // a tombstone (incremental listings only)
	prev    []string // metadata.previousResourceNames
}

func toEntry(ps *people.Person, group string) entry {
	e := entry{name: ps.ResourceName, etag: ps.Etag}
	if md := ps.Metadata; md != nil {
		e.deleted = md.Deleted
		e.prev = md.PreviousResourceNames
	}
	groupID := strings.TrimPrefix(group, "contactGroups/")
	for _, m := range ps.Memberships {
		if cg := m.ContactGroupMembership; cg != nil &&
			(cg.ContactGroupResourceName == group || cg.ContactGroupResourceName == "" && cg.ContactGroupId == groupID) {
			e.inGroup = true
		}
	}
	return e
}

// googlePlan is what one Google poll publishes.
type googlePlan struct {
	upserts []string // resource names
	deletes []string
	// gone are tombstones of contacts no link knows: published as deletes
	// too (the applier may be creating their pair right now), but no
	// reason for the empty-side guard.
	gone []string
}

// pollGoogle lists what changed in Google since the stored sync token (or
// everything, without one or when it expired), publishes one change per
// contact of the group, and saves the new sync token after that.
//
// Pages are collected first (a few strings per contact, no personal data)
// and published together, so the mass-delete brake sees the whole poll
// before any delete leaves; the token (which Google returns on the last
// page only) is saved after every change was stored by Pub/Sub.
func (p *Poller) pollGoogle(ctx context.Context, conn *store.Connection, g *google.Client) error {
	log := logging.FromContext(ctx)
	stored := conn.GoogleSyncToken
	token, usable := g.LoadSyncToken(stored)
	if !usable {
		// Made with other list parameters (a deploy changed them): Google
		// would refuse it. Dropped, as an expired one.
		log.Info("poller: Google sync token was made with other list parameters; listing the whole group to reconcile")
	}
	if token == "" {
		return p.startReconcile(ctx, conn, "the connection has no usable Google sync token")
	}
	var entries []entry
	collect := func(pg *google.Page) error {
		for _, ps := range pg.People {
			if ps != nil && ps.ResourceName != "" {
				entries = append(entries, toEntry(ps, conn.GoogleGroup))
			}
		}
		return nil
	}
	next, err := g.List(ctx, token, collect)
	if errors.Is(err, google.ErrExpiredSyncToken) { // ErrSyncTokenRefused too
		return p.startReconcile(ctx, conn, "Google's sync token expired or was refused")
	}
	if err != nil {
		return fmt.Errorf("list Google contacts: %w", err)
	}
	if next == "" {
		return errors.New("list Google contacts: the last page carried no sync token")
	}

	plan, err := p.delta(ctx, conn, g, entries)
	if err != nil {
		return err
	}
	// The empty-side guard, on every poll that would delete: the group
	// suddenly shows nobody while links exist. Far more likely a wrong or
	// emptied group than the user deleting every contact, so the deletes
	// are held for the user and the connection pauses.
	if len(plan.deletes) > 0 {
		empty, links, err := p.groupEmpty(ctx, conn, g)
		if err != nil {
			return err
		}
		if empty {
			reason := fmt.Sprintf("Paused: the Google group lists no contacts while %d are linked, so nothing was deleted in Pipedrive. "+
				"If the group was emptied on purpose, confirm the deletes on the settings page; otherwise restore them.", links)
			if err := p.holdEmptySide(ctx, conn.ID, queue.Google, plan.deletes, queue.Delete, store.PauseEmptyGoogle, reason, links); err != nil {
				return err
			}
			plan.deletes = nil
		}
	}
	if err := p.publishGoogle(ctx, conn.ID, plan); err != nil {
		return err
	}
	now := p.now()
	saved := false
	err = p.update(ctx, conn.ID, func(c *store.Connection) {
		c.LastPollAt = now
		// Only if nobody changed the group or the token meanwhile: a token
		// is worth saving only for the group it was filtered for.
		saved = c.GoogleGroup == conn.GoogleGroup && c.GoogleSyncToken == stored
		if saved {
			c.GoogleSyncToken = g.StoreSyncToken(next) // with its parameters' fingerprint
		}
	})
	if err != nil {
		return err
	}
	log.Info("poller: Google polled", "listed", len(entries),
		"upserts", len(plan.upserts), "deletes", len(plan.deletes), "gone", len(plan.gone), "token_saved", saved)
	return nil
}

// groupEmpty reports whether the group has no member while links exist,
// and how many links there are.
func (p *Poller) groupEmpty(ctx context.Context, conn *store.Connection, g *google.Client) (bool, int64, error) {
	grp, err := g.GetGroup(ctx, conn.GoogleGroup, 0)
	if errors.Is(err, google.ErrNotFound) {
		return false, 0, groupGone
	}
	if err != nil {
		return false, 0, fmt.Errorf("read Google group: %w", err)
	}
	if grp.MemberCount > 0 {
		return false, 0, nil
	}
	links, err := p.store.CountLinks(ctx, conn.ID)
	if err != nil {
		return false, 0, err
	}
	return syncplan.CheckEmptySide(syncplan.Google, int(links), 0) != nil, links, nil
}

// holdEmptySide holds the changes of records a side no longer shows as
// braked deletes (the user confirms or restores them) and pauses the
// connection with the given reason (args are its values, for the settings
// page's translation): the empty-side guard.
func (p *Poller) holdEmptySide(ctx context.Context, connID string, side queue.Side, ids []string, kind queue.Kind, pause, reason string, args ...any) error {
	now := p.now()
	for _, id := range ids {
		if err := p.store.Hold(ctx, connID, store.HeldChange{
			Side: string(side), ObjectID: id, ChangeKind: string(kind), Kind: store.HeldBrake, Code: "empty_side",
			Reason: "the other side suddenly showed no contacts at all", FirstAt: now, LastAt: now,
		}); err != nil {
			return err
		}
	}
	logging.FromContext(ctx).Warn("poller: empty-side guard: deletes held, connection paused", "side", string(side), "held", len(ids))
	return p.update(ctx, connID, func(c *store.Connection) {
		if c.BrakeTrippedAt.IsZero() {
			c.BrakeTrippedAt = now
		}
		c.Status, c.StatusReason, c.PauseReason, c.PollDueAt = store.StatusPaused, reason, pause, time.Time{}
		c.AddErrorKey(now, pause, reason, args...)
	})
}

func (p *Poller) publishGoogle(ctx context.Context, connID string, plan googlePlan) error {
	if len(plan.upserts)+len(plan.deletes)+len(plan.gone) == 0 {
		return nil
	}
	now := p.now()
	cs := make([]queue.Change, 0, len(plan.upserts)+len(plan.deletes)+len(plan.gone))
	mk := func(name string, kind queue.Kind) queue.Change {
		return queue.Change{ConnectionID: connID, Side: queue.Google, ObjectID: name, Kind: kind, Source: queue.FromPoll, OccurredAt: now}
	}
	for _, n := range plan.upserts {
		cs = append(cs, mk(n, queue.Upsert))
	}
	for _, n := range append(plan.deletes, plan.gone...) {
		cs = append(cs, mk(n, queue.Delete))
	}
	if err := p.pub.PublishChanges(ctx, p.changesTopic, cs...); err != nil {
		return fmt.Errorf("publish Google changes: %w", err)
	}
	return nil
}

// unchanged says the listed contact is exactly what the link last synced
// (our own write coming back, or a repeat): no message needed.
func unchanged(e entry, l store.LinkRef) bool {
	return e.etag != "" && l.Pending == "" && l.GoogleVersion == e.etag
}

// delta classifies an incremental listing:
//   - in the group: upsert (unless the link already holds this etag);
//   - a tombstone: delete, also of a contact no link knows (gone): the
//     applier may be creating its pair right now, and the delete, ordered
//     after that create, then finds the link; else it costs one read;
//   - out of the group but linked: it left the group, a delete for the sync;
//   - out of the group and not linked: none of our business.
//
// A contact re-keyed by Google (previousResourceNames) has its link moved to
// the new resource name here, so the applier finds it under that name.
func (p *Poller) delta(ctx context.Context, conn *store.Connection, g *google.Client, entries []entry) (googlePlan, error) {
	var plan googlePlan
	if len(entries) == 0 {
		return plan, nil
	}
	// One entry per contact, the last listed state winning.
	byName := map[string]int{}
	names := make([]string, 0, len(entries))
	for i, e := range entries {
		byName[e.name] = i
		names = append(names, e.name)
		names = append(names, e.prev...)
	}
	links, err := p.store.LinkRefsByGoogle(ctx, conn.ID, names)
	if err != nil {
		return plan, err
	}
	var left []string
	for i, e := range entries {
		if byName[e.name] != i {
			continue
		}
		if _, ok := links[e.name]; !ok && !e.deleted {
			if err := p.rekey(ctx, conn.ID, e, links); err != nil {
				return plan, err
			}
		}
		l, linked := links[e.name]
		switch {
		case e.deleted && linked:
			plan.deletes = append(plan.deletes, e.name)
		case e.deleted:
			plan.gone = append(plan.gone, e.name)
		case e.inGroup:
			if !linked || !unchanged(e, l) {
				plan.upserts = append(plan.upserts, e.name)
			}
		case linked:
			left = append(left, e.name)
		}
	}
	if len(left) > 0 {
		// Confirm removals against the group itself: the group may be gone
		// (pause rather than delete everything), and a listing may lag
		// behind a membership just added (propagation delay).
		members, err := groupMembers(ctx, g, conn.GoogleGroup)
		if err != nil {
			return plan, err
		}
		for _, n := range left {
			if !members[n] {
				plan.deletes = append(plan.deletes, n)
			}
		}
	}
	return plan, nil
}

// rekey moves the link of one of e's previous resource names to e.name.
func (p *Poller) rekey(ctx context.Context, connID string, e entry, links map[string]store.LinkRef) error {
	for _, old := range e.prev {
		l, ok := links[old]
		if !ok {
			continue
		}
		moved, err := p.store.RekeyGoogleLink(ctx, connID, l.ID, old, e.name)
		if err != nil {
			return err
		}
		if moved {
			logging.FromContext(ctx).Info("poller: Google re-keyed a contact; link moved", "link", l.ID)
			delete(links, old)
			l.GoogleID = e.name
			links[e.name] = l
			return nil
		}
	}
	return nil
}

// groupGone pauses a connection whose group no longer exists.
var groupGone = &pauseError{why: store.PauseGroupGone,
	reason: "Paused: the chosen Google contact group no longer exists, so nothing was deleted. Choose a group on the settings page."}

// groupMembers returns the group's members as Google holds them now. A
// group that no longer exists pauses the connection.
func groupMembers(ctx context.Context, g *google.Client, group string) (map[string]bool, error) {
	gone := groupGone
	grp, err := g.GetGroup(ctx, group, 0)
	if errors.Is(err, google.ErrNotFound) {
		return nil, gone
	}
	if err != nil {
		return nil, fmt.Errorf("read Google group: %w", err)
	}
	members := map[string]bool{}
	if grp.MemberCount == 0 {
		return members, nil
	}
	// A little headroom for members added between the two reads.
	grp, err = g.GetGroup(ctx, group, int(grp.MemberCount)+100)
	if errors.Is(err, google.ErrNotFound) {
		return nil, gone
	}
	if err != nil {
		return nil, fmt.Errorf("read Google group members: %w", err)
	}
	for _, m := range grp.MemberResourceNames {
		members[m] = true
	}
	return members, nil
}
