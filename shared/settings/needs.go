package settings

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/store"
)

// "Needs you": what waits for the user's decision, from the held changes
// (store.HeldChange) the applier and the poller keep instead of dropping a
// change. Contacts are named, never shown by id: by the name the held
// change carries, else by the name of the linked pair, else by the
// records themselves (read live for a review). Names, e-mail addresses
// and phone numbers go to the owner's page only, never to a log.

// Bounds of what the page lists (the counts say how many there are).
const (
	maxHeldListed  = 20
	maxReviews     = 5
	maxBrakeListed = 20
	// maxHeldRead bounds the held changes read to find the undecided ones
	// (those the user answered wait for the next poll to be carried out).
	maxHeldRead = 100
	// readTimeout bounds the live reads of one review's records.
	readTimeout = 10 * time.Second
)

// fillNeeds fills the counts, the held changes, the records held for
// review and the held deletes of c. A failed read leaves its part out (and
// is logged); the rest of the page is shown.
func (h *Handler) fillNeeds(ctx context.Context, c *store.Connection, v *connView) {
	if v.Setup {
		return
	}
	log := logging.FromContext(ctx)
	h.fillCounts(ctx, c, v)
	if err := h.fillHeld(ctx, c, v); err != nil {
		log.Info("settings: held changes", "connection", c.ID, "err", err)
	}
	if err := h.fillReviews(ctx, c, v); err != nil {
		log.Info("settings: records held for review", "connection", c.ID, "err", err)
	}
	if err := h.fillBrake(ctx, c, v); err != nil {
		log.Info("settings: held deletes", "connection", c.ID, "err", err)
	}
	// What a pause by the empty-side guard means, whatever words were
	// stored when it paused.
	if c.Status == store.StatusPaused {
		switch c.PauseReason {
		case store.PauseEmptyGoogle, store.PauseEmptyPipedrive:
			v.State.Detail = shown{Text: tr(v.lang, "pause."+c.PauseReason, v.Linked)}
		case store.PauseGroupGone:
			v.State.Detail = shown{Text: tr(v.lang, "pause."+c.PauseReason)}
		}
	}
}

// fillCounts sums the connection's counters: aggregation queries over the
// links and the held changes, the deletes from the connection itself.
func (h *Handler) fillCounts(ctx context.Context, c *store.Connection, v *connView) {
	log := logging.FromContext(ctx)
	t, err := h.store.LinkTotals(ctx, c.ID)
	if err != nil {
		log.Info("settings: link totals", "connection", c.ID, "err", err)
		return
	}
	v.Linked = t.Linked
	t = t.WithGone(c.Counts) // pairs that are gone still count
	n := &CountsView{CreatedInGoogle: t.CreatedInGoogle, CreatedInPipedrive: t.CreatedInPipedrive,
		Updated: t.Updates, Merged: t.Conflicts, Deleted: c.Counts["deleted"]}
	for _, q := range []struct {
		kind string
		dst  *int64
	}{{store.HeldReview, &n.Review}, {store.HeldFailed, &n.Held}, {store.HeldDeferred, &n.Held}} {
		k, err := h.store.CountHeld(ctx, c.ID, q.kind)
		if err != nil {
			log.Info("settings: count held", "connection", c.ID, "err", err)
			return
		}
		*q.dst += k
	}
	// Answered reviews wait only for the next poll to be carried out.
	answered, err := h.store.CountHeldDecided(ctx, c.ID, "same", "separate")
	if err != nil {
		log.Info("settings: count answered reviews", "connection", c.ID, "err", err)
		return
	}
	n.Review = max(0, n.Review-answered)
	v.Counts = n
}

// fillHeld lists the failed and deferred changes, newest first.
func (h *Handler) fillHeld(ctx context.Context, c *store.Connection, v *connView) error {
	var held []store.HeldChange
	for _, kind := range []string{store.HeldFailed, store.HeldDeferred} {
		hs, err := h.store.HeldChanges(ctx, c.ID, kind, maxHeldListed)
		if err != nil {
			return err
		}
		held = append(held, hs...)
	}
	slices.SortFunc(held, func(a, b store.HeldChange) int { return b.LastAt.Compare(a.LastAt) })
	for _, hc := range held[:min(len(held), maxHeldListed)] {
		v.Held = append(v.Held, HeldChange{
			ID: hc.ID, Contact: h.nameOf(ctx, v.lang, c.ID, hc), What: tr(v.lang, "held.what."+hc.Side+"."+changeKind(hc)),
			Reason: heldReason(v.lang, hc), Deferred: hc.Kind == store.HeldDeferred, Attempts: hc.Attempts, At: hc.LastAt,
			// due now (the user's Retry), not in minutes or hours (a transient failure's own retry)
			Retrying: !hc.RetryAt.IsZero() && hc.RetryAt.Before(h.now().Add(time.Minute)),
		})
	}
	return nil
}

// fillReviews lists the records held for review with their candidates,
// read live (not while the page refreshes itself: the first sync needs the
// quota more).
func (h *Handler) fillReviews(ctx context.Context, c *store.Connection, v *connView) error {
	rs, err := h.store.HeldChanges(ctx, c.ID, store.HeldReview, maxHeldRead)
	if err != nil {
		return err
	}
	rs = undecided(rs)
	slices.SortFunc(rs, func(a, b store.HeldChange) int { return a.FirstAt.Compare(b.FirstAt) })
	rs = rs[:min(len(rs), maxReviews)]
	// One read of the records for the whole page; none while the page
	// refreshes itself (the first sync needs the quota more) or an account
	// must be connected again.
	var read []connect.Review
	if len(rs) > 0 && !v.Running && !v.ReauthGoogle && !v.ReauthPipedrive {
		rctx, cancel := context.WithTimeout(ctx, readTimeout)
		read, err = h.svc.ReviewRecords(rctx, c, rs)
		cancel()
		if err != nil {
			logging.FromContext(ctx).Info("settings: read the records held for review", "connection", c.ID, "err", err)
			read = nil
		}
	}
	for i, hc := range rs {
		m := AmbiguousMatch{ID: hc.ID, Explain: tr(v.lang, "review."+reviewCode(hc.Code))}
		if read != nil {
			m.Record = candidate(v.lang, read[i].Record, false)
			for _, cd := range read[i].Candidates {
				m.Candidates = append(m.Candidates, candidate(v.lang, cd, hc.Code == "ambiguous"))
			}
		} else {
			m.Unread = true
			m.Record = MatchCandidate{Side: tr(v.lang, "side.in."+hc.Side), Name: h.nameOf(ctx, v.lang, c.ID, hc)}
		}
		v.Ambiguous = append(v.Ambiguous, m)
	}
	return nil
}

// candidate shows a record of a review; same says the user may choose it
// as the same contact (an ambiguous match's candidate that is neither
// linked nor gone).
func candidate(lang string, r connect.Record, same bool) MatchCandidate {
	m := MatchCandidate{ID: r.ID, Side: tr(lang, "side.in."+r.Side), Name: r.Name, Org: r.Org, Emails: r.Emails, Phones: r.Phones}
	switch {
	case r.Gone:
		m.Note = tr(lang, "review.gone")
	case r.Linked:
		m.Note = tr(lang, "review.linked")
	default:
		m.Same = same
	}
	if m.Name == "" && !r.Gone {
		m.Name = tr(lang, "review.no_name")
	}
	return m
}

// reviewCode is a review's code, or "other" for one the page has no words for.
func reviewCode(code string) string {
	switch code {
	case "ambiguous", "taken", "copy":
		return code
	}
	return "other"
}

// fillBrake lists the deletes a tripped brake (or the empty-side guard)
// holds, with what Confirm and Restore do.
func (h *Handler) fillBrake(ctx context.Context, c *store.Connection, v *connView) error {
	n, err := h.store.CountHeld(ctx, c.ID, store.HeldBrake)
	if err != nil {
		return err
	}
	decided, err := h.store.CountHeldDecided(ctx, c.ID, "confirm", "restore")
	if err != nil {
		return err
	}
	n = max(0, n-decided) // the answered ones are being carried out
	if c.BrakeTrippedAt.IsZero() && n == 0 {
		return nil
	}
	lang := v.lang
	b := &BrakeView{Since: c.BrakeTrippedAt, Held: n}
	switch c.PauseReason {
	case store.PauseEmptyGoogle, store.PauseEmptyPipedrive:
		if c.Status == store.StatusPaused {
			b.Guard = c.PauseReason
		}
	}
	if b.Guard != "" {
		b.Title = tr(lang, "brake.guard.title")
		b.Text = tr(lang, "brake.guard.text") // the state above says what happened
		b.Confirm, b.Restore = tr(lang, "brake.guard.confirm_help"), tr(lang, "brake.guard.restore_help")
	} else {
		b.Title = tr(lang, "brake.title")
		b.Text = tr(lang, "brake.text")
		if e, ok := lastError(c, "brake"); ok && len(e.Args) == 3 {
			b.Text = tr(lang, "brake.text_limit", e.Args[0], e.Args[1], e.Args[2])
		}
		b.Text += " " + tr(lang, "brake.edits_sync")
		b.Confirm, b.Restore = tr(lang, "brake.confirm_help"), tr(lang, "brake.restore_help")
	}
	hs, err := h.store.HeldChanges(ctx, c.ID, store.HeldBrake, maxHeldRead)
	if err != nil {
		return err
	}
	hs = undecided(hs)
	slices.SortFunc(hs, func(a, b store.HeldChange) int { return a.FirstAt.Compare(b.FirstAt) })
	for _, hc := range hs[:min(len(hs), maxBrakeListed)] {
		b.Listed = append(b.Listed, HeldDelete{Contact: h.nameOf(ctx, lang, c.ID, hc), What: tr(lang, "brake.what."+hc.Side+"."+changeKind(hc))})
	}
	b.More = max(0, n-int64(len(b.Listed)))
	v.Brake = b
	return nil
}

// undecided keeps the held changes the user has not answered yet.
func undecided(hs []store.HeldChange) []store.HeldChange {
	return slices.DeleteFunc(hs, func(h store.HeldChange) bool { return h.Decision != "" })
}

// lastError is the newest recorded error of key.
func lastError(c *store.Connection, key string) (store.ErrorEntry, bool) {
	for i := len(c.LastErrors) - 1; i >= 0; i-- {
		if c.LastErrors[i].Key == key {
			return c.LastErrors[i], true
		}
	}
	return store.ErrorEntry{}, false
}

// changeKind is "delete" or "upsert" (anything else is shown as a change).
func changeKind(hc store.HeldChange) string {
	if hc.ChangeKind == "delete" {
		return "delete"
	}
	return "upsert"
}

// nameOf names a held change's contact: the name it carries, else the
// linked pair's, else words for a record that is not synced yet.
func (h *Handler) nameOf(ctx context.Context, lang, connID string, hc store.HeldChange) string {
	if hc.Name != "" {
		return hc.Name
	}
	var l *store.Link
	var err error
	if hc.Side == "pipedrive" {
		l, err = h.store.LinkByPipedrive(ctx, connID, hc.ObjectID)
	} else {
		l, err = h.store.LinkByGoogle(ctx, connID, hc.ObjectID)
	}
	if err == nil {
		if n := linkName(l); n != "" {
			return n
		}
	}
	return tr(lang, "held.unnamed."+hc.Side)
}

// baseOf is a link's last-synced record (zero if it has none).
func baseOf(l *store.Link) contact.Contact {
	var c contact.Contact
	if len(l.Base) > 0 {
		_ = json.Unmarshal(l.Base, &c)
	}
	return c
}

// linkName is the name of a linked pair as last synced: the person's
// name, else the organization, else the first e-mail address.
func linkName(l *store.Link) string {
	c := baseOf(l)
	switch {
	case c.DisplayName() != "":
		return c.DisplayName()
	case c.Org != "":
		return c.Org
	case len(c.Emails) > 0:
		return c.Emails[0].Value
	}
	return ""
}

// heldHTTP is the detail the applier adds to a refused change's reason.
var heldHTTP = regexp.MustCompile(`\((Pipedrive|Google) answered HTTP (\d{3})\)$`)

// heldReason is why a change is held, in lang: by its code when the page
// has words for it (with the service's answer, if any), else the reason
// as stored (English).
func heldReason(lang string, hc store.HeldChange) shown {
	key := "held.code." + hc.Code
	if _, ok := catalog[langEN][key]; !ok || hc.Code == "" {
		return text{Raw: hc.Reason}.in(lang)
	}
	s := shown{Text: tr(lang, key)}
	if m := heldHTTP.FindStringSubmatch(hc.Reason); m != nil {
		s.Text += " " + tr(lang, "held.http", m[1], m[2])
	}
	return s
}

// errorText is a recorded error in words: by its key when the page has
// words for it, else the English text as stored (recognized if it is one
// of the known sentences).
func errorText(e store.ErrorEntry) text {
	key := "errors.key." + e.Key
	if _, ok := catalog[langEN][key]; e.Key != "" && ok {
		args := make([]any, len(e.Args))
		for i, a := range e.Args {
			args[i] = a
		}
		if !strings.Contains(tr(langEN, key, args...), "%!") { // the values fit the text
			return keyed(key, args...)
		}
	}
	return storedText(e.Message)
}

// heldKeyRE is the shape of a held change's id (store.HeldKey): a form
// naming anything else is refused before the store is asked.
var heldKeyRE = regexp.MustCompile(`^[pg]-[A-Za-z0-9_.:-]{1,256}$`)

// needsAction answers the forms of "needs you"; it reports false for an
// action that is none of them.
func (h *Handler) needsAction(w http.ResponseWriter, r *http.Request, c *store.Connection, action string) bool {
	ctx := r.Context()
	var err error
	switch action {
	case "brake-confirm", "brake-restore":
		n, cerr := h.store.CountHeld(ctx, c.ID, store.HeldBrake)
		if cerr != nil {
			h.fail(w, r, http.StatusServiceUnavailable, keyed("error.unavailable"), cerr)
			return true
		}
		if c.BrakeTrippedAt.IsZero() && n == 0 {
			h.fail(w, r, http.StatusConflict, keyed("error.no_brake"), nil)
			return true
		}
		if action == "brake-confirm" {
			_, err = h.svc.ConfirmDeletes(ctx, c.ID)
		} else {
			_, err = h.svc.RestoreDeletes(ctx, c.ID)
		}
	case "held-retry", "held-dismiss", "match-same", "match-separate":
		kinds := []string{store.HeldFailed, store.HeldDeferred}
		if strings.HasPrefix(action, "match-") {
			kinds = []string{store.HeldReview}
		}
		hc, ok := h.heldOf(w, r, c, kinds)
		if !ok {
			return true
		}
		switch action {
		case "held-retry":
			_, err = h.svc.RetryHeld(ctx, c.ID, hc.ID)
		case "held-dismiss":
			err = h.svc.DismissHeld(ctx, c.ID, hc.ID)
		case "match-same":
			twin := r.PostFormValue("twin")
			if twin == "" || !slices.Contains(hc.Candidates, twin) {
				h.fail(w, r, http.StatusBadRequest, keyed("error.choose_candidate"), nil)
				return true
			}
			err = h.svc.ResolveReview(ctx, c.ID, hc.ID, twin)
		case "match-separate":
			err = h.svc.ResolveReview(ctx, c.ID, hc.ID, "")
		}
	default:
		return false
	}
	if errors.Is(err, store.ErrNotFound) {
		h.fail(w, r, http.StatusNotFound, keyed("error.held_gone"), nil)
		return true
	}
	if err != nil {
		h.failConnect(w, r, err)
		return true
	}
	h.done(w, r, strings.ReplaceAll(action, "-", "_"), c.ID)
	return true
}

// heldOf reads the held change the form names, which must be of one of
// kinds; otherwise it answers (404: it was applied, retried or dismissed
// meanwhile, or never was one of this connection's).
func (h *Handler) heldOf(w http.ResponseWriter, r *http.Request, c *store.Connection, kinds []string) (*store.HeldChange, bool) {
	id := r.PostFormValue("held")
	if !heldKeyRE.MatchString(id) {
		h.fail(w, r, http.StatusNotFound, keyed("error.held_gone"), nil)
		return nil, false
	}
	hc, err := h.store.GetHeld(r.Context(), c.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && !slices.Contains(kinds, hc.Kind):
		h.fail(w, r, http.StatusNotFound, keyed("error.held_gone"), nil)
		return nil, false
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, keyed("error.unavailable"), err)
		return nil, false
	}
	return hc, true
}

// needsNotices are the notices the forms of "needs you" end with.
var needsNotices = []string{"brake_confirm", "brake_restore", "held_retry", "held_dismiss", "match_same", "match_separate"}
