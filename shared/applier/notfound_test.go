package applier_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
)

// Issue 10, observation 7: a Pipedrive 404 for the person a change is
// about used to be "permanent" and the change was skipped until the
// contact's next edit. Through the real applier, store and fakes: Ada is
// synced, something happens, Pipedrive answers 404 for her, and the change
// still ends as what the user did: a delete applied per the policy when
// she is really gone, the change applied when she is there after all.
// Every delivery is acknowledged with nothing held and nothing skipped.
func TestPipedrive404(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy string
		// happen is what the user and Pipedrive do once Ada is synced,
		// and the deliveries of the changes it makes.
		happen func(e *env, pid, rn string)
		check  func(t *testing.T, e *env, pid, rn string)
	}{
		{
			name:   "edited, then deleted before the edit's webhook was applied, the delete's webhook lost (propagate)",
			happen: editedThenDeleted,
			check: func(t *testing.T, e *env, pid, rn string) {
				if _, ok := e.gContact(rn); ok {
					t.Error("the Google contact of the deleted person is still there")
				}
				if l, ok := e.link(pd, pid); ok {
					t.Errorf("link %+v kept", l)
				}
			},
		},
		{
			name: "edited, then deleted before the edit's webhook was applied, the delete's webhook lost (unlink)", policy: "unlink",
			happen: editedThenDeleted,
			check: func(t *testing.T, e *env, pid, rn string) {
				if gp, ok := e.gContact(rn); !ok || e.m.FromGoogle(gp).Family != "Lovelace" {
					t.Errorf("the Google contact was not left as it was: %v", ok)
				}
				if l, ok := e.link(pd, pid); ok {
					t.Errorf("link %+v kept", l)
				}
			},
		},
		{
			name: "edited, then deleted before the edit's webhook was applied, the delete's webhook lost (ignore)", policy: "ignore",
			happen: editedThenDeleted,
			check: func(t *testing.T, e *env, pid, rn string) {
				if gp, ok := e.gContact(rn); !ok || e.m.FromGoogle(gp).Family != "Lovelace" {
					t.Errorf("the Google contact was not left as it was: %v", ok)
				}
				if _, ok := e.link(pd, pid); !ok {
					t.Error("the link was dropped")
				}
			},
		},
		{
			name: "deleted in Pipedrive right after the applier read her, while a Google edit was carried over",
			happen: func(e *env, pid, rn string) {
				e.gEditFamily(rn, "King")
				e.pdDeleteAfterRead(pid, 1)
				e.acked(gg, rn, queue.Upsert)
			},
			check: editBeatsDelete,
		},
		{
			name: "deleted in Pipedrive just before the applier's write (the PATCH answers 404)",
			happen: func(e *env, pid, rn string) {
				e.gEditFamily(rn, "King")
				e.pdDeleteAfterRead(pid, 2) // the read just before the write
				e.acked(gg, rn, queue.Upsert)
			},
			check: editBeatsDelete,
		},
		{
			name: "Pipedrive answers 404 once for her while her edit's webhook is applied",
			happen: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
				e.pd.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.Fault404, Method: http.MethodGet, Path: "/api/v2/persons/" + pid})
				e.acked(pd, pid, queue.Upsert)
			},
			check: samePair("Ada King"),
		},
		{
			name: "Pipedrive answers 404 once for her while a Google edit is carried over",
			happen: func(e *env, pid, rn string) {
				e.gEditFamily(rn, "King")
				e.pd.FailNext(1, pipedrivefake.Fault{Kind: pipedrivefake.Fault404, Method: http.MethodGet, Path: "/api/v2/persons/" + pid})
				e.acked(gg, rn, queue.Upsert)
			},
			check: samePair("Ada King"),
		},
		{
			name: "Pipedrive answers 404 for a while, then shows her again: synced again, once",
			happen: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
				e.pd.FailNext(1000, pipedrivefake.Fault{Kind: pipedrivefake.Fault404, Method: http.MethodGet, Path: "/api/v2/persons/" + pid})
				e.acked(pd, pid, queue.Upsert)
				e.pd.ClearFaults()
				e.acked(pd, pid, queue.Upsert) // her next webhook, or the safety net's listing
			},
			check: func(t *testing.T, e *env, pid, rn string) {
				if per, ok := e.pdPerson(pid); !ok || per.Name != "Ada King" || len(e.pdLive()) != 1 {
					t.Errorf("Pipedrive: %+v, live %v, %d persons; want Ada King alone, untouched", per, ok, len(e.pdLive()))
				}
				members := e.gMembers()
				l, ok := e.link(pd, pid)
				if len(members) != 1 || !ok || l.GoogleID != members[0] {
					t.Fatalf("group members %v, link %+v: want one contact, linked to her", members, l)
				}
				if gp, _ := e.gContact(members[0]); e.m.FromGoogle(gp).Family != "King" {
					t.Errorf("Google: %q, want the edit", e.m.FromGoogle(gp).DisplayName())
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{policy: tc.policy})
			pid, rn := e.ada()
			tc.happen(e, pid, rn)
			e.pAfter.Store(nil)
			if h := e.held(""); len(h) != 0 {
				t.Errorf("held %+v, want none: the 404 decided the change", h)
			}
			if errs := e.connection().LastErrors; len(errs) != 0 {
				t.Errorf("errors recorded: %+v", errs)
			}
			tc.check(t, e, pid, rn)
		})
	}
}

// editedThenDeleted: the user edits Ada in Pipedrive and deletes her
// before the edit's webhook is applied (the delete's own webhook is lost:
// the edit's change alone must apply it).
func editedThenDeleted(e *env, pid, _ string) {
	e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
	e.pdDelete(pid)
	e.acked(pd, pid, queue.Upsert)
}

// acked delivers a change and fails the test unless it is acknowledged: a
// 404 is not a reason for Pub/Sub to deliver it again.
func (e *env) acked(side queue.Side, id string, kind queue.Kind) {
	e.t.Helper()
	if err := e.deliver(side, id, kind); err != nil {
		e.t.Fatalf("%s %s %s: %v", side, id, kind, err)
	}
}

func (e *env) gEditFamily(rn, family string) {
	e.t.Helper()
	if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) { p.Names[0].FamilyName = family }); err != nil {
		e.t.Fatal(err)
	}
}

// pdDeleteAfterRead deletes the person in Pipedrive right after the
// applier's n-th read of her has been answered.
func (e *env) pdDeleteAfterRead(pid string, n int32) {
	var reads atomic.Int32
	after := func(r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/persons/"+pid) && reads.Add(1) == n {
			e.pdDelete(pid)
		}
	}
	e.pAfter.Store(&after)
}

// editBeatsDelete: the Google edit made while the person was deleted
// re-creates her in Pipedrive, paired with the same contact (SPEC 4).
func editBeatsDelete(t *testing.T, e *env, pid, rn string) {
	t.Helper()
	if _, ok := e.pdPerson(pid); ok {
		t.Fatal("the deleted person is live again")
	}
	l, ok := e.link(gg, rn)
	if !ok || l.PipedriveID == pid {
		t.Fatalf("link %+v: want the contact paired with a new person", l)
	}
	live := e.pdLive()
	if len(live) != 1 || live[0].Name != "Ada King" || l.PipedriveID != strconv.FormatInt(live[0].ID, 10) {
		t.Fatalf("Pipedrive holds %+v, want Ada King re-created and linked", live)
	}
	if h := l.History[len(l.History)-1]; !strings.Contains(h.Detail, "edit beats delete") {
		t.Errorf("history %q does not say why she came back", h.Detail)
	}
	if !slices.Contains(e.gMembers(), rn) {
		t.Error("the contact left the group")
	}
}

// samePair: the edit reached the other side and the pair is the one it
// was, the same person and the same contact, with no copy on either side.
func samePair(name string) func(t *testing.T, e *env, pid, rn string) {
	return func(t *testing.T, e *env, pid, rn string) {
		t.Helper()
		if live := e.pdLive(); len(live) != 1 || strconv.FormatInt(live[0].ID, 10) != pid || live[0].Name != name {
			t.Errorf("Pipedrive holds %+v, want person %s alone, named %q", live, pid, name)
		}
		if m := e.gMembers(); !slices.Equal(m, []string{rn}) {
			t.Fatalf("group members %v, want her contact %s alone", m, rn)
		}
		if gp, _ := e.gContact(rn); e.m.FromGoogle(gp).DisplayName() != name {
			t.Errorf("Google contact named %q, want %q", e.m.FromGoogle(gp).DisplayName(), name)
		}
		if l, ok := e.link(pd, pid); !ok || l.GoogleID != rn {
			t.Errorf("link %+v, want %s paired with %s", l, pid, rn)
		}
	}
}
