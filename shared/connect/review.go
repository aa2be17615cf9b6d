package connect

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// Records held for review: the settings page shows each held record beside
// the candidates it could be the same as, read live from both services
// with the connection's own clients, so the user decides on what the
// records hold now. The Google side is read with one batch call for the
// whole page (one unit of the user's read quota, however many reviews);
// each Pipedrive person is read once. What is read is personal data: it
// goes to the page of the connection's owner only, never to a log or the
// store.

// MaxCandidates bounds the candidates read for one record held for review.
const MaxCandidates = 5

// Record is one contact as the settings page shows it to its owner.
type Record struct {
	Side   string // "pipedrive" or "google"
	ID     string // the person's id, or the contact's resource name
	Name   string
	Org    string
	Emails []string
	Phones []string
	// Linked: the record is already linked to another contact.
	Linked bool
	// Gone: the record no longer exists (deleted, or out of reach).
	Gone bool
}

// Review is a record held for review and its candidates on the other side.
type Review struct {
	Record     Record
	Candidates []Record
}

// ReviewRecords reads the records held for review in hs (of kind review)
// and their candidates (at most MaxCandidates each), in the order of hs.
func (s *Service) ReviewRecords(ctx context.Context, conn *store.Connection, hs []store.HeldChange) ([]Review, error) {
	cl, err := s.accts.Open(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("connect.ReviewRecords: %w", err)
	}
	r := &reader{s: s, conn: conn, persons: map[string]*pipedrive.Person{}, orgs: map[int64]string{}}
	other := func(side string) string {
		if side == "google" {
			return "pipedrive"
		}
		return "google"
	}
	want := map[string][]string{}
	for _, h := range hs {
		want[h.Side] = append(want[h.Side], h.ObjectID)
		want[other(h.Side)] = append(want[other(h.Side)], h.Candidates[:min(len(h.Candidates), MaxCandidates)]...)
	}
	if len(want["google"]) > 0 {
		if r.contacts, err = cl.Google.BatchGet(ctx, want["google"]); err != nil {
			return nil, fmt.Errorf("connect.ReviewRecords: read contacts: %w", err)
		}
	}
	for _, id := range want["pipedrive"] {
		if _, done := r.persons[id]; done {
			continue
		}
		n, perr := strconv.ParseInt(id, 10, 64)
		if perr != nil || n <= 0 {
			r.persons[id] = nil
			continue
		}
		per, err := cl.Pipedrive.GetPerson(ctx, n)
		switch {
		case pipedrive.Gone(err):
			r.persons[id] = nil
		case err != nil:
			return nil, fmt.Errorf("connect.ReviewRecords: read person: %w", err)
		default:
			r.persons[id] = per
			if per.OrgID != nil && *per.OrgID > 0 {
				if _, ok := r.orgs[*per.OrgID]; !ok {
					if o, err := cl.Pipedrive.GetOrganization(ctx, *per.OrgID); err == nil {
						r.orgs[*per.OrgID] = o.Name
					}
				}
			}
		}
	}
	out := make([]Review, 0, len(hs))
	for _, h := range hs {
		rec, err := r.record(ctx, h.Side, h.ObjectID)
		if err != nil {
			return nil, err
		}
		rv := Review{Record: rec}
		for _, id := range h.Candidates[:min(len(h.Candidates), MaxCandidates)] {
			c, err := r.record(ctx, other(h.Side), id)
			if err != nil {
				return nil, err
			}
			rv.Candidates = append(rv.Candidates, c)
		}
		out = append(out, rv)
	}
	return out, nil
}

// reader holds what ReviewRecords read.
type reader struct {
	s        *Service
	conn     *store.Connection
	contacts map[string]*people.Person
	persons  map[string]*pipedrive.Person // nil: gone
	orgs     map[int64]string
}

// record is one record as read, and whether it is linked.
func (r *reader) record(ctx context.Context, side, id string) (Record, error) {
	m := contact.Mapper{}
	rec := Record{Side: side, ID: id}
	var c contact.Contact
	var err error
	if side == "pipedrive" {
		per := r.persons[id]
		if per == nil || per.IsDeleted {
			rec.Gone = true
			return rec, nil
		}
		org := ""
		if per.OrgID != nil {
			org = r.orgs[*per.OrgID]
		}
		c = m.FromPipedrive(per, org)
		_, err = r.s.store.LinkByPipedrive(ctx, r.conn.ID, id)
	} else {
		gp := r.contacts[id]
		if gp == nil || gp.Metadata != nil && gp.Metadata.Deleted {
			rec.Gone = true
			return rec, nil
		}
		c = m.FromGoogle(gp)
		_, err = r.s.store.LinkByGoogle(ctx, r.conn.ID, id)
	}
	switch {
	case err == nil:
		rec.Linked = true
	case !errors.Is(err, store.ErrNotFound):
		return rec, fmt.Errorf("connect.ReviewRecords: %w", err)
	}
	rec.Name, rec.Org = c.DisplayName(), c.Org
	for _, e := range c.Emails {
		rec.Emails = append(rec.Emails, e.Value)
	}
	for _, p := range c.Phones {
		rec.Phones = append(rec.Phones, p.Value)
	}
	return rec, nil
}
