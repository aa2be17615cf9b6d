package poller

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// SafetyNetOverlap is how far before the checkpoint each safety-net listing
// starts. updated_since has second precision and a person saved while the
// previous listing ran may show up late, so windows overlap; a person seen
// twice costs one message and no write (the applier's echo suppression).
const SafetyNetOverlap = 2 * time.Minute

// safetyNetPage is the listing's page size: Pipedrive's maximum, so a page
// of 500 persons costs 10 tokens.
const safetyNetPage = 500

func (p *Poller) safetyNetDue(conn *store.Connection) bool {
	return p.now().Sub(conn.LastSafetyNetAt) >= p.safetyNet
}

// runSafetyNet catches Pipedrive changes whose webhook never came (SPEC
// section 4): it lists the user's persons updated since the checkpoint
// minus an overlap, publishes an upsert for each one the link does not
// already hold at that version (or holds at a version written within its
// own second: syncplan.VersionSettled), then advances the checkpoint to the newest
// update_time seen (Pipedrive's clock, not ours) and re-registers webhooks
// Pipedrive banned or deleted.
func (p *Poller) runSafetyNet(ctx context.Context, conn *store.Connection, pd *pipedrive.Client) error {
	log := logging.FromContext(ctx)
	now := p.now()
	if conn.PipedriveUserID == 0 {
		// Without the owner filter the listing would be the whole company's.
		log.Warn("poller: safety net skipped: the connection has no Pipedrive user id")
		return nil
	}
	since := conn.PipedriveCheckpoint
	if since.IsZero() {
		// Everything before the connection existed is the first sync's job.
		since = conn.CreatedAt
	}
	if since.IsZero() {
		since = now.Add(-p.safetyNet)
	}
	opts := pipedrive.ListPersonsOptions{
		OwnerID: conn.PipedriveUserID, UpdatedSince: since.Add(-SafetyNetOverlap),
		SortBy: "update_time", Limit: safetyNetPage,
	}
	type seen struct {
		id      string
		updated time.Time
	}
	var persons []seen
	newest := conn.PipedriveCheckpoint
	for per, err := range pd.Persons(ctx, opts) {
		if err != nil {
			return fmt.Errorf("safety net: list Pipedrive persons: %w", err)
		}
		if per.IsDeleted || per.ID == 0 {
			continue
		}
		persons = append(persons, seen{id: strconv.FormatInt(per.ID, 10), updated: per.UpdateTime})
		if per.UpdateTime.After(newest) {
			newest = per.UpdateTime
		}
	}

	ids := make([]string, len(persons))
	for i, s := range persons {
		ids[i] = s.id
	}
	links, err := p.store.LinkRefsByPipedrive(ctx, conn.ID, ids)
	if err != nil {
		return fmt.Errorf("safety net: %w", err)
	}
	var cs []queue.Change
	for _, s := range persons {
		if l, ok := links[s.id]; ok && l.Pending == "" && syncplan.HoldsVersion(l.PipedriveVersion, s.updated) &&
			syncplan.VersionSettled(s.updated, l.UpdatedAt) {
			continue // the link already holds this version: nothing was lost
		}
		cs = append(cs, queue.Change{
			ConnectionID: conn.ID, Side: queue.Pipedrive, ObjectID: s.id, Kind: queue.Upsert,
			Source: queue.FromSafetyNet, OccurredAt: s.updated,
		})
	}
	if len(cs) > 0 {
		if err := p.pub.PublishChanges(ctx, p.changesTopic, cs...); err != nil {
			return fmt.Errorf("safety net: publish: %w", err)
		}
	}
	// Only now that every change is stored by Pub/Sub.
	if err := p.update(ctx, conn.ID, func(c *store.Connection) {
		c.LastSafetyNetAt = now
		if newest.After(c.PipedriveCheckpoint) {
			c.PipedriveCheckpoint = newest
		}
	}); err != nil {
		return err
	}
	log.Info("poller: safety net ran", "listed", len(persons), "published", len(cs))

	if p.webhooks != nil {
		created, err := p.webhooks.EnsureWebhooks(ctx, conn)
		if created > 0 {
			log.Warn("poller: Pipedrive webhooks were missing and are registered again", "created", created)
		}
		if err != nil {
			// Not fatal for this poll: the listing above already covers the
			// gap, and the next safety net tries again.
			log.Warn("poller: re-registering webhooks failed", "err", err)
			if uerr := p.update(ctx, conn.ID, func(c *store.Connection) {
				c.AddErrorKey(now, "webhooks_unchecked", "Pipedrive's webhooks could not be checked or registered again; changes made in Pipedrive may reach Google only every few minutes until this works.")
			}); uerr != nil {
				return uerr
			}
		}
	}
	return nil
}
