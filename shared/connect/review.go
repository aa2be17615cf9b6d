package connect

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// Records held for review: the settings page shows the held record beside
// the candidates it could be the same as, read live from both services
// with the connection's own clients, so the user decides on what the
// records hold now. What is read is personal data: it goes to the page of
// the connection's owner only, never to a log or the store.

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

// ReviewRecords reads a record held for review (h, of kind review) and its
// candidates on the other side (at most MaxCandidates).
func (s *Service) ReviewRecords(ctx context.Context, conn *store.Connection, h store.HeldChange) (Record, []Record, error) {
	cl, err := s.accts.Open(ctx, conn)
	if err != nil {
		return Record{}, nil, fmt.Errorf("connect.ReviewRecords: %w", err)
	}
	held, err := s.readRecord(ctx, conn, cl, h.Side, h.ObjectID)
	if err != nil {
		return Record{}, nil, err
	}
	other := "google"
	if h.Side == "google" {
		other = "pipedrive"
	}
	var cands []Record
	for i, id := range h.Candidates {
		if i == MaxCandidates {
			break
		}
		r, err := s.readRecord(ctx, conn, cl, other, id)
		if err != nil {
			return held, nil, err
		}
		cands = append(cands, r)
	}
	return held, cands, nil
}

// readRecord reads one record of side and whether it is linked.
func (s *Service) readRecord(ctx context.Context, conn *store.Connection, cl *account.Clients, side, id string) (Record, error) {
	m := contact.Mapper{}
	r := Record{Side: side, ID: id}
	var c contact.Contact
	var err error
	switch side {
	case "pipedrive":
		n, perr := strconv.ParseInt(id, 10, 64)
		if perr != nil || n <= 0 {
			r.Gone = true
			return r, nil
		}
		per, gerr := cl.Pipedrive.GetPerson(ctx, n)
		switch {
		case pipedrive.Gone(gerr) || gerr == nil && per.IsDeleted:
			r.Gone = true
			return r, nil
		case gerr != nil:
			return r, fmt.Errorf("connect.ReviewRecords: read person: %w", gerr)
		}
		org := ""
		if per.OrgID != nil && *per.OrgID > 0 {
			if o, oerr := cl.Pipedrive.GetOrganization(ctx, *per.OrgID); oerr == nil {
				org = o.Name
			}
		}
		c = m.FromPipedrive(per, org)
		_, err = s.store.LinkByPipedrive(ctx, conn.ID, id)
	default:
		gp, gerr := cl.Google.Get(ctx, id)
		switch {
		case errors.Is(gerr, google.ErrNotFound) || gerr == nil && gp.Metadata != nil && gp.Metadata.Deleted:
			r.Gone = true
			return r, nil
		case gerr != nil:
			return r, fmt.Errorf("connect.ReviewRecords: read contact: %w", gerr)
		}
		c = m.FromGoogle(gp)
		_, err = s.store.LinkByGoogle(ctx, conn.ID, id)
	}
	switch {
	case err == nil:
		r.Linked = true
	case !errors.Is(err, store.ErrNotFound):
		return r, fmt.Errorf("connect.ReviewRecords: %w", err)
	}
	r.Name, r.Org = c.DisplayName(), c.Org
	for _, e := range c.Emails {
		r.Emails = append(r.Emails, e.Value)
	}
	for _, p := range c.Phones {
		r.Phones = append(r.Phones, p.Value)
	}
	return r, nil
}
