// Package emulatortest gives tests clients on the Firestore and Pub/Sub
// emulators that scripts/test starts, each test in its own random project so
// tests never see each other's data.
//
// Outside scripts/test (no *_EMULATOR_HOST set) the tests that need an
// emulator are skipped, except when CONTACTSYNC_REQUIRE_EMULATORS=1 (set by
// scripts/test and CI), where a missing emulator fails them: CI can never
// pass by skipping.
package emulatortest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/pubsub/v2"

	"github.com/contactsync/contactsync/shared/emulator"
)

// Require checks that kind's emulator is reachable, skipping or failing t.
func Require(t testing.TB, kind emulator.Kind) string {
	t.Helper()
	host := os.Getenv(kind.EnvVar())
	if host == "" {
		if os.Getenv("CONTACTSYNC_REQUIRE_EMULATORS") == "1" {
			t.Fatalf("%s is not set: run the tests with scripts/test, which starts the emulators", kind.EnvVar())
		}
		t.Skipf("%s not set; run scripts/test to include emulator tests", kind.EnvVar())
	}
	return host
}

// Project returns a fresh random project id.
func Project() string { return fmt.Sprintf("test-%016x", rand.Uint64()) }

// Firestore returns a client for a fresh project on the Firestore emulator.
func Firestore(t testing.TB) (*firestore.Client, string) {
	t.Helper()
	Require(t, emulator.Firestore)
	project := Project()
	c, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		t.Fatalf("firestore client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, project
}

// PubSub returns a client for a fresh project on the Pub/Sub emulator.
func PubSub(t testing.TB) (*pubsub.Client, string) {
	t.Helper()
	Require(t, emulator.PubSub)
	project := Project()
	c, err := pubsub.NewClient(context.Background(), project)
	if err != nil {
		t.Fatalf("pubsub client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, project
}
