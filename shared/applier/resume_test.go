package applier_test

import (
	"strconv"
	"testing"
	"time"

	people "google.golang.org/api/people/v1"

	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/queue"
)

// TestStoppedUpdateResumes: a run stops (a crash) between an update it
// wrote and its link commit, and the user edits before the retry. The
// retry must end where the user's edits lead: the run's own write is not
// taken for the user's (syncplan.Planned). Before plans were kept, the
// first and third rows brought the removed phone back and the second
// created the deleted person again from its Google contact.
func TestStoppedUpdateResumes(t *testing.T) {
	const extra = "030 7654321"
	tests := []struct {
		name string
		// edit is the change the run applies; after runs between the stop
		// and the retry (may be nil)
		edit, after func(e *env, pid, rn string)
		stopAt      applier.Step
		kind        queue.Kind
		// check looks at both sides after the retry
		check func(e *env, pid, rn string)
	}{
		{
			name: "phone added in Pipedrive, written to Google, then removed in Pipedrive",
			edit: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Phones: phones("030 1234567", extra)})
			},
			stopAt: applier.StepRemoteWritten,
			after: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Phones: phones("030 1234567")})
			},
			kind:  queue.Upsert,
			check: func(e *env, pid, rn string) { wantPhones(e, pid, rn, 1) },
		},
		{
			name: "name changed in Pipedrive, written to Google, then the person deleted",
			edit: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Name: ptr("Ada King")})
			},
			stopAt: applier.StepRemoteWritten,
			after: func(e *env, pid, rn string) {
				n, _ := strconv.ParseInt(pid, 10, 64)
				if err := e.pd.UIDeletePerson(e.user, n); err != nil {
					e.t.Fatal(err)
				}
			},
			kind: queue.Delete,
			check: func(e *env, pid, rn string) {
				if live := e.pdLive(); len(live) != 0 {
					e.t.Errorf("Pipedrive persons %d: the deleted person came back", len(live))
				}
				if _, ok := e.gContact(rn); ok {
					e.t.Errorf("the Google contact of the deleted person is still there")
				}
			},
		},
		{
			name: "phone added in Pipedrive and a rename in Google, Google written, then the phone removed in Pipedrive",
			edit: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Phones: phones("030 1234567", extra)})
				if _, err := e.g.EditContact(googlefake.DemoUser, rn, func(p *people.Person) {
					p.Names[0].FamilyName = "King"
				}); err != nil {
					e.t.Fatal(err)
				}
			},
			stopAt: applier.StepRemoteWritten,
			after: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Phones: phones("030 1234567")})
			},
			kind: queue.Upsert,
			check: func(e *env, pid, rn string) {
				wantPhones(e, pid, rn, 1)
				if p, _ := e.pdPerson(pid); p.Name != "Ada King" {
					e.t.Errorf("Pipedrive name %q, want Google's rename", p.Name)
				}
			},
		},
		{
			name: "stopped with the plan stored, before any write",
			edit: func(e *env, pid, rn string) {
				e.pdEdit(pid, pipedrive.PersonInput{Phones: phones("030 1234567", extra)})
			},
			stopAt: applier.StepPlanStored,
			kind:   queue.Upsert,
			check:  func(e *env, pid, rn string) { wantPhones(e, pid, rn, 2) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			pid, rn := e.ada()
			e.advance(time.Minute)
			tt.edit(e, pid, rn)
			e.crashAt(tt.stopAt)
			if err := e.deliver(pd, pid, queue.Upsert); err == nil {
				t.Fatal("the stopped run returned nil")
			}
			if l := mustLink(e, pid); len(l.Planned) == 0 {
				t.Fatal("no plan on the link after the stop")
			}
			e.advance(time.Minute)
			if tt.after != nil {
				tt.after(e, pid, rn)
			}
			e.apply(pd, pid, tt.kind)
			e.apply(gg, rn, queue.Upsert) // the Google poll sees the run's write too
			tt.check(e, pid, rn)
			if l, ok := e.link(pd, pid); ok && len(l.Planned) != 0 {
				t.Errorf("the commit left the plan on the link")
			}
		})
	}
}

func wantPhones(e *env, pid, rn string, n int) {
	e.t.Helper()
	p, _ := e.pdPerson(pid)
	g, ok := e.gContact(rn)
	if !ok {
		e.t.Fatal("the Google contact is gone")
	}
	if len(p.Phones) != n || len(g.PhoneNumbers) != n {
		e.t.Errorf("phones: Pipedrive %d, Google %d, want %d on both", len(p.Phones), len(g.PhoneNumbers), n)
	}
}
