package applier

import (
	"context"
	"fmt"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// lostCreateOf finds, for the delete of a Pipedrive person no link knows,
// the pair whose lost create made that person (syncplan.LostCreate): the
// user deleted it before the retry looked, and the retry created the
// person again. Nil if none.
func (a *Applier) lostCreateOf(ctx context.Context, r *run) (*store.Link, error) {
	g := r.ch.Gone
	// A merge's loser is not such a person: its survivor carries it on.
	if r.ch.Side != queue.Pipedrive || r.ch.Kind != queue.Delete || r.ch.MergedToID != "" || g == nil || len(g.Prints) == 0 {
		return nil, nil
	}
	now := a.now()
	links, err := a.store.LinksWithLostCreate(ctx, r.conn.ID, now.Add(-syncplan.LostCreateWindow))
	if err != nil {
		return nil, fmt.Errorf("applier: %w", err)
	}
	for _, l := range links {
		base := decodeStored[contact.Contact](ctx, l, "base", l.Base)
		if base == nil || l.PipedriveID == "" || l.PipedriveID == r.ch.ObjectID {
			continue
		}
		lc := syncplan.LostCreate{IntentAt: l.LostCreateAt, LookedAt: l.LostCreateLookedAt}
		if syncplan.WasLostCreate(lc, now, g.AddedAt, g.Prints, syncplan.KeyPrints(r.conn.WebhookSecretHash, *base)) {
			return l, nil
		}
	}
	return nil, nil
}

// undoRecreate makes the pair of l, whose lost create's person the user
// deleted, the delete of its person: the person created again is deleted
// too, if it is still as the pair last synced it (then it is only our
// copy; one the user changed since stays, an edit beats a delete), and
// the pair goes on with its person gone, so the delete policy applies to
// its Google contact.
func (a *Applier) undoRecreate(ctx context.Context, r *run, p *pair, l *store.Link) error {
	log := logging.FromContext(ctx)
	a.useLink(ctx, p, l)
	if err := a.readPipedrive(ctx, r, p); err != nil {
		return err
	}
	if p.person == nil || p.person.IsDeleted {
		return nil
	}
	if !syncplan.HoldsVersion(l.PipedriveVersion, p.person.UpdateTime) {
		log.Info("applier: the person a lost create made was deleted; its copy was changed since and stays", "person", p.pid)
		return nil
	}
	log.Info("applier: the person a lost create made was deleted; deleting the copy made again", "person", p.pid)
	if err := r.cl.Pipedrive.DeletePerson(ctx, p.pid); err != nil && !pipedrive.Gone(err) {
		return fmt.Errorf("applier: delete the person made again: %w", err)
	}
	p.person = nil
	return nil
}
