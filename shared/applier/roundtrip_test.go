package applier_test

// Round-trip fidelity (issue 11, "Done when"): contacts typed on each side
// with no name, only an organization, e-mails differing in case, every
// Google phone and e-mail type, two addresses, umlauts and "&", and German
// numbers in their usual spellings go through the real applier, store and
// strict fakes, get edited on each side, and nothing the user typed is
// lost, renamed, reordered or duplicated on either side; quiet periods
// write nothing.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
)

// typedItem is a phone or e-mail as the user typed it on one side.
type typedItem struct {
	email        bool
	value, label string // label: the Google type or the Pipedrive label
}

// rtPair is one contact of the round trip: where the user made it, what
// the user typed on each side so far, and the names each side must show.
type rtPair struct {
	name   string
	origin queue.Side
	pid    string
	rn     string
	// typed on each side, in the order typed
	gTyped, pTyped []typedItem
	// the Google addresses typed (street), in order
	gAddrs []string
	// the names each side must show: Google's given and family, Pipedrive's
	// whole name, and the organization (typed on either side)
	gGiven, gFamily, pName, org string
}

func gItems(p *people.Person) []typedItem {
	var out []typedItem
	for _, ph := range p.PhoneNumbers {
		out = append(out, typedItem{value: ph.Value, label: ph.Type})
	}
	for _, em := range p.EmailAddresses {
		out = append(out, typedItem{email: true, value: em.Value, label: em.Type})
	}
	return out
}

func pItems(p pipedrive.Person) []typedItem {
	var out []typedItem
	for _, ph := range p.Phones {
		out = append(out, typedItem{value: ph.Value, label: ph.Label})
	}
	for _, em := range p.Emails {
		out = append(out, typedItem{email: true, value: em.Value, label: em.Label})
	}
	return out
}

func (e *env) itemKey(it typedItem) string {
	if it.email {
		return "e:" + contact.EmailKey(it.value)
	}
	return "p:" + e.m.PhoneKey(it.value)
}

func TestRoundTripFidelity(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true})
	var pairs []*rtPair

	// On the Google side.
	seedG := func(name string, p *people.Person, given, family, pName string) *rtPair {
		rn := e.gSeed(p)
		gp, _ := e.gContact(rn)
		rp := &rtPair{name: name, origin: gg, rn: rn, gTyped: gItems(gp), gGiven: given, gFamily: family, pName: pName}
		for _, a := range gp.Addresses {
			rp.gAddrs = append(rp.gAddrs, a.StreetAddress)
		}
		if len(gp.Organizations) > 0 {
			rp.org = gp.Organizations[0].Name
		}
		pairs = append(pairs, rp)
		return rp
	}
	gNoName := seedG("Google: no name, an organization and a phone", &people.Person{
		Organizations: []*people.Organization{{Name: "Stadtwerke Köln"}},
		PhoneNumbers:  []*people.PhoneNumber{{Value: "0221 178-0", Type: "work"}},
	}, "", "", "Stadtwerke Köln")
	gNoNameMail := seedG("Google: no name, an e-mail and a phone", &people.Person{
		EmailAddresses: []*people.EmailAddress{{Value: "Info@Baeckerei-Gross.de", Type: "work"}},
		PhoneNumbers:   []*people.PhoneNumber{{Value: "0160 1112223", Type: "mobile"}},
	}, "", "", "Info@Baeckerei-Gross.de")
	seedG("Google: only an organization", &people.Person{
		Organizations: []*people.Organization{{Name: "Müller & Söhne GmbH"}},
	}, "", "", "Müller & Söhne GmbH")
	gCase := seedG("Google: e-mails differing in case", &people.Person{
		Names: []*people.Name{{GivenName: "Max", FamilyName: "Müller"}},
		EmailAddresses: []*people.EmailAddress{{Value: "Max@Firma.de", Type: "work"},
			{Value: "max@firma.de", Type: "home"}},
	}, "Max", "Müller", "Max Müller")
	var phones []*people.PhoneNumber
	for i, typ := range []string{"home", "work", "mobile", "homeFax", "workFax", "otherFax", "pager",
		"workMobile", "workPager", "main", "googleVoice", "other", "Zentrale"} {
		v := fmt.Sprintf("030 20000%02d", i)
		switch typ {
		case "mobile":
			v = "0171 2345678"
		case "work":
			v = "+49 (0)30 1234567"
		}
		phones = append(phones, &people.PhoneNumber{Value: v, Type: typ})
	}
	phones = append(phones, &people.PhoneNumber{Value: "+49 171 2345678", Type: "workMobile"}) // the mobile again
	gTypes := seedG("Google: every phone and e-mail type, umlauts and &", &people.Person{
		Names:         []*people.Name{{GivenName: "Jürgen", FamilyName: "Groß-Weiß"}},
		Organizations: []*people.Organization{{Name: "Bäckerei Öztürk & Co. KG"}},
		PhoneNumbers:  phones,
		EmailAddresses: []*people.EmailAddress{{Value: "juergen@privat.example", Type: "home"},
			{Value: "j.gross@oeztuerk.example", Type: "work"}, {Value: "jg@other.example", Type: "other"},
			{Value: "rechnung@oeztuerk.example", Type: "Rechnungen"}},
	}, "Jürgen", "Groß-Weiß", "Jürgen Groß-Weiß")
	gAddr := seedG("Google: two addresses", &people.Person{
		Names: []*people.Name{{GivenName: "Renée", FamilyName: "Weiß"}},
		Addresses: []*people.Address{{StreetAddress: "Hohe Str. 2", City: "Köln", PostalCode: "50667", Type: "home"},
			{StreetAddress: "Ring 1", City: "Köln", PostalCode: "50672", Type: "work",
				Metadata: &people.FieldMetadata{Primary: true}}},
	}, "Renée", "Weiß", "Renée Weiß")

	// On the Pipedrive side (a person always has a name there, and one
	// address at most).
	addP := func(name string, in pipedrive.PersonInput, org string) *rtPair {
		if org != "" {
			id, err := e.pd.AddOrganization(e.user, org)
			if err != nil {
				t.Fatal(err)
			}
			in.SetOrg, in.OrgID = true, &id
		}
		pid := e.pdAdd(in)
		p, _ := e.pdPerson(pid)
		given, family := pipedrive.SplitName(p.Name)
		rp := &rtPair{name: name, origin: pd, pid: pid, pTyped: pItems(p), gGiven: given, gFamily: family, pName: p.Name, org: org}
		pairs = append(pairs, rp)
		return rp
	}
	field := func(v, l string, primary bool) pipedrive.Field {
		return pipedrive.Field{Value: v, Label: l, Primary: primary}
	}
	addP("Pipedrive: only an organization", pipedrive.PersonInput{Name: ptr("Zoë Schäfer")}, "Schäfer & Partner mbB")
	pCase := addP("Pipedrive: e-mails differing in case", pipedrive.PersonInput{Name: ptr("Erika Mustermann"),
		Emails: &[]pipedrive.Field{field("Erika@Beispiel.de", "work", true), field("erika@beispiel.de", "home", false)}}, "")
	pLabels := addP("Pipedrive: every label, German numbers, umlauts and &", pipedrive.PersonInput{Name: ptr("Ömer Çelik-Äbelé"),
		Phones: &[]pipedrive.Field{field("0171 7654321", "mobile", true), field("+49 (0)40 1234567", "work", false),
			field("0221 9876543", "home", false), field("089 1234567", "other", false), field("040 1234567", "other", false)},
		Emails: &[]pipedrive.Field{field("oemer@aerzte.example", "work", true), field("oemer@privat.example", "home", false),
			field("oemer@alt.example", "other", false)},
		PostalAddress: &pipedrive.Address{Value: "Königsallee 1, 40212 Düsseldorf", Route: "Königsallee 1", Locality: "Düsseldorf", PostalCode: "40212"},
	}, "Ärzte & Apotheker eG")

	// Sync: each new record, then the echo of each write.
	sync := func() {
		t.Helper()
		for _, rp := range pairs {
			if rp.origin == gg {
				e.apply(gg, rp.rn, queue.Upsert)
			} else {
				e.apply(pd, rp.pid, queue.Upsert)
			}
			l, ok := e.link(rp.origin, map[queue.Side]string{gg: rp.rn, pd: rp.pid}[rp.origin])
			if !ok || l.PipedriveID == "" || l.GoogleID == "" {
				t.Fatalf("%s: not linked: %+v", rp.name, l)
			}
			rp.pid, rp.rn = l.PipedriveID, l.GoogleID
		}
	}
	// quiet delivers every record of both sides again (webhook retries,
	// poller rounds, echoes): nothing may be written anywhere.
	quiet := func(when string) {
		t.Helper()
		e.advance(time.Minute)
		e.webhooksSeen()
		before := e.traffic()
		for _, rp := range pairs {
			e.apply(pd, rp.pid, queue.Upsert)
			e.apply(gg, rp.rn, queue.Upsert)
		}
		if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 || d.fsWrites != 0 {
			t.Errorf("%s: a quiet period wrote %d times to Google, %d to Pipedrive, %d to Firestore", when, d.gWrites, d.pWrites, d.fsWrites)
		}
		if h := e.held(""); len(h) > 0 {
			t.Fatalf("%s: changes held: %+v", when, h)
		}
	}
	sync()
	quiet("after the first sync")
	e.checkFidelity(t, "after the first sync", pairs)

	// What the sync had to do on its own, in words in the history.
	for _, rp := range []*rtPair{gNoName, gNoNameMail} {
		l, _ := e.link(gg, rp.rn)
		if l.DerivedName != rp.pName || !historySays(l.History, "Pipedrive requires one") {
			t.Errorf("%s: derived name %q, history %+v", rp.name, l.DerivedName, l.History)
		}
	}
	if l, _ := e.link(gg, gAddr.rn); !historySays(l.History, "the Google contact has another address") {
		t.Errorf("the second address is not mentioned: %+v", l.History)
	}
	if p, _ := e.pdPerson(gAddr.pid); p.PostalAddress == nil || !strings.Contains(p.PostalAddress.Value, "Ring 1") {
		t.Errorf("Pipedrive's address is not the primary Google one: %+v", p.PostalAddress)
	}

	// Edits on each side.
	e.advance(time.Minute)
	pAppend := func(rp *rtPair, it typedItem) {
		t.Helper()
		p, _ := e.pdPerson(rp.pid)
		in := pipedrive.PersonInput{}
		f := pipedrive.Field{Value: it.value, Label: it.label}
		if it.email {
			l := append(slices.Clone(p.Emails), f)
			in.Emails = &l
		} else {
			l := append(slices.Clone(p.Phones), f)
			in.Phones = &l
		}
		e.pdEdit(rp.pid, in)
		rp.pTyped = append(rp.pTyped, it)
		e.apply(pd, rp.pid, queue.Upsert)
		e.apply(gg, rp.rn, queue.Upsert) // the echo
	}
	gEdit := func(rp *rtPair, edit func(*people.Person)) {
		t.Helper()
		if _, err := e.g.EditContact(googlefake.DemoUser, rp.rn, edit); err != nil {
			t.Fatal(err)
		}
		gp, _ := e.gContact(rp.rn)
		rp.gTyped = gItems(gp)
		rp.gAddrs = nil
		for _, a := range gp.Addresses {
			rp.gAddrs = append(rp.gAddrs, a.StreetAddress)
		}
		e.apply(gg, rp.rn, queue.Upsert)
		e.apply(pd, rp.pid, queue.Upsert) // the echo
	}
	// Pipedrive: a phone for the contact without a name (which stays
	// without one in Google), an e-mail where Google holds every type and
	// where Google holds two spellings, a real name where there was none.
	pAppend(gNoName, typedItem{value: "0221 178-1", label: "home"})
	pAppend(gTypes, typedItem{email: true, value: "Juergen.Gross@Oeztuerk.example", label: "work"})
	pAppend(gTypes, typedItem{value: "0171 9998887", label: "mobile"})
	pAppend(gCase, typedItem{email: true, value: "m.mueller@privat.example", label: "home"})
	e.pdEdit(gNoNameMail.pid, pipedrive.PersonInput{Name: ptr("Bäckerei Groß")})
	gNoNameMail.pName, gNoNameMail.gGiven, gNoNameMail.gFamily = "Bäckerei Groß", "Bäckerei", "Groß"
	e.apply(pd, gNoNameMail.pid, queue.Upsert)
	e.apply(gg, gNoNameMail.rn, queue.Upsert)
	// Google: an e-mail where Pipedrive holds two spellings (the one only
	// Pipedrive has must stay there), a fax type for a Pipedrive number,
	// a phone next to the two addresses, a second address for a contact
	// made in Pipedrive.
	gEdit(pCase, func(p *people.Person) {
		p.EmailAddresses = append(p.EmailAddresses, &people.EmailAddress{Value: "erika.mustermann@privat.example", Type: "home"})
	})
	gEdit(pLabels, func(p *people.Person) {
		for _, ph := range p.PhoneNumbers {
			if ph.Type == "work" {
				ph.Type = "workFax"
			}
		}
		p.Addresses = append(p.Addresses, &people.Address{StreetAddress: "Kö-Bogen 2", City: "Düsseldorf", Type: "other"})
	})
	gEdit(gAddr, func(p *people.Person) {
		p.PhoneNumbers = append(p.PhoneNumbers, &people.PhoneNumber{Value: "+49 (0)221 123456", Type: "workFax"})
	})
	quiet("after the edits")
	e.checkFidelity(t, "after the edits", pairs)

	if l, _ := e.link(gg, gNoNameMail.rn); l.DerivedName != "" {
		t.Errorf("a name typed in Pipedrive is still taken for derived: %q", l.DerivedName)
	}
	if l, _ := e.link(pd, pLabels.pid); !historySays(l.History, "the Google contact has another address") {
		t.Errorf("the address added in Google is not mentioned: %+v", l.History)
	}
	// The Pipedrive-only spelling stayed in Pipedrive (the case).
	if p, _ := e.pdPerson(pCase.pid); len(p.Emails) != 3 || p.Emails[1].Value != "erika@beispiel.de" {
		t.Errorf("Pipedrive e-mails: %+v", p.Emails)
	}
}

func historySays(h []store.HistoryEntry, s string) bool {
	for _, x := range h {
		if strings.Contains(x.Detail, s) {
			return true
		}
	}
	return false
}

// checkFidelity: on each side, what the user typed there is there, once,
// as typed (value and type or label), in the order typed; what was typed on
// the other side is there once (a key typed twice on one side stays twice
// there, once on the other); Pipedrive holds only documented labels, the
// nearest one to the Google type; the names and organizations are as typed;
// Google's addresses are all still there.
func (e *env) checkFidelity(t *testing.T, when string, pairs []*rtPair) {
	t.Helper()
	documented := map[string]bool{"work": true, "home": true, "mobile": true, "other": true}
	for _, rp := range pairs {
		gp, ok := e.gContact(rp.rn)
		if !ok {
			t.Fatalf("%s: %s: Google contact gone", when, rp.name)
		}
		p, ok := e.pdPerson(rp.pid)
		if !ok {
			t.Fatalf("%s: %s: Pipedrive person gone", when, rp.name)
		}
		errorf := func(format string, args ...any) {
			t.Errorf("%s: %s: %s", when, rp.name, fmt.Sprintf(format, args...))
		}
		side := map[string][]typedItem{"Google": gItems(gp), "Pipedrive": pItems(p)}
		typed := map[string][]typedItem{"Google": rp.gTyped, "Pipedrive": rp.pTyped}
		for _, s := range []string{"Google", "Pipedrive"} {
			// typed here: there, as typed, in the order typed (phones and
			// e-mails each)
			at := map[bool]int{}
			for _, it := range typed[s] {
				j := slices.Index(side[s][at[it.email]:], it)
				if j < 0 {
					errorf("%q (%s) typed in %s is no longer there as typed, in order: %+v", it.value, it.label, s, side[s])
					continue
				}
				at[it.email] += j + 1
			}
		}
		count := func(items []typedItem) map[string]int {
			n := map[string]int{}
			for _, it := range items {
				n[e.itemKey(it)]++
			}
			return n
		}
		tg, tp := count(rp.gTyped), count(rp.pTyped)
		for _, s := range []string{"Google", "Pipedrive"} {
			have, mine, theirs := count(side[s]), tg, tp
			if s == "Pipedrive" {
				mine, theirs = tp, tg
			}
			for k, n := range have {
				want := max(mine[k], min(theirs[k], 1))
				if n != want {
					errorf("%s holds %s %d times, want %d", s, k, n, want)
				}
			}
			for k := range theirs {
				if have[k] == 0 {
					errorf("%s lacks %s, typed on the other side", s, k)
				}
			}
		}
		// Labels: documented in Pipedrive, the nearest to Google's type for
		// what came from Google; Google's type as typed for what came from
		// Pipedrive.
		for _, it := range side["Pipedrive"] {
			if !documented[it.label] {
				errorf("Pipedrive holds the undocumented label %q", it.label)
			}
		}
		for _, g := range rp.gTyped {
			if tp[e.itemKey(g)] > 0 {
				continue
			}
			want := contact.PipedrivePhoneLabel(g.label)
			if g.email {
				want = contact.PipedriveEmailLabel(g.label)
			}
			for _, it := range side["Pipedrive"] {
				if e.itemKey(it) == e.itemKey(g) && it.label != want && tg[e.itemKey(g)] == 1 {
					errorf("Google's %s (%s) is %q in Pipedrive, want %q", g.value, g.label, it.label, want)
				}
			}
		}
		// Names and organizations.
		var given, family string
		for _, n := range gp.Names {
			given, family = n.GivenName, n.FamilyName
		}
		if given != rp.gGiven || family != rp.gFamily {
			errorf("Google name %q %q, want %q %q", given, family, rp.gGiven, rp.gFamily)
		}
		if p.Name != rp.pName {
			errorf("Pipedrive name %q, want %q", p.Name, rp.pName)
		}
		gOrg, pOrg := "", ""
		if len(gp.Organizations) > 0 {
			gOrg = gp.Organizations[0].Name
		}
		if p.OrgID != nil {
			pOrg, _ = e.pd.OrganizationName(*p.OrgID)
		}
		if gOrg != rp.org || pOrg != rp.org {
			errorf("organization %q in Google, %q in Pipedrive, want %q", gOrg, pOrg, rp.org)
		}
		// Addresses: every one typed in Google is still there.
		var streets []string
		for _, a := range gp.Addresses {
			streets = append(streets, a.StreetAddress)
		}
		for _, s := range rp.gAddrs {
			if !slices.Contains(streets, s) {
				errorf("the Google address %q is gone: %q", s, streets)
			}
		}
	}
}

// TestSecondAddressAddedInGoogle: an address added in Google next to the
// synced one changes nothing that syncs, so nothing is written to either
// service, but the contact's history says it stays in Google only; the
// next deliveries write nothing at all.
func TestSecondAddressAddedInGoogle(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true})
	pid, rn := e.synced(pipedrive.PersonInput{Name: ptr("Käthe Groß"),
		PostalAddress: &pipedrive.Address{Value: "Ring 1, 50672 Köln", Route: "Ring 1", Locality: "Köln", PostalCode: "50672"}})
	e.apply(gg, rn, queue.Upsert) // the create's echo
	before := e.traffic()
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
		p.Addresses = append(p.Addresses, &people.Address{StreetAddress: "Hohe Str. 2", City: "Köln", Type: "home"})
	}); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 {
		t.Errorf("wrote %d to Google, %d to Pipedrive", d.gWrites, d.pWrites)
	}
	l, _ := e.link(pd, pid)
	if last := l.History[len(l.History)-1]; !strings.Contains(last.Detail, "the Google contact has another address") {
		t.Errorf("history: %+v", last)
	}
	if p, _ := e.pdPerson(pid); p.PostalAddress == nil || p.PostalAddress.Route != "Ring 1" {
		t.Errorf("Pipedrive's address: %+v", p.PostalAddress)
	}
	before = e.traffic()
	e.apply(gg, rn, queue.Upsert)
	e.apply(pd, pid, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 || d.fsWrites != 0 {
		t.Errorf("redeliveries wrote %d to Google, %d to Pipedrive, %d to Firestore", d.gWrites, d.pWrites, d.fsWrites)
	}
	if gp, _ := e.gContact(rn); len(gp.Addresses) != 2 {
		t.Errorf("Google addresses: %+v", gp.Addresses)
	}
}

// TestGoogleTypeComesBack: a Google type Pipedrive holds as its nearest
// label is no change either way (a relabel in Google to another type of
// the same label writes nothing to Pipedrive), and a Google contact deleted
// while the person was edited is created again with its Google types.
func TestGoogleTypeComesBack(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true})
	rn := e.gSeed(&people.Person{
		Names: []*people.Name{{GivenName: "Frieda", FamilyName: "Faß"}},
		PhoneNumbers: []*people.PhoneNumber{{Value: "+49 (0)30 1234567", Type: "workFax"},
			{Value: "0171 2345678", Type: "googleVoice"}},
		EmailAddresses: []*people.EmailAddress{{Value: "frieda@fass.example", Type: "Rechnungen"}},
	})
	e.apply(gg, rn, queue.Upsert)
	l, _ := e.link(gg, rn)
	pid := l.PipedriveID
	e.apply(pd, pid, queue.Upsert) // the create's echo
	p, _ := e.pdPerson(pid)
	if got := []string{p.Phones[0].Label, p.Phones[1].Label, p.Emails[0].Label}; !slices.Equal(got, []string{"work", "mobile", "other"}) {
		t.Fatalf("Pipedrive labels %q", got)
	}
	// workFax → workPager in Google: still "work" in Pipedrive.
	before := e.traffic()
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) { p.PhoneNumbers[0].Type = "workPager" }); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, rn, queue.Upsert)
	e.apply(pd, pid, queue.Upsert)
	if d := e.traffic().sub(before); d.gWrites != 0 || d.pWrites != 0 {
		t.Errorf("a relabel within one Pipedrive label wrote %d to Google, %d to Pipedrive", d.gWrites, d.pWrites)
	}
	// Deleted in Google while edited in Pipedrive: created again, types kept.
	if err := e.g.DeleteContact(googlefake.DemoUser, rn); err != nil {
		t.Fatal(err)
	}
	e.advance(time.Minute)
	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Frieda Faß-Klein")})
	e.apply(pd, pid, queue.Upsert)
	l, _ = e.link(pd, pid)
	if l.GoogleID == "" || l.GoogleID == rn {
		t.Fatalf("not created again: %+v", l)
	}
	gp, _ := e.gContact(l.GoogleID)
	var got []string
	for _, ph := range gp.PhoneNumbers {
		got = append(got, ph.Type)
	}
	for _, em := range gp.EmailAddresses {
		got = append(got, em.Type)
	}
	if want := []string{"workPager", "googleVoice", "Rechnungen"}; !slices.Equal(got, want) {
		t.Errorf("types after the round trip %q, want %q", got, want)
	}
}

// TestMergeKeepsDerivedName: a person named by the sync (its Google contact
// has no name) survives a merge in Pipedrive whose loser has the newer
// link: its name is still no name for the sync, so it never becomes the
// Google contact's name, and the loser's real name fills it as a merge
// fills every empty value.
func TestMergeKeepsDerivedName(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true})
	sink := e.webhooks("2.0")
	srn := e.gSeed(&people.Person{
		Organizations: []*people.Organization{{Name: "Stadtwerke Köln"}},
		PhoneNumbers:  []*people.PhoneNumber{{Value: "0221 178-0", Type: "workFax"}},
	})
	e.apply(gg, srn, queue.Upsert)
	sl, _ := e.link(gg, srn)
	survivor := sl.PipedriveID
	e.advance(time.Second)
	time.Sleep(5 * time.Millisecond) // links are ordered by their commit time
	loser, _ := e.synced(pipedrive.PersonInput{Name: ptr("Hotline Störungsdienst"), Emails: emails("stoerung@stadtwerke.example")})
	for _, ch := range e.merge(sink, loser, survivor) {
		e.applyChange(ch)
	}
	e.apply(pd, survivor, queue.Upsert)
	l, ok := e.link(pd, survivor)
	if !ok {
		t.Fatal("no link for the survivor")
	}
	if l.Conflicts != 0 || l.DerivedName != "" {
		// which side's change is later is up to the clocks: a conflict
		// means the derived name was taken for one the user typed
		t.Errorf("%d conflicts, derived name %q: the derived name was taken for a real one", l.Conflicts, l.DerivedName)
	}
	gp, _ := e.gContact(l.GoogleID)
	var given, family string
	for _, n := range gp.Names {
		given, family = n.GivenName, n.FamilyName
	}
	if given+" "+family != "Hotline Störungsdienst" {
		t.Errorf("Google name %q %q, want the loser's real name, never the derived one", given, family)
	}
	p, _ := e.pdPerson(survivor)
	if p.Name != "Hotline Störungsdienst" {
		t.Errorf("Pipedrive name %q, want the real name", p.Name)
	}
	for _, ph := range gp.PhoneNumbers {
		if ph.Type != "workFax" {
			t.Errorf("Google phone type %q, want workFax kept", ph.Type)
		}
	}
}

// TestMergeSurvivorRecordWithoutName: a survivor named by the sync whose
// own Google contact left the group (delete policy ignore keeps its link)
// is folded into the loser's contact as a record without a name: its
// derived name never becomes the name of the contact it takes over, and
// the loser's Google types stay, also for a number both hold.
func TestMergeSurvivorRecordWithoutName(t *testing.T) {
	e := newEnv(t, envOptions{contactSync: true, policy: "ignore"})
	sink := e.webhooks("2.0")
	srn := e.gSeed(&people.Person{
		Organizations: []*people.Organization{{Name: "Stadtwerke Köln"}},
		PhoneNumbers:  []*people.PhoneNumber{{Value: "0221 178-0", Type: "work"}},
	})
	e.apply(gg, srn, queue.Upsert)
	sl, _ := e.link(gg, srn)
	survivor := sl.PipedriveID
	if err := e.g.SetMembership(googlefake.DemoUser, srn, e.group, false); err != nil {
		t.Fatal(err)
	}
	e.apply(gg, srn, queue.Upsert) // removed from the group: policy ignore keeps the link
	lrn := e.gSeed(&people.Person{
		Names:        []*people.Name{{GivenName: "Hotline", FamilyName: "Störungsdienst"}},
		PhoneNumbers: []*people.PhoneNumber{{Value: "0221 178-9", Type: "workFax"}},
	})
	e.apply(gg, lrn, queue.Upsert)
	ll, _ := e.link(gg, lrn)
	// the loser's number typed into the survivor too: Pipedrive's label
	e.pdEdit(survivor, pipedrive.PersonInput{Phones: &[]pipedrive.Field{{Value: "0221 178-0", Label: "work", Primary: true},
		{Value: "0221 178-9", Label: "work"}}})
	e.apply(pd, survivor, queue.Upsert) // its contact is outside the group: policy ignore
	for _, ch := range e.merge(sink, ll.PipedriveID, survivor) {
		e.applyChange(ch)
	}
	e.apply(pd, survivor, queue.Upsert)
	l, ok := e.link(pd, survivor)
	if !ok || l.GoogleID != lrn {
		t.Fatalf("survivor's link %+v, want the loser's contact", l)
	}
	gp, _ := e.gContact(lrn)
	var given, family string
	for _, n := range gp.Names {
		given, family = n.GivenName, n.FamilyName
	}
	if given != "Hotline" || family != "Störungsdienst" {
		t.Errorf("Google name %q %q, want the loser's, never the derived one", given, family)
	}
	var types []string
	for _, ph := range gp.PhoneNumbers {
		types = append(types, ph.Value+"/"+ph.Type)
	}
	if !slices.Contains(types, "0221 178-9/workFax") {
		t.Errorf("Google phones %q: the loser's workFax is lost", types)
	}
}
