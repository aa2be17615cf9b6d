package contact

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/google/go-cmp/cmp"
	people "google.golang.org/api/people/v1"
)

var (
	seed   = flag.Uint64("seed", 1, "seed of the randomized tests (0: random)")
	rounds = flag.Int("rounds", 500, "contacts per randomized test")
)

func newRand(t testing.TB) *rand.Rand {
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -args -seed=%d)", s, s)
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

func randWord(r *rand.Rand) string {
	return pick(r, "Ada", "Grace", "Jürgen", "O'Neil", "Ng", "van", "Smith", "Åsa", "李", "Marie-Claire", "Zoë", "Bob")
}

func randPhone(r *rand.Rand) string {
	n := 1000000 + r.IntN(8999999)
	switch r.IntN(6) {
	case 0:
		return fmt.Sprintf("030 %d", n)
	case 1:
		return fmt.Sprintf("+49 30 %d", n)
	case 2:
		return fmt.Sprintf("+1 (415) 555-%04d", n%10000)
	case 3:
		return fmt.Sprintf("0170-%d", n)
	case 4:
		return fmt.Sprintf("+4930%d ext. %d", n, r.IntN(99)+1)
	default:
		return fmt.Sprintf("*%d#", r.IntN(999))
	}
}

func randEmail(r *rand.Rand) string {
	u := pick(r, "ada", "Grace.Hopper", "x", "INFO", "sales+tag")
	return fmt.Sprintf("%s%d@%s", u, r.IntN(100), pick(r, "example.com", "Example.ORG", "mail.example"))
}

var (
	pdPhoneLabels = []string{"work", "home", "mobile", "other", "main", "Assistant", "homeFax", ""}
	pdEmailLabels = []string{"work", "home", "other", "Previous", ""}
	pdIMLabels    = []string{"google", "skype", "aim", "whatsapp", "Telegram", "jabber", "netmeeting", "work", ""}
	gPhoneTypes   = append([]string{"Custom One"}, googlePhoneTypes...)
	gEmailTypes   = append([]string{"school"}, googleEmailTypes...)
	gIMProtocols  = []string{"googleTalk", "skype", "aim", "msn", "yahoo", "qq", "icq", "jabber", "netMeeting", "signal", ""}
)

func randFields(r *rand.Rand, n int, val func(*rand.Rand) string, labels []string) []pipedrive.Field {
	var out []pipedrive.Field
	for range n {
		out = append(out, pipedrive.Field{Value: val(r), Label: pick(r, labels...), Primary: r.IntN(4) == 0})
	}
	return out
}

func randPipedrive(r *rand.Rand) (*pipedrive.Person, string) {
	p := &pipedrive.Person{HasContactSyncFields: true}
	switch r.IntN(3) {
	case 0:
		p.Name = randWord(r)
	case 1:
		p.FirstName, p.LastName = randWord(r)+" "+randWord(r), randWord(r)
		p.Name = p.FirstName + " " + p.LastName
	default:
		p.Name = randWord(r) + " " + randWord(r)
	}
	org := ""
	if r.IntN(2) == 0 {
		p.OrgID, org = ip(int64(r.IntN(5)+1)), pick(r, "Acme", "ACME GmbH", "Initech")
	}
	if r.IntN(2) == 0 {
		p.JobTitle = sp(pick(r, "CTO", "", "Head of Sales"))
	}
	p.Phones = randFields(r, r.IntN(4), randPhone, pdPhoneLabels)
	p.Emails = randFields(r, r.IntN(4), randEmail, pdEmailLabels)
	p.Phones, p.Emails = withVariants(r, p.Phones), withVariants(r, p.Emails)
	p.IM = randFields(r, r.IntN(3), func(r *rand.Rand) string { return pick(r, "ada", "Ada.L", "+491701234567", "grace") }, pdIMLabels)
	switch r.IntN(3) {
	case 0:
		p.PostalAddress = &pipedrive.Address{Value: "Hauptstr. 5, 10115 Berlin", Route: "Hauptstr.", StreetNumber: "5",
			Locality: "Berlin", PostalCode: "10115", Country: pick(r, "Germany", ""), Sublocality: pick(r, "Mitte", ""),
			Subpremise: pick(r, "", "3. OG")}
	case 1:
		p.PostalAddress = &pipedrive.Address{Value: pick(r, "Somewhere 1, Nowhere", "PO Box 12")}
	}
	return p, org
}

func randGoogle(r *rand.Rand) *people.Person {
	g := &people.Person{ResourceName: "people/c1", Etag: "e1"}
	switch r.IntN(3) {
	case 0:
		g.Names = []*people.Name{{GivenName: randWord(r), FamilyName: randWord(r), MiddleName: pick(r, "", "Q")}}
	case 1:
		g.Names = []*people.Name{{GivenName: randWord(r)}}
	default:
		g.Names = []*people.Name{{UnstructuredName: randWord(r) + " " + randWord(r)}}
	}
	if r.IntN(2) == 0 {
		g.Organizations = []*people.Organization{{Name: pick(r, "Acme", "", "Initech"), Title: pick(r, "", "CTO"), Department: pick(r, "", "R&D")}}
	}
	prim := func(i, n int) *people.FieldMetadata { return &people.FieldMetadata{Primary: i == n} }
	np := r.IntN(4)
	pp := r.IntN(np + 1)
	for i := range np {
		g.PhoneNumbers = append(g.PhoneNumbers, &people.PhoneNumber{Value: randPhone(r), Type: pick(r, gPhoneTypes...), Metadata: prim(i, pp)})
	}
	ne := r.IntN(4)
	pe := r.IntN(ne + 1)
	for i := range ne {
		g.EmailAddresses = append(g.EmailAddresses, &people.EmailAddress{Value: randEmail(r), Type: pick(r, gEmailTypes...), DisplayName: pick(r, "", "Dr. X"), Metadata: prim(i, pe)})
	}
	if ne > 0 && r.IntN(3) == 0 {
		// the same address again, differing only in case
		g.EmailAddresses = append(g.EmailAddresses, &people.EmailAddress{Value: swapCase(g.EmailAddresses[0].Value), Type: pick(r, gEmailTypes...)})
	}
	if np > 0 && r.IntN(3) == 0 {
		// the same number again, in another format
		if k := mapper.PhoneKey(g.PhoneNumbers[0].Value); IsE164Key(k) && !strings.Contains(k, ";") {
			g.PhoneNumbers = append(g.PhoneNumbers, &people.PhoneNumber{Value: k, Type: pick(r, gPhoneTypes...)})
		}
	}
	ni := r.IntN(3)
	for i := range ni {
		g.ImClients = append(g.ImClients, &people.ImClient{Username: pick(r, "ada", "Ada.L", "grace"), Protocol: pick(r, gIMProtocols...), Type: pick(r, "", "home"), Metadata: prim(i, 0)})
	}
	for range r.IntN(3) {
		g.Addresses = append(g.Addresses, &people.Address{StreetAddress: pick(r, "", "1 Main St"), City: pick(r, "", "Springfield"),
			CountryCode: pick(r, "", "US"), PoBox: pick(r, "", "PO 9"), Type: pick(r, "home", "work")})
	}
	return g
}

// withVariants appends, now and then, a second spelling of the first item:
// an e-mail differing only in case, a number in E.164 (as users type them).
func withVariants(r *rand.Rand, fs []pipedrive.Field) []pipedrive.Field {
	if len(fs) == 0 || r.IntN(3) != 0 {
		return fs
	}
	v := swapCase(fs[0].Value)
	if k := mapper.PhoneKey(fs[0].Value); IsE164Key(k) && !strings.Contains(k, ";") && !strings.Contains(fs[0].Value, "@") {
		v = k
	}
	return append(fs, pipedrive.Field{Value: v, Label: pick(r, "work", "home", "mobile", "other")})
}

func swapCase(s string) string {
	return strings.Map(func(c rune) rune {
		if u := strings.ToUpper(string(c)); u != string(c) {
			return []rune(u)[0]
		}
		return []rune(strings.ToLower(string(c)))[0]
	}, s)
}

// undocumented returns the labels of a Pipedrive write that Pipedrive does
// not document (facts-pipedrive.md, Corrections, "Labels").
func undocumented(in pipedrive.PersonInput) []string {
	var bad []string
	for _, l := range []*[]pipedrive.Field{in.Phones, in.Emails} {
		if l == nil {
			continue
		}
		for _, f := range *l {
			if !documented[f.Label] {
				bad = append(bad, f.Label)
			}
		}
	}
	return bad
}

// keepsItems reports the first item of old that the write body new does
// not keep at its place with its value, "" if all are kept.
func keepsItems(old []pipedrive.Field, new *[]pipedrive.Field) string {
	if new == nil {
		return "no list written"
	}
	for j, f := range old {
		if j >= len(*new) || (*new)[j].Value != f.Value {
			return f.Value
		}
	}
	return ""
}

// TestRoundTripPipedrive: Pipedrive → Google → Pipedrive is lossless for
// every synced field, both through creates and through updates.
func TestRoundTripPipedrive(t *testing.T) {
	r := newRand(t)
	for i := range *rounds {
		p, org := randPipedrive(r)
		c1 := mapper.FromPipedrive(p, org)
		sent, mask := mapper.ApplyToGoogle(c1, nil)
		g := gApply(nil, sent, mask)
		c2 := mapper.FromGoogle(g)
		if !Equal(c1, c2) {
			t.Fatalf("#%d Pipedrive→Google lost content (-pd +google):\n%s\nperson %+v", i, cmp.Diff(c1, c2, cmpContent), p)
		}
		if _, m := mapper.ApplyToGoogle(c2, g); m != "" {
			t.Fatalf("#%d echo to Google writes %q", i, m)
		}
		in, want := mapper.ToPipedriveInput(c2, nil, "")
		if bad := undocumented(in); len(bad) > 0 {
			t.Fatalf("#%d Pipedrive gets undocumented labels %q", i, bad)
		}
		var org2 string
		p2 := pdApply(nil, in, want, map[string]int64{}, &org2)
		if c3 := AlignPipedrive(mapper.FromPipedrive(p2, org2), c2); !Equal(c1, c3) {
			t.Fatalf("#%d Google→Pipedrive lost content:\n%s", i, cmp.Diff(c1, c3, cmpContent))
		}
		if in, w := mapper.ToPipedriveInput(c2, p, org); !cmp.Equal(in, pipedrive.PersonInput{}) || w.Set {
			t.Fatalf("#%d echo to Pipedrive writes %+v %+v", i, in, w)
		}
		// An edit from Google (one more e-mail and phone) onto the
		// Pipedrive person keeps every item it has where it is, as typed
		// (case variants and numbers typed twice included), and appends.
		c4 := c2.Clone()
		c4.Emails = append(c4.Emails, Email(fmt.Sprintf("new%d@example.com", i), "Rechnungen", false))
		c4.Phones = append(c4.Phones, mapper.Phone(fmt.Sprintf("0221 178-%d", 100+i), "workFax", false))
		in, _ = mapper.ToPipedriveInput(Normalize(c4), p, org)
		if v := keepsItems(p.Emails, in.Emails); v != "" || len(*in.Emails) != len(p.Emails)+1 {
			t.Fatalf("#%d e-mail %q not kept: %+v → %+v", i, v, p.Emails, *in.Emails)
		}
		if v := keepsItems(p.Phones, in.Phones); v != "" || len(*in.Phones) != len(p.Phones)+1 {
			t.Fatalf("#%d phone %q not kept: %+v → %+v", i, v, p.Phones, *in.Phones)
		}
		if bad := undocumented(in); len(bad) > 0 {
			t.Fatalf("#%d Pipedrive gets undocumented labels %q", i, bad)
		}
	}
}

// TestRoundTripGoogle: Google → Pipedrive → Google is lossless for every
// synced field, and the Google fields we do not sync survive the update.
func TestRoundTripGoogle(t *testing.T) {
	r := newRand(t)
	for i := range *rounds {
		g := gApply(nil, randGoogle(r), "")
		c1 := mapper.FromGoogle(g)
		in, want := mapper.ToPipedriveInput(c1, nil, "")
		if bad := undocumented(in); len(bad) > 0 {
			t.Fatalf("#%d Pipedrive gets undocumented labels %q", i, bad)
		}
		var org string
		p := pdApply(nil, in, want, map[string]int64{}, &org)
		c2 := AlignPipedrive(mapper.FromPipedrive(p, org), c1)
		if !Equal(c1, c2) {
			t.Fatalf("#%d Google→Pipedrive lost content (-google +pd):\n%s\ninput %+v", i, cmp.Diff(c1, c2, cmpContent), in)
		}
		if _, m := mapper.ApplyToGoogle(c2, g); m != "" {
			t.Fatalf("#%d echo to Google writes %q", i, m)
		}
		sent, mask := mapper.ApplyToGoogle(c2, nil)
		if c3 := mapper.FromGoogle(gApply(nil, sent, mask)); !Equal(c1, c3) {
			t.Fatalf("#%d Pipedrive→Google lost content:\n%s", i, cmp.Diff(c1, c3, cmpContent))
		}
		// An edit from Pipedrive (one more e-mail) onto the Google person
		// keeps every unsynced sub-field of the existing items.
		c4 := c2.Clone()
		c4.Emails = append(c4.Emails, Email(fmt.Sprintf("new%d@example.com", i), "home", false))
		c4 = Normalize(c4)
		sent, mask = mapper.ApplyToGoogle(c4, g)
		if mask != "emailAddresses" {
			t.Fatalf("#%d mask %q", i, mask)
		}
		g2 := gApply(g, sent, mask)
		if !Equal(mapper.FromGoogle(g2), c4) {
			t.Fatalf("#%d update lost content", i)
		}
		if len(g2.EmailAddresses) != len(g.EmailAddresses)+1 {
			t.Fatalf("#%d %d e-mails after adding one to %d", i, len(g2.EmailAddresses), len(g.EmailAddresses))
		}
		for j, e := range g.EmailAddresses {
			if e2 := g2.EmailAddresses[j]; e2.DisplayName != e.DisplayName || e2.Value != e.Value || e2.Type != e.Type {
				t.Fatalf("#%d e-mail %d changed: %+v → %+v", i, j, e, e2)
			}
		}
		if !cmp.Equal(g.Names, g2.Names) || !cmp.Equal(g.Addresses, g2.Addresses) || !cmp.Equal(g.PhoneNumbers, g2.PhoneNumbers) {
			t.Fatalf("#%d untouched fields changed", i)
		}
	}
}

func FuzzPhoneKey(f *testing.F) {
	for _, s := range []string{"030 1234567", "+1 (415) 555-0100", "+4930123 ext. 5", "*100#", "", "++", "0049", "tel:+4930123456", "١٢٣٤٥٦٧٨٩"} {
		f.Add(s, "DE")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		m := Mapper{DefaultRegion: region}
		k := m.PhoneKey(raw)
		if strings.TrimSpace(raw) != "" && k == "" {
			t.Fatalf("non-empty %q has no key", raw)
		}
		if k != m.PhoneKey(raw) {
			t.Fatal("not deterministic")
		}
		// the key of an E.164 key is itself (writing E.164 is no change)
		if IsE164Key(k) && !strings.Contains(k, ";") {
			if k2 := m.PhoneKey(k); k2 != k {
				t.Fatalf("%q → %q → %q", raw, k, k2)
			}
		}
	})
}

func FuzzEmailKey(f *testing.F) {
	for _, s := range []string{"Ada@Example.COM", " x@y ", "mailto:A@B", "", "ß@straße.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		k := EmailKey(raw)
		if EmailKey(k) != k && !strings.HasPrefix(strings.TrimSpace(k), "mailto:") {
			t.Fatalf("not idempotent: %q → %q → %q", raw, k, EmailKey(k))
		}
		if EmailKey(strings.ToUpper(raw)) != EmailKey(strings.ToLower(raw)) && strings.ToLower(strings.ToUpper(raw)) == strings.ToLower(raw) {
			t.Fatalf("case matters for %q", raw)
		}
	})
}

// FuzzPipedriveAddress: any address and name Pipedrive returns maps to a
// contact that survives Pipedrive → Google → Pipedrive unchanged.
func FuzzPipedriveAddress(f *testing.F) {
	f.Add("Hauptstr. 5, Berlin", "Hauptstr.", "5", "Berlin", "10115", "Germany", "Mitte", "Ada Lovelace")
	f.Add("", "", "", "", "", "", "Mitte", "")
	f.Add("  ", "5", "Main St", "", "", "", "", "Cher")
	f.Fuzz(func(t *testing.T, value, route, number, city, zip, country, subloc, name string) {
		p := &pipedrive.Person{Name: name, HasContactSyncFields: true, PostalAddress: &pipedrive.Address{
			Value: value, Route: route, StreetNumber: number, Locality: city, PostalCode: zip, Country: country, Sublocality: subloc}}
		c1 := mapper.FromPipedrive(p, "")
		if !Equal(c1, Normalize(c1)) {
			t.Fatal("not normalized")
		}
		sent, mask := mapper.ApplyToGoogle(c1, nil)
		c2 := mapper.FromGoogle(gApply(nil, sent, mask))
		if !Equal(c1, c2) {
			t.Fatalf("Pipedrive→Google:\n%s", cmp.Diff(c1, c2))
		}
		in, want := mapper.ToPipedriveInput(c2, nil, "")
		var org string
		// Pipedrive needs a name: one derived for a contact without one is
		// recorded and reads back as no name
		back := mapper.FromPipedrive(pdApply(nil, in, want, map[string]int64{}, &org), org)
		if c3 := AlignPipedrive(UnderiveName(back, DerivedName(c2, back)), c2); !Equal(c1, c3) {
			t.Fatalf("Google→Pipedrive:\n%s", cmp.Diff(c1, c3))
		}
	})
}
