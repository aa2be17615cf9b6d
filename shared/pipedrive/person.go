// Package pipedrive is contactsync's typed client for the Pipedrive API: the
// few v2 person and organization endpoints it uses, v1 webhooks and merge,
// OAuth token refresh, rate-limit handling and cursor pagination.
package pipedrive

import (
	"encoding/json"
	"strings"
	"time"
)

// Field is one item of a person's emails, phones or im list.
type Field struct {
	Value   string `json:"value"`
	Label   string `json:"label,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// Address is a person's postal address in API v2 shape.
type Address struct {
	Value           string `json:"value,omitempty"` // the whole address as typed
	Subpremise      string `json:"subpremise,omitempty"`
	StreetNumber    string `json:"street_number,omitempty"`
	Route           string `json:"route,omitempty"`
	Sublocality     string `json:"sublocality,omitempty"`
	Locality        string `json:"locality,omitempty"`
	AdminAreaLevel1 string `json:"admin_area_level_1,omitempty"`
	AdminAreaLevel2 string `json:"admin_area_level_2,omitempty"`
	Country         string `json:"country,omitempty"`
	PostalCode      string `json:"postal_code,omitempty"`
}

// Person is a Pipedrive person as API v2 returns it. Fields contactsync does
// not sync (custom fields, labels, visibility) are kept verbatim so they can
// be shown, never written back.
type Person struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	FirstName string  `json:"first_name,omitempty"`
	LastName  string  `json:"last_name,omitempty"`
	OwnerID   int64   `json:"owner_id"`
	OrgID     *int64  `json:"org_id"`
	Emails    []Field `json:"emails"`
	Phones    []Field `json:"phones"`
	// IM, PostalAddress and JobTitle exist only when the company has contact
	// sync enabled; HasContactSyncFields says whether the response had them,
	// because an absent field is not an empty one.
	IM                   []Field                    `json:"im,omitempty"`
	PostalAddress        *Address                   `json:"postal_address,omitempty"`
	JobTitle             *string                    `json:"job_title,omitempty"`
	HasContactSyncFields bool                       `json:"-"`
	AddTime              time.Time                  `json:"add_time"`
	UpdateTime           time.Time                  `json:"update_time"`
	IsDeleted            bool                       `json:"is_deleted"`
	VisibleTo            int                        `json:"visible_to,omitempty"`
	LabelIDs             []int64                    `json:"label_ids,omitempty"`
	CustomFields         map[string]json.RawMessage `json:"custom_fields,omitempty"`
}

// contactSyncKeys are the keys only a company with contact sync shows
// (PV2 GET /persons: "Fields `ims`, `postal_address`, `notes`, `birthday`,
// and `job_title` are only included if contact sync is enabled").
var contactSyncKeys = []string{"im", "ims", "postal_address", "notes", "birthday", "job_title"}

// UnmarshalJSON records whether the contact-sync fields were present, and
// reads the IM list under either key: the v2 schema and the PHP SDK model
// call it "im", while the v2 GET descriptions and the migration guide call
// it "ims" (facts-pipedrive.md, Corrections, "IM key"). When both are
// present, a non-null "im" wins.
func (p *Person) UnmarshalJSON(b []byte) error {
	type plain Person
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, (*plain)(p)); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	p.HasContactSyncFields = false
	for _, k := range contactSyncKeys {
		if _, ok := probe[k]; ok {
			p.HasContactSyncFields = true
		}
	}
	// IM is read as DecodePerson reads it, by exact keys: encoding/json
	// would also take "IM" or {"VALUE":…}, which Pipedrive never sends, and
	// the two decoders must see the same handles.
	p.IM = looseFields(first(probe, "im", "ims"))
	return nil
}

// PersonInput is the body of a v2 person create or PATCH, limited to the
// fields contactsync owns. A nil field is not sent, so Pipedrive leaves it
// (and every custom field) alone.
type PersonInput struct {
	Name          *string  `json:"name,omitempty"`
	FirstName     *string  `json:"first_name,omitempty"`
	LastName      *string  `json:"last_name,omitempty"`
	OwnerID       *int64   `json:"owner_id,omitempty"`
	Emails        *[]Field `json:"emails,omitempty"`
	Phones        *[]Field `json:"phones,omitempty"`
	IM            *[]Field `json:"im,omitempty"`
	PostalAddress *Address `json:"postal_address,omitempty"`
	JobTitle      *string  `json:"job_title,omitempty"`
	// Org: set SetOrg to write org_id; OrgID nil then clears it (JSON null).
	SetOrg bool   `json:"-"`
	OrgID  *int64 `json:"-"`
}

// MarshalJSON writes org_id (possibly null) only when SetOrg is true.
func (in PersonInput) MarshalJSON() ([]byte, error) {
	type plain PersonInput
	b, err := json.Marshal(plain(in))
	if err != nil || !in.SetOrg {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	org, err := json.Marshal(in.OrgID)
	if err != nil {
		return nil, err
	}
	m["org_id"] = org
	return json.Marshal(m)
}

// SplitName is how Pipedrive derives first_name and last_name when a person
// is written with name alone. The migration guide (PMG, POST and PATCH
// /api/v2/persons) says only that they "are derived from splitting the name
// with the same logic as in v1 API"; that logic is not documented. Assumed
// here (doubtful): the first word is the first name and the rest, however
// many words, the last name. It is the one implementation of the split:
// the fake applies it, and the mapping uses it to read a person that comes
// without first and last name. Names are compared whole
// (contact.AlignPipedriveName), so a different real split only divides a
// Pipedrive-made name differently in Google; it cannot make a write loop.
func SplitName(name string) (first, last string) {
	w := strings.Fields(name)
	switch len(w) {
	case 0:
		return "", ""
	case 1:
		return w[0], ""
	}
	return w[0], strings.Join(w[1:], " ")
}

// Organization is a Pipedrive organization (v2), reduced to what we use.
type Organization struct {
	ID         int64     `json:"id"`
	Name       string    `json:"name"`
	OwnerID    int64     `json:"owner_id,omitempty"`
	UpdateTime time.Time `json:"update_time"`
	IsDeleted  bool      `json:"is_deleted"`
}

// User is the response of GET /v1/users/me, reduced to what we use.
type User struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Email         string `json:"email"`
	CompanyID     int64  `json:"company_id"`
	CompanyName   string `json:"company_name"`
	CompanyDomain string `json:"company_domain"`
	// TimezoneName is the user's time zone (e.g. "Europe/Berlin"), the best
	// guess we have of the company's for DailyBudgetRetryAt.
	TimezoneName string `json:"timezone_name"`
}
