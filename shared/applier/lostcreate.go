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
// user deleted it before the retry looked. pending says the retry has not
// run yet (the change waited, held, while this delete went ahead); else it
// found nothing and created the person again. Nil if none.
func (a *Applier) lostCreateOf(ctx context.Context, r *run) (l *store.Link, pending bool, _ error) {
	g := r.ch.Gone
	// A merge's loser is not such a person: its survivor carries it on.
	if r.ch.Side != queue.Pipedrive || r.ch.Kind != queue.Delete || r.ch.MergedToID != "" || g == nil || len(g.Prints) == 0 {
		return nil, false, nil
	}
	now := a.now()
	secret := r.conn.WebhookSecretHash
	pend, err := a.store.PendingLinks(ctx, r.conn.ID, syncplan.IntentPrefix(syncplan.Pipedrive), 20)
	if err != nil {
		return nil, false, fmt.Errorf("applier: pending creates: %w", err)
	}
	for _, l := range pend {
		in, st := syncplan.CheckIntent(l.Pending, now, a.grace, r.own[l.Pending])
		wrote := decodeStored[contact.Contact](ctx, l, "intent record", l.IntentBase)
		if st == syncplan.NoIntent || wrote == nil {
			continue
		}
		if !syncplan.WasLostCreate(syncplan.LostCreate{IntentAt: in.At, LookedAt: now}, now, g.AddedAt, g.Prints, syncplan.KeyPrints(secret, *wrote)) {
			continue
		}
		if st == syncplan.InFlight {
			return nil, false, errInFlight // its outcome first
		}
		return l, true, nil
	}
	links, err := a.store.LinksWithLostCreate(ctx, r.conn.ID, now.Add(-syncplan.LostCreateWindow))
	if err != nil {
		return nil, false, fmt.Errorf("applier: %w", err)
	}
	for _, l := range links {
		base := decodeStored[contact.Contact](ctx, l, "base", l.Base)
		if base == nil || l.PipedriveID == "" || l.PipedriveID == r.ch.ObjectID {
			continue
		}
		lc := syncplan.LostCreate{IntentAt: l.LostCreateAt, LookedAt: l.LostCreateLookedAt}
		if syncplan.WasLostCreate(lc, now, g.AddedAt, g.Prints, syncplan.KeyPrints(secret, *base)) {
			return l, false, nil
		}
	}
	return nil, false, nil
}

// deletedBeforeLooked takes the pending create of l as found: the person
// it made is the one the change deletes. The pair goes on as the delete of
// its person, as if the retry had found her before she was deleted.
func (a *Applier) deletedBeforeLooked(ctx context.Context, r *run, p *pair, l *store.Link) {
	pid := p.pid
	a.useLink(ctx, p, l)
	p.pid, p.person, p.pRead = pid, nil, true
	l.Pending, p.dirty = "", true
	a.createdFrom(p, syncplan.Google)
	logging.FromContext(ctx).Info("applier: the person a pending create made was deleted before the retry", "link", l.ID)
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
