package google

import (
	"context"
	"fmt"
	"strings"

	people "google.golang.org/api/people/v1"
)

// Page is one page of a connections listing.
type Page struct {
	// People holds changed or listed contacts; deleted ones (incremental
	// only) carry Metadata.Deleted and little else.
	People []*people.Person
	// NextPageToken is "" on the last page.
	NextPageToken string
	// NextSyncToken is set on the last page only.
	NextSyncToken string
}

// ListPage fetches one page of people.connections.list with the frozen sync
// parameters. syncToken "" starts a full listing; pageToken continues one.
// An expired syncToken gives ErrExpiredSyncToken.
func (c *Client) ListPage(ctx context.Context, syncToken, pageToken string) (*Page, error) {
	var resp *people.ListConnectionsResponse
	kind := opList
	if syncToken != "" {
		kind = opListToken
	}
	err := c.call(ctx, "people.connections.list", kind, costRead, func(ctx context.Context) error {
		call := c.svc.People.Connections.List("people/me").
			PersonFields(PersonFields).Sources(SourceContact).
			RequestSyncToken(true).PageSize(c.pageSize).Context(ctx)
		if syncToken != "" {
			call = call.SyncToken(syncToken)
		}
		if pageToken != "" {
			call = call.PageToken(pageToken)
		}
		var err error
		resp, err = call.Do()
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Page{People: resp.Connections, NextPageToken: resp.NextPageToken, NextSyncToken: resp.NextSyncToken}, nil
}

// List pages through a whole listing, calling fn for each page, and returns
// the final nextSyncToken. Store it only once List returned nil.
func (c *Client) List(ctx context.Context, syncToken string, fn func(*Page) error) (string, error) {
	pageToken := ""
	for {
		p, err := c.ListPage(ctx, syncToken, pageToken)
		if err != nil {
			return "", err
		}
		if err := fn(p); err != nil {
			return "", err
		}
		if p.NextPageToken == "" {
			return p.NextSyncToken, nil
		}
		pageToken = p.NextPageToken
	}
}

// Get reads one contact.
func (c *Client) Get(ctx context.Context, resourceName string) (*people.Person, error) {
	var p *people.Person
	err := c.call(ctx, "people.get", opRead, costRead, func(ctx context.Context) error {
		var err error
		p, err = c.svc.People.Get(resourceName).PersonFields(PersonFields).Sources(SourceContact).Context(ctx).Do()
		return err
	})
	return p, err
}

// BatchGet reads contacts, in chunks of MaxBatchGet. Names that do not exist
// are left out of the result, which is keyed by requested resource name.
func (c *Client) BatchGet(ctx context.Context, resourceNames []string) (map[string]*people.Person, error) {
	out := make(map[string]*people.Person, len(resourceNames))
	for start := 0; start < len(resourceNames); start += MaxBatchGet {
		chunk := resourceNames[start:min(start+MaxBatchGet, len(resourceNames))]
		var resp *people.GetPeopleResponse
		err := c.call(ctx, "people.getBatchGet", opRead, costRead, func(ctx context.Context) error {
			var err error
			resp, err = c.svc.People.GetBatchGet().ResourceNames(chunk...).PersonFields(PersonFields).Sources(SourceContact).Context(ctx).Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, r := range resp.Responses {
			if r.Person != nil && (r.Status == nil || r.Status.Code == 0) {
				out[r.RequestedResourceName] = r.Person
			}
		}
	}
	return out, nil
}

// Create creates one contact. A failure that may have been applied anyway
// carries ErrUncertain.
func (c *Client) Create(ctx context.Context, p *people.Person) (*people.Person, error) {
	var out *people.Person
	err := c.call(ctx, "people.createContact", opCreate, costWrite, func(ctx context.Context) error {
		var err error
		out, err = c.svc.People.CreateContact(p).PersonFields(PersonFields).Sources(SourceContact).Context(ctx).Do()
		return err
	})
	return out, err
}

// BatchCreate creates up to MaxBatchCreate contacts in one call and returns
// them in request order.
func (c *Client) BatchCreate(ctx context.Context, ps []*people.Person) ([]*people.Person, error) {
	const op = "people.batchCreateContacts"
	if len(ps) > MaxBatchCreate {
		return nil, &Error{Op: op, Kind: ErrTooMany, Err: fmt.Errorf("%d contacts, limit %d", len(ps), MaxBatchCreate)}
	}
	if len(ps) == 0 {
		return nil, nil
	}
	req := &people.BatchCreateContactsRequest{ReadMask: PersonFields, Sources: []string{SourceContact}}
	for _, p := range ps {
		req.Contacts = append(req.Contacts, &people.ContactToCreate{ContactPerson: p})
	}
	var resp *people.BatchCreateContactsResponse
	err := c.call(ctx, op, opCreate, costBatchWrite, func(ctx context.Context) error {
		var err error
		resp, err = c.svc.People.BatchCreateContacts(req).Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*people.Person, 0, len(resp.CreatedPeople))
	for _, r := range resp.CreatedPeople {
		out = append(out, r.Person)
	}
	return out, nil
}

// Update replaces the fields named in updateFields (e.g. "names",
// "phoneNumbers") with p's. p must carry ResourceName and, from the latest
// read, person.metadata.sources with the CONTACT source's etag: the
// discovery document says updateContact "returns a 400 error if
// person.metadata.sources is not specified" and compares
// person.metadata.sources.etag; a top-level etag alone is not enough. A
// contact changed since gives ErrStaleEtag.
func (c *Client) Update(ctx context.Context, p *people.Person, updateFields []string) (*people.Person, error) {
	const op = "people.updateContact"
	if p == nil || p.ResourceName == "" || !hasSourceEtag(p) {
		return nil, &Error{Op: op, Err: fmt.Errorf("person needs a resource name and metadata.sources with the CONTACT source's etag")}
	}
	var out *people.Person
	err := c.call(ctx, op, opEtagWrite, costWrite, func(ctx context.Context) error {
		var err error
		out, err = c.svc.People.UpdateContact(p.ResourceName, p).
			UpdatePersonFields(strings.Join(updateFields, ",")).
			PersonFields(PersonFields).Sources(SourceContact).Context(ctx).Do()
		return err
	})
	return out, err
}

func hasSourceEtag(p *people.Person) bool {
	if p.Metadata == nil {
		return false
	}
	for _, s := range p.Metadata.Sources {
		if s != nil && s.Type == "CONTACT" && s.Etag != "" {
			return true
		}
	}
	return false
}

// BatchUpdate updates up to MaxBatchUpdate contacts (keyed by resource name)
// in one call and returns the updated people by resource name. The batch
// fails as a whole; a stale etag in any gives ErrStaleEtag.
func (c *Client) BatchUpdate(ctx context.Context, ps map[string]*people.Person, updateFields []string) (map[string]*people.Person, error) {
	const op = "people.batchUpdateContacts"
	if len(ps) > MaxBatchUpdate {
		return nil, &Error{Op: op, Kind: ErrTooMany, Err: fmt.Errorf("%d contacts, limit %d", len(ps), MaxBatchUpdate)}
	}
	if len(ps) == 0 {
		return map[string]*people.Person{}, nil
	}
	req := &people.BatchUpdateContactsRequest{
		Contacts:   make(map[string]people.Person, len(ps)),
		UpdateMask: strings.Join(updateFields, ","),
		ReadMask:   PersonFields,
		Sources:    []string{SourceContact},
	}
	for rn, p := range ps {
		req.Contacts[rn] = *p
	}
	var resp *people.BatchUpdateContactsResponse
	err := c.call(ctx, op, opEtagWrite, costBatchWrite, func(ctx context.Context) error {
		var err error
		resp, err = c.svc.People.BatchUpdateContacts(req).Context(ctx).Do()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*people.Person, len(resp.UpdateResult))
	for rn, r := range resp.UpdateResult {
		out[rn] = r.Person
	}
	return out, nil
}

// Delete deletes one contact.
func (c *Client) Delete(ctx context.Context, resourceName string) error {
	return c.call(ctx, "people.deleteContact", opWrite, costDelete, func(ctx context.Context) error {
		_, err := c.svc.People.DeleteContact(resourceName).Context(ctx).Do()
		return err
	})
}

// BatchDelete deletes up to MaxBatchDelete contacts in one call.
func (c *Client) BatchDelete(ctx context.Context, resourceNames []string) error {
	const op = "people.batchDeleteContacts"
	if len(resourceNames) > MaxBatchDelete {
		return &Error{Op: op, Kind: ErrTooMany, Err: fmt.Errorf("%d contacts, limit %d", len(resourceNames), MaxBatchDelete)}
	}
	if len(resourceNames) == 0 {
		return nil
	}
	return c.call(ctx, op, opWrite, costBatchDelete, func(ctx context.Context) error {
		_, err := c.svc.People.BatchDeleteContacts(&people.BatchDeleteContactsRequest{ResourceNames: resourceNames}).Context(ctx).Do()
		return err
	})
}

// groupFields is the read mask of group reads (contactGroups.get, list,
// batchGet: clientData, groupType, memberCount, metadata, name).
const groupFields = "metadata,groupType,memberCount,name,clientData"

// createGroupFields is contactGroups.create's readGroupFields: the
// discovery document lists "clientData, groupType, metadata, name" for
// create; memberCount is not among them (a new group has none anyway).
const createGroupFields = "metadata,groupType,name,clientData"

// ListGroups returns every contact group of the user, system groups included.
func (c *Client) ListGroups(ctx context.Context) ([]*people.ContactGroup, error) {
	var out []*people.ContactGroup
	pageToken := ""
	for {
		var resp *people.ListContactGroupsResponse
		err := c.call(ctx, "people.contactGroups.list", opRead, costGroupRead, func(ctx context.Context) error {
			call := c.svc.ContactGroups.List().GroupFields(groupFields).PageSize(1000).Context(ctx)
			if pageToken != "" {
				call = call.PageToken(pageToken)
			}
			var err error
			resp, err = call.Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, resp.ContactGroups...)
		if resp.NextPageToken == "" {
			return out, nil
		}
		pageToken = resp.NextPageToken
	}
}

// GetGroup reads a group with up to maxMembers member resource names.
func (c *Client) GetGroup(ctx context.Context, resourceName string, maxMembers int) (*people.ContactGroup, error) {
	var g *people.ContactGroup
	err := c.call(ctx, "people.contactGroups.get", opRead, costGroupRead, func(ctx context.Context) error {
		var err error
		g, err = c.svc.ContactGroups.Get(resourceName).GroupFields(groupFields).MaxMembers(int64(maxMembers)).Context(ctx).Do()
		return err
	})
	return g, err
}

// CreateGroup creates a user contact group; a taken name gives
// ErrAlreadyExists.
func (c *Client) CreateGroup(ctx context.Context, name string) (*people.ContactGroup, error) {
	var g *people.ContactGroup
	req := &people.CreateContactGroupRequest{ContactGroup: &people.ContactGroup{Name: name}, ReadGroupFields: createGroupFields}
	err := c.call(ctx, "people.contactGroups.create", opCreate, costGroupWrite, func(ctx context.Context) error {
		var err error
		g, err = c.svc.ContactGroups.Create(req).Context(ctx).Do()
		return err
	})
	return g, err
}

// ModifyMembers adds and removes contacts of a group (≤ MaxMembersModify in
// total). The response lists names not found and contacts whose last group
// it would have removed.
func (c *Client) ModifyMembers(ctx context.Context, group string, add, remove []string) (*people.ModifyContactGroupMembersResponse, error) {
	const op = "people.contactGroups.members.modify"
	if n := len(add) + len(remove); n > MaxMembersModify {
		return nil, &Error{Op: op, Kind: ErrTooMany, Err: fmt.Errorf("%d names, limit %d", n, MaxMembersModify)}
	}
	var resp *people.ModifyContactGroupMembersResponse
	req := &people.ModifyContactGroupMembersRequest{ResourceNamesToAdd: add, ResourceNamesToRemove: remove}
	err := c.call(ctx, op, opWrite, costGroupWrite, func(ctx context.Context) error {
		var err error
		resp, err = c.svc.ContactGroups.Members.Modify(group, req).Context(ctx).Do()
		return err
	})
	return resp, err
}
