package syncplan

import (
	"errors"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var m = contact.Mapper{DefaultRegion: "DE"}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type opt func(*contact.Contact)

func phone(v, label string) opt {
	return func(c *contact.Contact) { c.Phones = append(c.Phones, m.Phone(v, label, false)) }
}
func primaryPhone(v, label string) opt {
	return func(c *contact.Contact) { c.Phones = append(c.Phones, m.Phone(v, label, true)) }
}
func email(v string) opt {
	return func(c *contact.Contact) { c.Emails = append(c.Emails, contact.Email(v, "work", false)) }
}
func org(o string) opt { return func(c *contact.Contact) { c.Org = o } }
func im(u, p string) opt {
	return func(c *contact.Contact) { c.IM = append(c.IM, contact.IMHandle(u, p, false)) }
}
func city(s string) opt            { return func(c *contact.Contact) { c.Address.City = s } }
func unknown(f contact.Fields) opt { return func(c *contact.Contact) { c.Unknown |= f } }

func mk(given, family string, opts ...opt) contact.Contact {
	c := contact.Contact{Given: given, Family: family}
	for _, o := range opts {
		o(&c)
	}
	return contact.Normalize(c)
}

func ptr(c contact.Contact) *contact.Contact { return &c }

func present(c contact.Contact, at time.Time) SideState {
	return SideState{State: Present, Contact: c, Updated: at}
}

var (
	deleted    = SideState{State: Deleted}
	outOfScope = SideState{State: OutOfScope}
	absent     = SideState{State: Absent}
)

// act is an Action reduced to what the table checks.
type act struct {
	Side   Side
	Op     Op
	Fields string
}

type want struct {
	actions   []act
	base      *contact.Contact // nil: not checked unless noBase
	noBase    bool
	unlink    bool
	conflicts []string // "field→winner"
	// written: the contact the (single) create/update writes, if checked
	written *contact.Contact
}

var cmpContent = cmp.Options{
	cmpopts.SortSlices(func(a, b contact.Item) bool { return a.Key < b.Key }),
	cmpopts.IgnoreFields(contact.Item{}, "Value"),
	cmpopts.EquateEmpty(),
}

func TestDecide(t *testing.T) {
	ada := mk("Ada", "Lovelace", phone("030 1234567", "work"), email("ada@example.com"))
	adaOrg := mk("Ada", "Lovelace", phone("030 1234567", "work"), email("ada@example.com"), org("Acme"))
	adaKing := mk("Ada", "King", phone("030 1234567", "work"), email("ada@example.com"))
	later := t0.Add(time.Minute)

	tests := []struct {
		name   string
		base   *contact.Contact
		pd, g  SideState
		policy DeletePolicy
		hidden contact.Fields
		want   want
	}{
		{
			name: "echo: both equal to the base, formatting aside → nothing",
			base: ptr(ada),
			pd:   present(mk("Ada", "Lovelace", phone("+49 30 1234567", "work"), email("ADA@example.com")), later),
			g:    present(ada, t0),
			want: want{base: ptr(ada)},
		},
		{
			name: "Pipedrive edit → Google update",
			base: ptr(ada), pd: present(adaOrg, later), g: present(ada, t0),
			want: want{actions: []act{{Google, Update, "org"}}, base: ptr(adaOrg), written: ptr(adaOrg)},
		},
		{
			name: "Google edit → Pipedrive update",
			base: ptr(ada), pd: present(ada, later), g: present(adaOrg, t0),
			want: want{actions: []act{{Pipedrive, Update, "org"}}, base: ptr(adaOrg), written: ptr(adaOrg)},
		},
		{
			name: "both edit different fields → both survive",
			base: ptr(ada), pd: present(adaOrg, t0), g: present(adaKing, later),
			want: want{
				actions: []act{{Pipedrive, Update, "family"}, {Google, Update, "org"}},
				base:    ptr(mk("Ada", "King", phone("030 1234567", "work"), email("ada@example.com"), org("Acme"))),
			},
		},
		{
			name: "same field changed on both → later wins (Google), conflict recorded",
			base: ptr(ada),
			pd:   present(mk("Ada", "Byron", phone("030 1234567", "work"), email("ada@example.com")), t0),
			g:    present(adaKing, later),
			want: want{actions: []act{{Pipedrive, Update, "family"}}, base: ptr(adaKing), conflicts: []string{"family→google"}},
		},
		{
			name: "same field changed on both → later wins (Pipedrive), conflict recorded",
			base: ptr(ada),
			pd:   present(mk("Ada", "Byron", phone("030 1234567", "work"), email("ada@example.com")), later),
			g:    present(adaKing, t0),
			want: want{actions: []act{{Google, Update, "family"}}, conflicts: []string{"family→pipedrive"}},
		},
		{
			// Pipedrive's update_time has whole seconds: 12:00:00 is an edit
			// made at any time in that second, e.g. after 12:00:00.4
			name: "same field changed on both, Google later within Pipedrive's second → a tie, Pipedrive wins",
			base: ptr(ada),
			pd:   present(mk("Ada", "Byron", phone("030 1234567", "work"), email("ada@example.com")), t0),
			g:    present(adaKing, t0.Add(400*time.Millisecond)),
			want: want{actions: []act{{Google, Update, "family"}}, conflicts: []string{"family→pipedrive"}},
		},
		{
			name: "same field changed on both, Google in the next second → Google wins",
			base: ptr(ada),
			pd:   present(mk("Ada", "Byron", phone("030 1234567", "work"), email("ada@example.com")), t0),
			g:    present(adaKing, t0.Add(time.Second)),
			want: want{actions: []act{{Pipedrive, Update, "family"}}, conflicts: []string{"family→google"}},
		},
		{
			name: "same change on both → no conflict, no write",
			base: ptr(ada), pd: present(adaOrg, t0), g: present(adaOrg, later),
			want: want{base: ptr(adaOrg)},
		},
		{
			name: "list items added on both sides → union",
			base: ptr(ada),
			pd:   present(mk("Ada", "Lovelace", phone("030 1234567", "work"), email("ada@example.com"), phone("0170 1111111", "mobile")), t0),
			g:    present(mk("Ada", "Lovelace", phone("030 1234567", "work"), email("ada@example.com"), email("ada@home.example")), later),
			want: want{
				actions: []act{{Pipedrive, Update, "emails"}, {Google, Update, "phones"}},
				base:    ptr(mk("Ada", "Lovelace", phone("030 1234567", "work"), email("ada@example.com"), phone("0170 1111111", "mobile"), email("ada@home.example"))),
			},
		},
		{
			name: "item removed on one side → removed",
			base: ptr(mk("Ada", "Lovelace", phone("030 1234567", "work"), phone("0170 1111111", "mobile"))),
			pd:   present(mk("Ada", "Lovelace", phone("030 1234567", "work")), t0),
			g:    present(mk("Ada", "Lovelace", phone("030 1234567", "work"), phone("+49 170 1111111", "mobile")), later),
			want: want{actions: []act{{Google, Update, "phones"}}, base: ptr(mk("Ada", "Lovelace", phone("030 1234567", "work")))},
		},
		{
			name: "item removed on one side, relabelled on the other → kept (edit beats delete)",
			base: ptr(mk("Ada", "Lovelace", phone("030 1234567", "work"), phone("0170 1111111", "mobile"))),
			pd:   present(mk("Ada", "Lovelace", phone("030 1234567", "work")), t0),
			g:    present(mk("Ada", "Lovelace", phone("030 1234567", "work"), phone("0170 1111111", "home")), later),
			want: want{actions: []act{{Pipedrive, Update, "phones"}}},
		},
		{
			name: "item label changed on both → later wins per item",
			base: ptr(mk("Ada", "", phone("030 1234567", "work"))),
			pd:   present(mk("Ada", "", phone("030 1234567", "home")), later),
			g:    present(mk("Ada", "", phone("030 1234567", "mobile")), t0),
			want: want{actions: []act{{Google, Update, "phones"}}, conflicts: []string{"phones[+49301234567].label→pipedrive"}},
		},
		{
			name: "primary moved on one side → follows",
			base: ptr(mk("Ada", "", primaryPhone("030 1234567", "work"), phone("0170 1111111", "mobile"))),
			pd:   present(mk("Ada", "", phone("030 1234567", "work"), primaryPhone("0170 1111111", "mobile")), later),
			g:    present(mk("Ada", "", primaryPhone("030 1234567", "work"), phone("0170 1111111", "mobile")), t0),
			want: want{actions: []act{{Google, Update, "phones"}}, base: ptr(mk("Ada", "", phone("030 1234567", "work"), primaryPhone("0170 1111111", "mobile")))},
		},
		{
			name: "Pipedrive deleted, Google unchanged → delete in Google",
			base: ptr(ada), pd: deleted, g: present(ada, t0),
			want: want{actions: []act{{Google, Delete, ""}}, unlink: true, noBase: true},
		},
		{
			name: "Google deleted, Pipedrive unchanged → delete in Pipedrive",
			base: ptr(ada), pd: present(ada, t0), g: deleted,
			want: want{actions: []act{{Pipedrive, Delete, ""}}, unlink: true, noBase: true},
		},
		{
			name: "Pipedrive deleted, Google edited → re-created in Pipedrive (edit beats delete)",
			base: ptr(ada), pd: deleted, g: present(adaOrg, t0),
			want: want{actions: []act{{Pipedrive, Create, "given,family,org,phones,emails"}}, base: ptr(adaOrg), written: ptr(adaOrg)},
		},
		{
			name: "Google deleted, Pipedrive edited → re-created in Google (edit beats delete)",
			base: ptr(ada), pd: present(adaOrg, t0), g: deleted,
			want: want{actions: []act{{Google, Create, "given,family,org,phones,emails"}}, base: ptr(adaOrg)},
		},
		{
			name: "linked record not found counts as deleted",
			base: ptr(ada), pd: present(ada, t0), g: absent,
			want: want{actions: []act{{Pipedrive, Delete, ""}}, unlink: true, noBase: true},
		},
		{
			name: "removed from the Google group → delete in Pipedrive",
			base: ptr(ada), pd: present(ada, t0), g: outOfScope,
			want: want{actions: []act{{Pipedrive, Delete, ""}}, unlink: true, noBase: true},
		},
		{
			name: "removed from the group, Pipedrive edited → new Google contact in the group",
			base: ptr(ada), pd: present(adaOrg, t0), g: outOfScope,
			want: want{actions: []act{{Google, Create, "given,family,org,phones,emails"}}, base: ptr(adaOrg)},
		},
		{
			name: "owner changed away from the user → leaves the Google group",
			base: ptr(ada), pd: SideState{State: OutOfScope, Contact: ada}, g: present(adaOrg, t0),
			want: want{actions: []act{{Google, Leave, ""}}, unlink: true, noBase: true},
		},
		{
			name: "owner changed away, policy unlink → forget",
			base: ptr(ada), pd: SideState{State: OutOfScope, Contact: ada}, g: present(ada, t0), policy: Unlink,
			want: want{unlink: true, noBase: true},
		},
		{
			name: "owner changed to the user (no link) → joins: created in Google",
			pd:   present(ada, t0), g: absent,
			want: want{actions: []act{{Google, Create, "given,family,phones,emails"}}, base: ptr(ada)},
		},
		{
			name: "new in Google → created in Pipedrive, hidden fields not written",
			pd:   absent, g: present(mk("G", "", im("g1", "skype"), city("Berlin")), t0), hidden: contact.IM | contact.Address | contact.JobTitle,
			want: want{actions: []act{{Pipedrive, Create, "given"}}, base: ptr(mk("G", "", im("g1", "skype"), city("Berlin")))},
		},
		{
			name: "no link, twin owned by another user → skipped",
			pd:   SideState{State: OutOfScope, Contact: ada}, g: present(ada, t0),
			want: want{noBase: true},
		},
		{
			name: "matched twins (no base) → union, later wins on scalars",
			pd:   present(mk("Ada", "Lovelace", phone("030 1234567", "work"), org("Acme")), later),
			g:    present(mk("Ada", "Lovelace", email("ada@example.com"), org("ACME Ltd")), t0),
			want: want{
				actions:   []act{{Pipedrive, Update, "emails"}, {Google, Update, "org,phones"}},
				base:      ptr(mk("Ada", "Lovelace", phone("030 1234567", "work"), email("ada@example.com"), org("Acme"))),
				conflicts: []string{"org→pipedrive"},
			},
		},
		{
			name: "policy unlink: Google deleted → link forgotten, nothing written",
			base: ptr(ada), pd: present(ada, t0), g: deleted, policy: Unlink,
			want: want{unlink: true, noBase: true},
		},
		{
			name: "policy ignore: Google deleted → nothing, link kept",
			base: ptr(ada), pd: present(ada, t0), g: deleted, policy: Ignore,
			want: want{base: ptr(ada)},
		},
		{
			name: "policy ignore: Pipedrive deleted while Google edited → nothing",
			base: ptr(ada), pd: deleted, g: present(adaOrg, t0), policy: Ignore,
			want: want{base: ptr(ada)},
		},
		{
			name: "gone on both sides → unlink",
			base: ptr(ada), pd: deleted, g: outOfScope,
			want: want{unlink: true, noBase: true},
		},
		{
			name: "field unknown on Pipedrive is taken from Google, not cleared",
			base: ptr(mk("Ada", "", im("ada", "skype"))),
			pd:   present(mk("Ada", "", unknown(contact.IM|contact.Address|contact.JobTitle)), later),
			g:    present(mk("Ada", "", im("ada2", "skype"), city("Berlin")), t0),
			want: want{base: ptr(mk("Ada", "", im("ada2", "skype"), city("Berlin")))},
		},
		{
			name: "Pipedrive edit with hidden fields → Google update keeps Google's IM",
			base: ptr(mk("Ada", "", im("ada", "skype"))),
			pd:   present(mk("Ada", "King", unknown(contact.IM|contact.Address|contact.JobTitle)), later),
			g:    present(mk("Ada", "", im("ada", "skype")), t0),
			want: want{actions: []act{{Google, Update, "family"}}, written: ptr(mk("Ada", "King", im("ada", "skype")))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Decide(Input{Base: tt.base, Pipedrive: tt.pd, Google: tt.g, Policy: tt.policy, Now: t0, PipedriveHidden: tt.hidden})
			if err != nil {
				t.Fatal(err)
			}
			var got []act
			for _, a := range p.Actions {
				got = append(got, act{a.Side, a.Op, a.Fields.String()})
			}
			if d := cmp.Diff(tt.want.actions, got); d != "" {
				t.Errorf("actions (-want +got):\n%s\n%s", d, p.History.Summary)
			}
			if p.Unlink != tt.want.unlink {
				t.Errorf("unlink = %v", p.Unlink)
			}
			if tt.want.noBase && p.Base != nil {
				t.Errorf("base = %+v, want none", p.Base)
			}
			if tt.want.base != nil {
				if p.Base == nil {
					t.Fatalf("no base")
				}
				if d := cmp.Diff(*tt.want.base, *p.Base, cmpContent); d != "" {
					t.Errorf("base (-want +got):\n%s", d)
				}
			}
			if tt.want.written != nil {
				w := p.Actions[0].Contact
				w.Unknown = 0
				if d := cmp.Diff(*tt.want.written, w, cmpContent); d != "" {
					t.Errorf("written (-want +got):\n%s", d)
				}
			}
			var conf []string
			for _, c := range p.Conflicts {
				conf = append(conf, c.Field+"→"+string(c.Winner))
			}
			if d := cmp.Diff(tt.want.conflicts, conf); d != "" {
				t.Errorf("conflicts (-want +got):\n%s", d)
			}
			if p.History.Summary == "" || !p.History.At.Equal(t0) {
				t.Errorf("history: %+v", p.History)
			}
			if len(p.History.Written) != len(p.Actions) || len(p.History.Conflicts) != len(p.Conflicts) {
				t.Errorf("history does not list the writes and conflicts: %+v", p.History)
			}
		})
	}
}

func TestEchoHistorySaysWhy(t *testing.T) {
	c := mk("Ada", "")
	p, _ := Decide(Input{Base: &c, Pipedrive: present(c, t0), Google: present(c, t0), Now: t0})
	if p.Writes() || p.History.Skipped == "" {
		t.Errorf("echo: %+v", p)
	}
}

func TestWrittenCarriesSideUnknown(t *testing.T) {
	// an update to Pipedrive must not write what Pipedrive does not show
	base := mk("Ada", "")
	pd := mk("Ada", "", unknown(contact.IM|contact.Address|contact.JobTitle))
	g := mk("Ada", "King", im("x", "skype"))
	p, _ := Decide(Input{Base: &base, Pipedrive: present(pd, t0), Google: present(g, t0), Now: t0})
	if len(p.Actions) != 1 || p.Actions[0].Side != Pipedrive || p.Actions[0].Contact.Unknown != pd.Unknown {
		t.Fatalf("actions: %+v", p.Actions)
	}
	if p.Actions[0].Fields != contact.Family {
		t.Errorf("fields %v", p.Actions[0].Fields)
	}
}

func TestDecideRejectsBadInput(t *testing.T) {
	if _, err := Decide(Input{Policy: "shred"}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("policy: %v", err)
	}
	if _, err := Decide(Input{Pipedrive: SideState{State: 42}}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("state: %v", err)
	}
}

func TestBrake(t *testing.T) {
	tests := []struct {
		name           string
		links, deletes int
		trip           bool
	}{
		{"few deletes on a small connection", 20, 10, false},
		{"over the minimum and the share", 20, 11, true},
		{"20 % of 1000 is allowed", 1000, 200, false},
		{"over 20 % of 1000", 1000, 201, true},
		{"no links", 0, 10, false},
		{"no links, many deletes", 0, 11, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := DefaultBrake.Check(tt.links, tt.deletes)
			var md *MassDeleteError
			if got := errors.As(err, &md); got != tt.trip {
				t.Fatalf("trip = %v (%v)", got, err)
			}
			if tt.trip && (md.Deletes != tt.deletes || md.Links != tt.links) {
				t.Errorf("error: %+v", md)
			}
		})
	}
	// counting a batch: deletes and leaves count, creates do not
	ada := mk("Ada", "")
	var plans []Plan
	for range 3 {
		p, _ := Decide(Input{Base: &ada, Pipedrive: deleted, Google: present(ada, t0), Now: t0})
		plans = append(plans, p)
	}
	p, _ := Decide(Input{Base: &ada, Pipedrive: SideState{State: OutOfScope}, Google: present(ada, t0), Now: t0})
	plans = append(plans, p)
	p, _ = Decide(Input{Pipedrive: present(ada, t0), Now: t0})
	plans = append(plans, p)
	if n := CountDeletes(plans); n != 4 {
		t.Errorf("CountDeletes = %d, want 4", n)
	}
}

func TestEmptySideGuard(t *testing.T) {
	var es *EmptySideError
	if err := CheckEmptySide(Google, 11, 0); !errors.As(err, &es) || es.Side != Google || es.Links != 11 {
		t.Errorf("got %v", err)
	}
	for _, tc := range []struct{ links, listed int }{{0, 0}, {11, 1}, {DefaultBrake.Min, 0}, {1, 0}} {
		if err := CheckEmptySide(Pipedrive, tc.links, tc.listed); err != nil {
			t.Errorf("%d links, %d listed: %v (the brake's minimum may always go)", tc.links, tc.listed, err)
		}
	}
}
