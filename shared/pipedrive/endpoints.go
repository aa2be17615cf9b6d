package pipedrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Me returns the user the credentials belong to (GET /api/v1/users/me).
// Key accounts by (ID, CompanyID), never by e-mail.
func (c *Client) Me(ctx context.Context) (*User, error) {
	var u User
	if _, err := c.do(ctx, http.MethodGet, "/api/v1/users/me", nil, nil, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ListPersonsOptions filters GET /api/v2/persons. Zero values are not sent.
type ListPersonsOptions struct {
	OwnerID       int64
	OrgID         int64
	IDs           []int64   // at most 100
	UpdatedSince  time.Time // inclusive, second precision: overlap polling windows
	UpdatedUntil  time.Time // exclusive
	SortBy        string    // id (default), update_time, add_time
	SortDirection string    // asc (default), desc
	Limit         int       // page size, default 100, max 500
}

func (o ListPersonsOptions) query(cursor string) url.Values {
	q := url.Values{}
	if o.OwnerID != 0 {
		q.Set("owner_id", strconv.FormatInt(o.OwnerID, 10))
	}
	if o.OrgID != 0 {
		q.Set("org_id", strconv.FormatInt(o.OrgID, 10))
	}
	if len(o.IDs) > 0 {
		s := make([]string, len(o.IDs))
		for i, id := range o.IDs {
			s[i] = strconv.FormatInt(id, 10)
		}
		q.Set("ids", strings.Join(s, ","))
	}
	if !o.UpdatedSince.IsZero() {
		q.Set("updated_since", o.UpdatedSince.UTC().Format(time.RFC3339))
	}
	if !o.UpdatedUntil.IsZero() {
		q.Set("updated_until", o.UpdatedUntil.UTC().Format(time.RFC3339))
	}
	if o.SortBy != "" {
		q.Set("sort_by", o.SortBy)
	}
	if o.SortDirection != "" {
		q.Set("sort_direction", o.SortDirection)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// ListPersonsPage fetches one page; next is "" after the last page. The
// cursor can be stored to resume a first sync after a crash.
func (c *Client) ListPersonsPage(ctx context.Context, opts ListPersonsOptions, cursor string) (persons []Person, next string, err error) {
	next, err = c.do(ctx, http.MethodGet, "/api/v2/persons", opts.query(cursor), nil, &persons)
	if len(persons) > 0 {
		c.observe(&persons[0])
	}
	return persons, next, err
}

// ClockSkew is how far Pipedrive's clock and ours may differ.
const ClockSkew = 2 * time.Second

// AddedSince finds a person a create sent at since may have made, when
// its answer was lost: the oldest person added since then (less
// ClockSkew) for which match is true. It lists instead of
// searching (the search index may lag behind a write) and does not filter
// by owner: the user may have given the new person to a colleague already.
// It reads at most maxPages pages of persons updated since then.
func (c *Client) AddedSince(ctx context.Context, since time.Time, match func(*Person) (bool, error)) (*Person, error) {
	const maxPages = 10
	from := since.Add(-ClockSkew).Truncate(time.Second)
	cursor := ""
	for range maxPages {
		ps, next, err := c.ListPersonsPage(ctx, ListPersonsOptions{UpdatedSince: from, SortBy: "add_time", SortDirection: "asc", Limit: 500}, cursor)
		if err != nil {
			return nil, fmt.Errorf("pipedrive: list recent persons: %w", err)
		}
		for i := range ps {
			if ps[i].IsDeleted || ps[i].AddTime.Before(from) {
				continue
			}
			ok, err := match(&ps[i])
			if err != nil {
				return nil, err
			}
			if ok {
				return &ps[i], nil
			}
		}
		if next == "" {
			return nil, nil
		}
		cursor = next
	}
	return nil, nil
}

// Persons iterates over every person matching opts, page by page. The
// iteration stops at the first error, which is yielded once.
func (c *Client) Persons(ctx context.Context, opts ListPersonsOptions) iter.Seq2[Person, error] {
	return func(yield func(Person, error) bool) {
		cursor, seen := "", cursors{}
		for {
			page, next, err := c.ListPersonsPage(ctx, opts, cursor)
			if err != nil {
				yield(Person{}, err)
				return
			}
			for _, p := range page {
				if !yield(p, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if err := seen.add("/api/v2/persons", next); err != nil {
				yield(Person{}, err)
				return
			}
			cursor = next
		}
	}
}

// cursors are the next cursors a listing followed. A cursor sent again
// would page forever (a→a, or a→b→a), so it ends the listing with an
// error, never silently: a listing cut short must not read as complete
// (the reconciliation and the first sync compare it with the links).
type cursors map[string]bool

func (s cursors) add(path, next string) error {
	if s[next] {
		return fmt.Errorf("pipedrive: GET %s: the next_cursor of page %d repeats an earlier one", path, len(s)+2)
	}
	s[next] = true
	return nil
}

// thePerson checks that an answer holds the person asked for (want > 0),
// or for a create one with an id: an answer without it (data null, or
// another object) must not read as a person with no name, no e-mail and no
// owner, which the sync would copy to Google.
func thePerson(method, path string, p *Person, want int64) error {
	if p.ID <= 0 || want > 0 && p.ID != want {
		return fmt.Errorf("pipedrive: %s %s: %w: the answer holds person %d", method, path, ErrBadPerson, p.ID)
	}
	return nil
}

func personPath(id int64) string { return "/api/v2/persons/" + strconv.FormatInt(id, 10) }

// GetPerson returns one person. A deleted person is either ErrNotFound or a
// Person with IsDeleted set (Pipedrive's behaviour is unconfirmed): callers
// must treat both as "gone".
func (c *Client) GetPerson(ctx context.Context, id int64) (*Person, error) {
	var p Person
	if _, err := c.do(ctx, http.MethodGet, personPath(id), nil, nil, &p); err != nil {
		return nil, err
	}
	if err := thePerson(http.MethodGet, personPath(id), &p, id); err != nil {
		return nil, err
	}
	c.observe(&p)
	return &p, nil
}

// CreatePerson creates a person (POST /api/v2/persons). Not retried on 5xx
// or timeout: the write may have happened, so look it up before retrying.
func (c *Client) CreatePerson(ctx context.Context, in PersonInput) (*Person, error) {
	var p Person
	if _, err := c.do(ctx, http.MethodPost, "/api/v2/persons", nil, in, &p); err != nil {
		return nil, err
	}
	if err := thePerson(http.MethodPost, "/api/v2/persons", &p, 0); err != nil {
		return nil, err
	}
	c.observe(&p)
	return &p, nil
}

// UpdatePerson PATCHes the fields set in in; arrays sent replace the old
// ones, fields not sent (and custom fields) are left alone.
func (c *Client) UpdatePerson(ctx context.Context, id int64, in PersonInput) (*Person, error) {
	var p Person
	if _, err := c.do(ctx, http.MethodPatch, personPath(id), nil, in, &p); err != nil {
		return nil, err
	}
	if err := thePerson(http.MethodPatch, personPath(id), &p, id); err != nil {
		return nil, err
	}
	c.observe(&p)
	return &p, nil
}

// DeletePerson soft-deletes a person (purged by Pipedrive after 30 days).
func (c *Client) DeletePerson(ctx context.Context, id int64) error {
	_, err := c.do(ctx, http.MethodDelete, personPath(id), nil, nil, nil)
	return err
}

// MergePersons merges person id into mergeWithID (PUT /api/v1/persons/{id}/merge):
// id disappears, mergeWithID survives and is returned.
func (c *Client) MergePersons(ctx context.Context, id, mergeWithID int64) (*Person, error) {
	var raw json.RawMessage
	body := map[string]int64{"merge_with_id": mergeWithID}
	if _, err := c.do(ctx, http.MethodPut, "/api/v1/persons/"+strconv.FormatInt(id, 10)+"/merge", nil, body, &raw); err != nil {
		return nil, err
	}
	p, err := DecodePerson(raw)
	if err != nil {
		return nil, fmt.Errorf("pipedrive: merge response: %w", err)
	}
	return p, nil
}

// SearchField is a field /persons/search looks in.
type SearchField string

// Search fields.
const (
	SearchName  SearchField = "name"
	SearchEmail SearchField = "email"
	SearchPhone SearchField = "phone"
)

// PersonHit is one /api/v2/persons/search result.
type PersonHit struct {
	ID      int64
	Name    string
	Emails  []string
	Phones  []string
	OwnerID int64
	OrgID   int64
	OrgName string
	Score   float64
}

type personHitJSON struct {
	ResultScore float64 `json:"result_score"`
	Item        struct {
		ID     int64    `json:"id"`
		Name   string   `json:"name"`
		Emails []string `json:"emails"`
		Phones []string `json:"phones"`
		Owner  *struct {
			ID int64 `json:"id"`
		} `json:"owner"`
		Organization *struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
		} `json:"organization"`
	} `json:"item"`
}

// maxSearchPages bounds how far a search follows cursors: matching needs
// the first few hits, not an export.
const maxSearchPages = 4

// SearchPersons searches persons by term in the given field (exact_match is
// case-insensitive; a term needs ≥2 characters, or 1 with exact).
func (c *Client) SearchPersons(ctx context.Context, term string, field SearchField, exact bool) ([]PersonHit, error) {
	if len([]rune(strings.TrimSpace(term))) < 2 && !exact {
		return nil, fmt.Errorf("%w: search term too short", ErrBadRequest)
	}
	q := url.Values{"term": {term}, "fields": {string(field)}, "limit": {"100"}}
	if exact {
		q.Set("exact_match", "true")
	}
	var hits []PersonHit
	for range maxSearchPages {
		var data struct {
			Items []personHitJSON `json:"items"`
		}
		next, err := c.do(ctx, http.MethodGet, "/api/v2/persons/search", q, nil, &data)
		if err != nil {
			return nil, err
		}
		for _, it := range data.Items {
			h := PersonHit{ID: it.Item.ID, Name: it.Item.Name, Emails: it.Item.Emails, Phones: it.Item.Phones, Score: it.ResultScore}
			if it.Item.Owner != nil {
				h.OwnerID = it.Item.Owner.ID
			}
			if it.Item.Organization != nil {
				h.OrgID, h.OrgName = it.Item.Organization.ID, it.Item.Organization.Name
			}
			hits = append(hits, h)
		}
		if next == "" {
			break
		}
		q.Set("cursor", next)
	}
	return hits, nil
}

// FindPersonsByEmail returns persons whose e-mail matches exactly (case-insensitive).
func (c *Client) FindPersonsByEmail(ctx context.Context, email string) ([]PersonHit, error) {
	return c.SearchPersons(ctx, email, SearchEmail, true)
}

// FindPersonsByPhone returns persons whose phone matches the term as stored;
// Pipedrive does not normalise phones, so search each plausible formatting.
func (c *Client) FindPersonsByPhone(ctx context.Context, phone string) ([]PersonHit, error) {
	return c.SearchPersons(ctx, phone, SearchPhone, false)
}

// FindPersonsByName returns persons whose name matches exactly (case-insensitive).
func (c *Client) FindPersonsByName(ctx context.Context, name string) ([]PersonHit, error) {
	return c.SearchPersons(ctx, name, SearchName, true)
}

// OrgHit is one /api/v2/organizations/search result.
type OrgHit struct {
	ID      int64
	Name    string
	OwnerID int64
	Score   float64
}

// SearchOrganizations searches organizations by name.
func (c *Client) SearchOrganizations(ctx context.Context, term string, exact bool) ([]OrgHit, error) {
	q := url.Values{"term": {term}, "fields": {"name"}, "limit": {"100"}}
	if exact {
		q.Set("exact_match", "true")
	}
	var data struct {
		Items []struct {
			ResultScore float64 `json:"result_score"`
			Item        struct {
				ID    int64  `json:"id"`
				Name  string `json:"name"`
				Owner *struct {
					ID int64 `json:"id"`
				} `json:"owner"`
			} `json:"item"`
		} `json:"items"`
	}
	if _, err := c.do(ctx, http.MethodGet, "/api/v2/organizations/search", q, nil, &data); err != nil {
		return nil, err
	}
	hits := make([]OrgHit, 0, len(data.Items))
	for _, it := range data.Items {
		h := OrgHit{ID: it.Item.ID, Name: it.Item.Name, Score: it.ResultScore}
		if it.Item.Owner != nil {
			h.OwnerID = it.Item.Owner.ID
		}
		hits = append(hits, h)
	}
	return hits, nil
}

// FindOrganizationByName returns the organization whose name equals name
// case-insensitively, or ErrNotFound. With several, the lowest id wins so
// the choice is stable.
func (c *Client) FindOrganizationByName(ctx context.Context, name string) (*OrgHit, error) {
	hits, err := c.SearchOrganizations(ctx, name, true)
	if err != nil {
		return nil, err
	}
	var best *OrgHit
	for i := range hits {
		if strings.EqualFold(strings.TrimSpace(hits[i].Name), strings.TrimSpace(name)) && (best == nil || hits[i].ID < best.ID) {
			best = &hits[i]
		}
	}
	if best == nil {
		return nil, fmt.Errorf("organization %q: %w", name, ErrNotFound)
	}
	return best, nil
}

// CreateOrganization creates an organization; ownerID 0 means the caller.
func (c *Client) CreateOrganization(ctx context.Context, name string, ownerID int64) (*Organization, error) {
	body := map[string]any{"name": name}
	if ownerID != 0 {
		body["owner_id"] = ownerID
	}
	var o Organization
	if _, err := c.do(ctx, http.MethodPost, "/api/v2/organizations", nil, body, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// GetOrganization returns one organization.
func (c *Client) GetOrganization(ctx context.Context, id int64) (*Organization, error) {
	var o Organization
	if _, err := c.do(ctx, http.MethodGet, "/api/v2/organizations/"+strconv.FormatInt(id, 10), nil, nil, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// Organizations iterates over the company's organizations, 500 a page
// (GET /api/v2/organizations, 10 tokens a page): the first sync resolves
// every person's organization name, and finds the organizations it must
// not create twice, with one listing instead of a read per organization.
func (c *Client) Organizations(ctx context.Context) iter.Seq2[Organization, error] {
	return func(yield func(Organization, error) bool) {
		cursor, seen := "", cursors{}
		for {
			q := url.Values{"limit": {"500"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var page []Organization
			next, err := c.do(ctx, http.MethodGet, "/api/v2/organizations", q, nil, &page)
			if err != nil {
				yield(Organization{}, err)
				return
			}
			for _, o := range page {
				if !yield(o, nil) {
					return
				}
			}
			if next == "" {
				return
			}
			if err := seen.add("/api/v2/organizations", next); err != nil {
				yield(Organization{}, err)
				return
			}
			cursor = next
		}
	}
}

// Webhook is a registered webhook (v1 shape).
type Webhook struct {
	ID              int64
	UserID          int64
	EventAction     string
	EventObject     string
	SubscriptionURL string
	Version         string
	Name            string
	IsActive        bool
	HTTPAuthUser    string
	LastHTTPStatus  int
}

// UnmarshalJSON tolerates is_active as bool or 0/1 and ids as strings.
func (w *Webhook) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	w.ID, _ = looseID(m["id"])
	w.UserID, _ = looseID(m["user_id"])
	w.EventAction = looseString(m["event_action"])
	w.EventObject = looseString(m["event_object"])
	w.SubscriptionURL = looseString(m["subscription_url"])
	w.Version = looseString(m["version"])
	w.Name = looseString(m["name"])
	w.IsActive = looseBool(m["is_active"])
	w.HTTPAuthUser = looseString(m["http_auth_user"])
	if s, ok := looseID(m["last_http_status"]); ok {
		w.LastHTTPStatus = int(s)
	}
	return nil
}

// WebhookInput is the body of POST /api/v1/webhooks.
type WebhookInput struct {
	SubscriptionURL  string `json:"subscription_url"`
	EventAction      string `json:"event_action"` // create, change, delete or *
	EventObject      string `json:"event_object"` // person, organization, … or *
	Name             string `json:"name"`
	UserID           int64  `json:"user_id,omitempty"`
	HTTPAuthUser     string `json:"http_auth_user,omitempty"`
	HTTPAuthPassword string `json:"http_auth_password,omitempty"`
	Version          string `json:"version,omitempty"` // "2.0" (default) or "1.0"
}

// ListWebhooks lists the company's webhooks.
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var ws []Webhook
	if _, err := c.do(ctx, http.MethodGet, "/api/v1/webhooks", nil, nil, &ws); err != nil {
		return nil, err
	}
	return ws, nil
}

// CreateWebhook registers a webhook. Over 40 per user it fails with ErrWebhookLimit.
func (c *Client) CreateWebhook(ctx context.Context, in WebhookInput) (*Webhook, error) {
	if in.Name == "" || in.SubscriptionURL == "" {
		return nil, errors.New("pipedrive: webhook needs a name and a subscription_url")
	}
	var w Webhook
	if _, err := c.do(ctx, http.MethodPost, "/api/v1/webhooks", nil, in, &w); err != nil {
		return nil, err
	}
	return &w, nil
}

// DeleteWebhook removes a webhook; an unknown id is ErrNotFound.
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	_, err := c.do(ctx, http.MethodDelete, "/api/v1/webhooks/"+strconv.FormatInt(id, 10), nil, nil, nil)
	return err
}
