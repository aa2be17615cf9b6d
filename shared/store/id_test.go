package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/store/storetest"
)

// malformedIDs are ids no document of ours has; Firestore refuses some of
// them with an error of its own, and one with "/" names another document.
var malformedIDs = []string{"", "a//b", "a/b", "ID/secrets/webhook", "__x__", "____", "__", ".", "..", "a b", "a\x00b",
	"é", "a.b", strings.Repeat("a", 129), "%2F", "../x"}

func TestValidID(t *testing.T) {
	for _, id := range []string{store.NewID(), "c1", "_x", "x__", "__x", "a-b_c", "AbCdEf0123456789-_AbCdEf0123456789-_AbCdEf0"} {
		if !store.ValidID(id) {
			t.Errorf("ValidID(%q) = false", id)
		}
	}
	for _, id := range malformedIDs {
		if store.ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}

// TestMalformedIDsNeverReachFirestore: a malformed id is unknown, answered
// without a read.
func TestMalformedIDsNeverReachFirestore(t *testing.T) {
	s, n := storetest.Counting(t)
	ctx := context.Background()
	for _, id := range malformedIDs {
		if _, err := s.GetConnection(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetConnection(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := s.UpdateConnection(ctx, id, func(*store.Connection) error { return nil }); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UpdateConnection(%q) = %v, want ErrNotFound", id, err)
		}
		if _, err := s.ConsumeState(ctx, id, "session", time.Now()); !errors.Is(err, store.ErrStateUsed) {
			t.Errorf("ConsumeState(%q) = %v, want ErrStateUsed", id, err)
		}
	}
	if n.Reads() != 0 || n.Writes() != 0 || len(n.Names()) != 0 {
		t.Errorf("%d reads, %d writes for malformed ids: %q", n.Reads(), n.Writes(), n.Names())
	}
	// The counter sees what a well-formed id asks for.
	id := store.NewID()
	if _, err := s.GetConnection(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if names := n.Names(); len(names) != 1 || !strings.HasPrefix(names[0], "get projects/") || !strings.HasSuffix(names[0], "/documents/connections/"+id) {
		t.Errorf("names %q", names)
	}
}
